//! An async HTTP/2 client on the h2kit core (under construction).
