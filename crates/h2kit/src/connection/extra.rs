//! `http` crate helpers: commands taking `http::Request` / `http::Response`, and conversions
//! of received fields into them.

use bytes::Bytes;
use h2kit_frame::StreamId;

use super::Connection;
use crate::error::UsageError;
use crate::headers::{Field, HeaderError};

impl Connection {
    /// (Client) [`send_request`](Self::send_request) from an `http::Request` (its body is
    /// not sent: use [`send_data`](Self::send_data)). The scheme defaults to `https` and the
    /// path to `/`; header values marked sensitive are never indexed by HPACK.
    pub fn send_http_request<B>(
        &mut self,
        request: &http::Request<B>,
        end_stream: bool,
    ) -> Result<StreamId, UsageError> {
        let uri = request.uri();
        let method = request.method();
        let mut fields = Vec::with_capacity(request.headers().len() + 4);
        fields.push(Field::new(
            ":method",
            Bytes::copy_from_slice(method.as_str().as_bytes()),
        ));
        if method != http::Method::CONNECT {
            let scheme = uri.scheme_str().unwrap_or("https");
            fields.push(Field::new(
                ":scheme",
                Bytes::copy_from_slice(scheme.as_bytes()),
            ));
            let path = uri.path_and_query().map_or("/", |p| p.as_str());
            let path = if path.is_empty() { "/" } else { path };
            fields.push(Field::new(":path", Bytes::copy_from_slice(path.as_bytes())));
        }
        if let Some(authority) = uri.authority() {
            fields.push(Field::new(
                ":authority",
                Bytes::copy_from_slice(authority.as_str().as_bytes()),
            ));
        }
        push_http_headers(&mut fields, request.headers());
        self.send_request(fields, end_stream)
    }

    /// (Server) [`send_response`](Self::send_response) from an `http::Response` (its body is
    /// not sent).
    pub fn send_http_response<B>(
        &mut self,
        id: StreamId,
        response: &http::Response<B>,
        end_stream: bool,
    ) -> Result<(), UsageError> {
        let mut fields = Vec::with_capacity(response.headers().len() + 1);
        fields.push(Field::new(
            ":status",
            Bytes::copy_from_slice(response.status().as_str().as_bytes()),
        ));
        push_http_headers(&mut fields, response.headers());
        self.send_response(id, fields, end_stream)
    }
}

fn push_http_headers(fields: &mut Vec<Field>, headers: &http::HeaderMap) {
    for (name, value) in headers {
        let name = Bytes::copy_from_slice(name.as_str().as_bytes());
        let v = Bytes::copy_from_slice(value.as_bytes());
        fields.push(if value.is_sensitive() {
            Field::sensitive(name, v)
        } else {
            Field::new(name, v)
        });
    }
}

/// Builds an `http::Request` (without body) from received request fields.
pub fn request_from_fields(fields: &[Field]) -> Result<http::Request<()>, HeaderError> {
    let mut builder = http::Request::builder();
    let (mut scheme, mut authority, mut path) = (None, None, None);
    for f in fields {
        match f.name.as_ref() {
            b":method" => {
                let m =
                    http::Method::from_bytes(&f.value).map_err(|_| HeaderError::MissingMethod)?;
                builder = builder.method(m);
            }
            b":scheme" => scheme = Some(&f.value),
            b":authority" => authority = Some(&f.value),
            b":path" => path = Some(&f.value),
            b":protocol" => {}
            name => {
                let name =
                    http::HeaderName::from_bytes(name).map_err(|_| HeaderError::InvalidNameChar)?;
                let value = http::HeaderValue::from_maybe_shared(f.value.clone())
                    .map_err(|_| HeaderError::InvalidValueChar)?;
                builder = builder.header(name, value);
            }
        }
    }
    let mut uri = http::Uri::builder();
    if let Some(s) = scheme {
        uri = uri.scheme(s.as_ref());
    }
    if let Some(a) = authority {
        uri = uri.authority(a.as_ref());
    }
    if let Some(p) = path {
        uri = uri.path_and_query(p.as_ref());
    }
    let uri = uri.build().map_err(|_| HeaderError::InvalidPath)?;
    builder
        .uri(uri)
        .body(())
        .map_err(|_| HeaderError::InvalidPath)
}

/// Builds an `http::Response` (without body) from received response fields.
pub fn response_from_fields(fields: &[Field]) -> Result<http::Response<()>, HeaderError> {
    let mut builder = http::Response::builder();
    for f in fields {
        match f.name.as_ref() {
            b":status" => {
                let s = http::StatusCode::from_bytes(&f.value)
                    .map_err(|_| HeaderError::InvalidStatus)?;
                builder = builder.status(s);
            }
            name if name.first() == Some(&b':') => return Err(HeaderError::UnknownPseudo),
            name => {
                let name =
                    http::HeaderName::from_bytes(name).map_err(|_| HeaderError::InvalidNameChar)?;
                let value = http::HeaderValue::from_maybe_shared(f.value.clone())
                    .map_err(|_| HeaderError::InvalidValueChar)?;
                builder = builder.header(name, value);
            }
        }
    }
    builder.body(()).map_err(|_| HeaderError::InvalidStatus)
}
