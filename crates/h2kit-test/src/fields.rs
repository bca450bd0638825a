//! Header lists for a `Connection`'s commands (`send_request`, `send_response`,
//! `push_promise`, …): the same fields [`frames::headers`](crate::frames::headers)'
//! `request` and `response` put in a frame, as a `Vec` the connection API takes.
//!
//! ```
//! use h2kit_test::fields;
//!
//! let request = fields::get("/index.html");
//! assert!(fields::has(&request, ":path", "/index.html"));
//! assert!(fields::has(&request, ":authority", fields::DEFAULT_AUTHORITY));
//! assert_eq!(fields::status(204)[0].value, "204");
//! ```

use bytes::Bytes;
use h2kit_hpack::HeaderField;

pub use crate::frames::{DEFAULT_AUTHORITY, DEFAULT_SCHEME};

/// The request pseudo-header fields `:method`, `:scheme` ([`DEFAULT_SCHEME`]), `:path` and
/// `:authority` ([`DEFAULT_AUTHORITY`]), in that order.
pub fn request(method: &str, path: &str) -> Vec<HeaderField> {
    [
        (":method", method),
        (":scheme", DEFAULT_SCHEME),
        (":path", path),
        (":authority", DEFAULT_AUTHORITY),
    ]
    .into_iter()
    .map(|(name, value)| HeaderField::new(name, Bytes::copy_from_slice(value.as_bytes())))
    .collect()
}

/// [`request`] with `GET`.
pub fn get(path: &str) -> Vec<HeaderField> {
    request("GET", path)
}

/// [`request`] with `POST`.
pub fn post(path: &str) -> Vec<HeaderField> {
    request("POST", path)
}

/// A response header list: `:status` alone.
pub fn status(code: u16) -> Vec<HeaderField> {
    vec![HeaderField::new(":status", Bytes::from(code.to_string()))]
}

/// Whether `list` holds a field with this name and value.
pub fn has(list: &[HeaderField], name: &str, value: &str) -> bool {
    list.iter()
        .any(|f| f.name == name.as_bytes() && f.value == value.as_bytes())
}
