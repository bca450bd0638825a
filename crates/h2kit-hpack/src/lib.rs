//! h2kit-hpack (under construction).
