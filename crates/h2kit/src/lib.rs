//! h2kit (under construction).
