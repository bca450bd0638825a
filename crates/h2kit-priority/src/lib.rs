//! h2kit-priority (under construction).
