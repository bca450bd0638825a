//! h2kit-frame (under construction).
