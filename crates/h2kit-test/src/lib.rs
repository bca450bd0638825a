//! Test support for h2kit (under construction).
