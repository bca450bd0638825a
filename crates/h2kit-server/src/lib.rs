//! An async HTTP/2 server on the h2kit core (under construction).
