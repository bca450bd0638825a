//! Conversions between the types of the [`http` crate](https://docs.rs/http) and header [`Field`]s, both ways:
//! the one implementation behind [`Connection::send_http_request`],
//! [`Connection::send_http_response`], [`request_from_fields`], [`response_from_fields`] and
//! the `h2kit-client` and `h2kit-server` drivers.
//!
//! # Sending: `http` to fields
//!
//! * [`request_fields`]: a request head as HEADERS fields, pseudo-headers first. An [`Origin`]
//!   completes a URI without scheme or authority, and holds the connection's `:authority`
//!   value, made once and shared by every request naming that authority.
//! * [`response_fields`], [`extend_response_fields`]: `:status` and the header fields.
//! * [`trailer_fields`], [`extend_header_fields`]: regular fields only.
//!
//! An `http` head may carry fields from HTTP/1.1 that HTTP/2 forbids: the
//! [connection-specific](crate::headers::CONNECTION_SPECIFIC) ones and a `te` other than
//! `trailers` are left out (RFC 9113 §8.2.2). Values marked sensitive become never-indexed
//! fields. The method, scheme, status, `/`, common header names and a few common values are
//! static bytes; other names and values are copied once (the `http` types do not hand out
//! their bytes).
//!
//! # Receiving: fields to `http`
//!
//! * [`request_parts`], [`response_parts`], [`header_map`]: heads and trailers, with a
//!   [`HeadCache`] per connection: a [`NameCache`] of the header names seen and an
//!   [`AuthorityCache`] of the last `:authority`. Values, `:path` and `:authority` share the
//!   decoded field bytes, without copies; common header names are matched exactly to the
//!   `http::header` constants; each header map is sized once.
//! * [`request_from_fields`], [`response_from_fields`]: the same for one message, without a
//!   cache.
//!
//! A field `http` cannot represent is a [`HeaderError`]: the core validates received fields
//! first, so this happens only with validation switched off (and for control characters that
//! validation lets through but `http::HeaderValue` refuses).
//!
//! # Example
//!
//! ```
//! use h2kit::http::{HeadCache, Origin, request_fields, request_parts};
//! use http::uri::Scheme;
//!
//! // Sending: the connection's origin completes the URI.
//! let origin = Origin::new(Scheme::HTTPS, Some("example.com".parse()?));
//! let request = http::Request::get("/index.html")
//!     .header("accept", "text/html")
//!     .header("connection", "keep-alive") // HTTP/1.1 only: left out
//!     .body(())?;
//! let fields = request_fields(&request, &origin);
//! let names: Vec<&[u8]> = fields.iter().map(|f| &f.name[..]).collect();
//! assert_eq!(names, [&b":method"[..], b":scheme", b":path", b":authority", b"accept"]);
//!
//! // Receiving: the cache lives as long as the connection.
//! let mut cache = HeadCache::default();
//! let parts = request_parts(&fields, &mut cache)?;
//! assert_eq!(parts.method, http::Method::GET);
//! assert_eq!(parts.uri, "https://example.com/index.html");
//! assert_eq!(parts.headers["accept"], "text/html");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use ::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use ::http::uri::{self, Authority, PathAndQuery, Scheme};
use ::http::{Method, Request, Response, StatusCode, Uri, request, response};
use bytes::{Bytes, BytesMut};
use h2kit_frame::StreamId;

use crate::connection::Connection;
use crate::error::UsageError;
use crate::headers::{Field, HeaderError, is_hop_by_hop, is_token};

// ---------------------------------------------------------------- sending

/// The origin a connection's requests go to: the scheme and authority that complete a
/// request URI without them (`https` and none by default), and the authority's `:authority`
/// value, made once and shared (not copied) by every request naming the same authority.
#[derive(Clone, Debug)]
pub struct Origin {
    scheme: Scheme,
    authority: AuthorityCache,
}

impl Default for Origin {
    /// `https`, no authority.
    fn default() -> Self {
        Origin {
            scheme: Scheme::HTTPS,
            authority: AuthorityCache::default(),
        }
    }
}

impl Origin {
    /// An origin of `scheme` and `authority` (its field value is made here, once).
    pub fn new(scheme: Scheme, authority: Option<Authority>) -> Self {
        Origin {
            scheme,
            authority: authority.map(AuthorityCache::from).unwrap_or_default(),
        }
    }

    /// The scheme of a request URI that has none.
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// The authority of a request URI that has none.
    pub fn authority(&self) -> Option<&Authority> {
        self.authority.authority()
    }
}

/// The `:protocol` of an extended CONNECT (RFC 8441 §4), e.g. `websocket`, as an `http`
/// request extension: [`request_parts`] puts it in the extensions of a request that carried
/// `:protocol`, and [`request_fields`] sends it with a CONNECT request that has it.
///
/// Its value is an HTTP token (RFC 9110 §5.6.2), compared case-sensitively.
///
/// ```
/// use h2kit::http::Protocol;
/// let ws = Protocol::from_static("websocket");
/// assert_eq!(ws.as_str(), "websocket");
/// assert_eq!(ws, "websocket");
/// assert!(Protocol::try_from("not a token").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Protocol(Bytes);

impl Protocol {
    /// A protocol from a static token.
    ///
    /// # Panics
    ///
    /// When `token` is not an HTTP token (a programming error: use [`TryFrom`] for values
    /// from elsewhere).
    pub fn from_static(token: &'static str) -> Self {
        assert!(
            is_token(token.as_bytes()),
            "Protocol::from_static: {token:?} is not a token"
        );
        Protocol(Bytes::from_static(token.as_bytes()))
    }

    /// A protocol from received bytes, shared without a copy;
    /// [`InvalidProtocol`](HeaderError::InvalidProtocol) when they are not a token.
    pub fn from_shared(value: Bytes) -> Result<Self, HeaderError> {
        if is_token(&value) {
            Ok(Protocol(value))
        } else {
            Err(HeaderError::InvalidProtocol)
        }
    }

    /// The token.
    pub fn as_str(&self) -> &str {
        // A token is ASCII (checked when made), so this never fails.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The token's bytes, as sent in `:protocol`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl TryFrom<&str> for Protocol {
    type Error = HeaderError;

    /// [`InvalidProtocol`](HeaderError::InvalidProtocol) unless `value` is a token.
    fn try_from(value: &str) -> Result<Self, HeaderError> {
        Protocol::from_shared(Bytes::copy_from_slice(value.as_bytes()))
    }
}

impl core::str::FromStr for Protocol {
    type Err = HeaderError;

    fn from_str(s: &str) -> Result<Self, HeaderError> {
        Protocol::try_from(s)
    }
}

impl PartialEq<str> for Protocol {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Protocol {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl core::fmt::Debug for Protocol {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl core::fmt::Display for Protocol {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The least capacity of a request's field list: a typical response's field count.
const RECYCLED_LIST: usize = 8;

/// The HEADERS fields of a request head: `:method`, then (except for CONNECT) `:scheme` and
/// `:path`, then `:authority` when there is one, then the header fields.
///
/// A CONNECT request with a [`Protocol`] extension is an extended CONNECT (RFC 8441 §4): its
/// `:protocol` follows `:method`, and it has `:scheme` and `:path` like other requests. The
/// extension is ignored on other methods.
///
/// The scheme and authority missing from the URI come from `origin`; the path defaults to
/// `/`. Fields HTTP/2 forbids are left out and sensitive values are never indexed (see the
/// [module](self) overview).
#[inline] // Hot: the client's one call site builds every request's fields.
pub fn request_fields<B>(request: &Request<B>, origin: &Origin) -> Vec<Field> {
    let uri = request.uri();
    let method = request.method();
    // Room for a typical response's fields too: once the request is written the connection
    // keeps the list for the next block it decodes (see `Connection::recycle_fields`).
    let mut fields = Vec::with_capacity((request.headers().len() + 5).max(RECYCLED_LIST));
    fields.push(Field::new(":method", method_value(method)));
    let protocol = if method == Method::CONNECT {
        request.extensions().get::<Protocol>()
    } else {
        None
    };
    if let Some(protocol) = protocol {
        fields.push(Field::new(":protocol", protocol.0.clone()));
    }
    if method != Method::CONNECT || protocol.is_some() {
        let scheme = uri.scheme().unwrap_or(&origin.scheme);
        fields.push(Field::new(":scheme", scheme_value(scheme)));
        fields.push(Field::new(":path", path_value(uri.path_and_query())));
    }
    if let Some(authority) = uri.authority().or(origin.authority()) {
        fields.push(Field::new(":authority", origin.authority.value(authority)));
    }
    extend_header_fields(&mut fields, request.headers());
    fields
}

/// The HEADERS fields of a response head: `:status`, then the header fields.
pub fn response_fields<B>(response: &Response<B>) -> Vec<Field> {
    let mut fields = Vec::new();
    extend_response_fields(&mut fields, response.status(), response.headers());
    fields
}

/// Appends the fields of a response head (`:status`, then `headers`) to `fields`, growing it
/// once. For a driver that reuses a field list.
#[inline]
pub fn extend_response_fields(fields: &mut Vec<Field>, status: StatusCode, headers: &HeaderMap) {
    fields.reserve(headers.len() + 1);
    fields.push(Field::new(":status", status_value(status)));
    extend_header_fields(fields, headers);
}

/// The fields of a trailer section.
pub fn trailer_fields(headers: &HeaderMap) -> Vec<Field> {
    let mut fields = Vec::with_capacity(headers.len());
    extend_header_fields(&mut fields, headers);
    fields
}

/// Appends `headers` to `fields` as regular fields, in the map's order, leaving out those
/// HTTP/2 forbids (connection-specific fields, `te` other than `trailers`); sensitive values
/// become never-indexed fields.
#[inline]
pub fn extend_header_fields(fields: &mut Vec<Field>, headers: &HeaderMap) {
    if headers.is_empty() {
        return;
    }
    // The names and values that are not static text are copied into one buffer, which the
    // fields then share: one allocation (and its shared header) per head instead of one per
    // value.
    let copied: usize = headers
        .iter()
        .map(
            |(name, value)| match common_text(name.as_str().as_bytes()) {
                Some(common) if common.value(value.as_bytes()).is_some() => 0,
                Some(_) => value.len(),
                None => name.as_str().len() + value.len(),
            },
        )
        .sum();
    let mut store = BytesMut::with_capacity(copied);
    let mut copy = |bytes: &[u8]| {
        store.extend_from_slice(bytes);
        store.split().freeze()
    };
    for (name, value) in headers {
        let name = name.as_str().as_bytes();
        if is_hop_by_hop(name, value.as_bytes()) {
            continue;
        }
        let (n, v) = match common_text(name) {
            Some(common) => (
                Bytes::from_static(common.name.as_bytes()),
                match common.value(value.as_bytes()) {
                    Some(v) => Bytes::from_static(v.as_bytes()),
                    None => copy(value.as_bytes()),
                },
            ),
            None => (copy(name), copy(value.as_bytes())),
        };
        fields.push(if value.is_sensitive() {
            Field::sensitive(n, v)
        } else {
            Field::new(n, v)
        });
    }
}

/// The `:method` value: static for the methods `http` names.
#[inline]
fn method_value(method: &Method) -> Bytes {
    let s: &'static str = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::PATCH => "PATCH",
        Method::TRACE => "TRACE",
        _ => return Bytes::copy_from_slice(method.as_str().as_bytes()),
    };
    Bytes::from_static(s.as_bytes())
}

/// The `:scheme` value: static for `http` and `https`.
#[inline]
fn scheme_value(scheme: &Scheme) -> Bytes {
    match scheme.as_str() {
        "https" => Bytes::from_static(b"https"),
        "http" => Bytes::from_static(b"http"),
        other => Bytes::copy_from_slice(other.as_bytes()),
    }
}

/// The `:path` value: `/` (static) when the URI has no path.
#[inline]
fn path_value(path: Option<&PathAndQuery>) -> Bytes {
    match path.map_or("/", PathAndQuery::as_str) {
        "" | "/" => Bytes::from_static(b"/"),
        p => Bytes::copy_from_slice(p.as_bytes()),
    }
}

/// The three digits of every status `http` allows (100 to 999), for static `:status` values.
static STATUS_DIGITS: [u8; 2700] = {
    let mut t = [0u8; 2700];
    let mut i = 0;
    while i < 900 {
        let code = i + 100;
        t[3 * i] = b'0' + (code / 100) as u8;
        t[3 * i + 1] = b'0' + (code / 10 % 10) as u8;
        t[3 * i + 2] = b'0' + (code % 10) as u8;
        i += 1;
    }
    t
};

/// The `:status` value, always static.
#[inline]
fn status_value(status: StatusCode) -> Bytes {
    let digits = usize::from(status.as_u16())
        .checked_sub(100)
        .and_then(|i| STATUS_DIGITS.get(3 * i..3 * i + 3));
    match digits {
        Some(d) => Bytes::from_static(d),
        None => Bytes::copy_from_slice(status.as_str().as_bytes()),
    }
}

// ---------------------------------------------------------------- common names

/// A common header name as static text, with values common enough to send as static bytes.
struct Common {
    name: &'static str,
    values: &'static [&'static str],
}

impl Common {
    fn value(&self, value: &[u8]) -> Option<&'static str> {
        self.values.iter().copied().find(|v| v.as_bytes() == value)
    }
}

/// Defines, from one list of common names grouped by length, the two exact (lowercase)
/// matches: a dispatch on the length, then a comparison or a few. Names not on the list go
/// through [`HeaderName::from_bytes`], which checks and maps every octet first, or are copied.
macro_rules! common_names {
    ($($len:literal => [$($text:literal => $header:ident $([$($value:literal),+])?),+]),+ $(,)?) => {
        /// The `http::header` constant of a common name (receiving).
        #[inline]
        fn common_header(name: &[u8]) -> Option<HeaderName> {
            match name.len() {
                $($len => {
                    $(if name == $text.as_bytes() {
                        return Some(header::$header);
                    })+
                    None
                })+
                _ => None,
            }
        }

        /// The static text and common values of a common name (sending).
        #[inline]
        fn common_text(name: &[u8]) -> Option<Common> {
            match name.len() {
                $($len => {
                    $(if name == $text.as_bytes() {
                        return Some(Common { name: $text, values: &[$($($value),+)?] });
                    })+
                    None
                })+
                _ => None,
            }
        }

        /// Every common name with its constant (for tests).
        #[cfg(test)]
        const COMMON_NAMES: &[(&str, HeaderName)] = &[$($(($text, header::$header)),+),+];
    };
}

common_names! {
    2 => ["te" => TE ["trailers"]],
    3 => ["age" => AGE, "via" => VIA],
    4 => ["date" => DATE, "etag" => ETAG, "host" => HOST, "vary" => VARY],
    5 => ["allow" => ALLOW, "range" => RANGE],
    6 => [
        "accept" => ACCEPT ["*/*"],
        "cookie" => COOKIE,
        "server" => SERVER,
        "origin" => ORIGIN,
        "pragma" => PRAGMA
    ],
    7 => ["alt-svc" => ALT_SVC, "expires" => EXPIRES, "referer" => REFERER],
    8 => ["location" => LOCATION, "if-match" => IF_MATCH, "if-range" => IF_RANGE],
    10 => ["set-cookie" => SET_COOKIE, "user-agent" => USER_AGENT],
    12 => [
        "content-type" => CONTENT_TYPE [
            "text/plain; charset=utf-8",
            "text/html; charset=utf-8",
            "application/json",
            "text/plain",
            "text/html"
        ]
    ],
    13 => [
        "last-modified" => LAST_MODIFIED,
        "cache-control" => CACHE_CONTROL,
        "accept-ranges" => ACCEPT_RANGES,
        "authorization" => AUTHORIZATION,
        "if-none-match" => IF_NONE_MATCH
    ],
    14 => ["content-length" => CONTENT_LENGTH, "accept-charset" => ACCEPT_CHARSET],
    15 => [
        "accept-encoding" => ACCEPT_ENCODING ["gzip, deflate, br", "gzip, deflate", "gzip"],
        "accept-language" => ACCEPT_LANGUAGE
    ],
    16 => [
        "content-encoding" => CONTENT_ENCODING,
        "content-language" => CONTENT_LANGUAGE,
        "content-location" => CONTENT_LOCATION
    ],
    17 => ["if-modified-since" => IF_MODIFIED_SINCE],
    19 => ["content-disposition" => CONTENT_DISPOSITION],
    22 => ["x-content-type-options" => X_CONTENT_TYPE_OPTIONS],
    25 => ["strict-transport-security" => STRICT_TRANSPORT_SECURITY],
    27 => ["access-control-allow-origin" => ACCESS_CONTROL_ALLOW_ORIGIN],
}

// ---------------------------------------------------------------- receiving

/// Slots of a [`NameCache`].
const NAME_SLOTS: usize = 32;
/// Names longer than this are not kept in a [`NameCache`].
const NAME_MAX: usize = 64;

/// Header names parsed on one connection, in a small direct-mapped table (32 slots): the
/// messages of a connection repeat the same names, and a hit costs one comparison instead of
/// a parse (and, for a name `http` does not know, an allocation). Common names are matched
/// exactly to the `http::header` constants first and take no slot.
#[derive(Clone, Debug)]
pub struct NameCache {
    slots: [Option<HeaderName>; NAME_SLOTS],
}

impl Default for NameCache {
    fn default() -> Self {
        NameCache {
            slots: std::array::from_fn(|_| None),
        }
    }
}

impl NameCache {
    /// The slot of a name: from its length and its first and last octets.
    fn slot(name: &[u8]) -> Option<usize> {
        let (&first, &last) = (name.first()?, name.last()?);
        Some((name.len() * 7 + usize::from(first) * 3 + usize::from(last)) % NAME_SLOTS)
    }

    /// `name` as an `http::HeaderName`, as [`HeaderName::from_bytes`] makes it (uppercase
    /// letters are lowered); a name it refuses is [`HeaderError::EmptyName`] or
    /// [`HeaderError::InvalidNameChar`].
    #[inline]
    pub fn parse(&mut self, name: &[u8]) -> Result<HeaderName, HeaderError> {
        // Cheaper than a hit (no `as_str` of a standard name, no clone), and it keeps the
        // slots for the other names.
        match common_header(name) {
            Some(common) => Ok(common),
            None => self.parse_other(name),
        }
    }

    /// [`parse`](Self::parse) of a name that is not common: through the slot.
    fn parse_other(&mut self, name: &[u8]) -> Result<HeaderName, HeaderError> {
        let entry = Self::slot(name)
            .and_then(|i| self.slots.get_mut(i))
            .ok_or(HeaderError::EmptyName)?;
        if let Some(cached) = entry {
            if cached.as_str().as_bytes() == name {
                return Ok(cached.clone());
            }
        }
        let parsed = HeaderName::from_bytes(name).map_err(|_| HeaderError::InvalidNameChar)?;
        if name.len() <= NAME_MAX {
            *entry = Some(parsed.clone());
        }
        Ok(parsed)
    }
}

/// The last authority of a connection with its field value: requests on one connection
/// nearly always name the same one. On receive, [`parse`](Self::parse) reuses the parsed
/// `:authority` when the bytes are equal; on send, [`value`](Self::value) reuses the field
/// value (an [`Origin`] holds one).
#[derive(Clone, Debug, Default)]
pub struct AuthorityCache {
    last: Option<(Bytes, Authority)>,
}

impl From<Authority> for AuthorityCache {
    /// A cache holding `authority` and its field value (copied here, once).
    fn from(authority: Authority) -> Self {
        let value = Bytes::copy_from_slice(authority.as_str().as_bytes());
        AuthorityCache {
            last: Some((value, authority)),
        }
    }
}

impl AuthorityCache {
    /// The cached authority.
    pub fn authority(&self) -> Option<&Authority> {
        self.last.as_ref().map(|(_, a)| a)
    }

    /// `value` parsed as an authority, sharing its bytes; the cached one when the bytes are
    /// equal, else it replaces the cached one. An empty value is
    /// [`HeaderError::EmptyAuthority`], another invalid one [`HeaderError::InvalidAuthority`]
    /// (the cache is then left as it was).
    #[inline]
    pub fn parse(&mut self, value: &Bytes) -> Result<Authority, HeaderError> {
        if let Some((bytes, authority)) = &self.last {
            if bytes == value {
                return Ok(authority.clone());
            }
        }
        if value.is_empty() {
            return Err(HeaderError::EmptyAuthority);
        }
        let authority = Authority::from_maybe_shared(value.clone())
            .map_err(|_| HeaderError::InvalidAuthority)?;
        self.last = Some((value.clone(), authority.clone()));
        Ok(authority)
    }

    /// The field value of `authority`: the cached bytes when it is the cached authority
    /// (octet for octet), else a copy.
    #[inline]
    pub fn value(&self, authority: &Authority) -> Bytes {
        match &self.last {
            Some((bytes, cached)) if cached.as_str() == authority.as_str() => bytes.clone(),
            _ => Bytes::copy_from_slice(authority.as_str().as_bytes()),
        }
    }
}

/// What one connection remembers of the heads it received, to convert the next ones faster:
/// keep one per connection and pass it to [`request_parts`], [`response_parts`] and
/// [`header_map`].
#[derive(Clone, Debug, Default)]
pub struct HeadCache {
    /// The header names seen.
    pub names: NameCache,
    /// The last `:authority`.
    pub authority: AuthorityCache,
    /// The last response head kept by [`keep_response`](Self::keep_response).
    response: Option<Box<KeptResponse>>,
    /// The last [`response_parts`] was a copy of the kept head.
    copied: bool,
}

/// A response head and the fields it was made from (see [`HeadCache::keep_response`]).
#[derive(Clone, Debug)]
struct KeptResponse {
    fields: Vec<Field>,
    status: StatusCode,
    headers: HeaderMap,
}

impl HeadCache {
    /// Keeps the response head `parts` made from `fields` (its status and header fields):
    /// [`response_parts`] of fields that share `fields`' bytes
    /// ([`same_bytes`](crate::headers::same_bytes)) then copies it, a `HeaderMap::clone`
    /// instead of parsing every name and checking every value again (and sizing a new map).
    ///
    /// Call it just after [`response_parts`] made `parts` from `fields`: when that was a
    /// copy of the kept head, there is nothing to keep and nothing is compared.
    ///
    /// For fields that pin no input buffer: the receive memo's
    /// ([`Connection::is_repeated_block`]), which a server answering one resource again and
    /// again hands out for every head from the third on. The cache holds clones of them, so
    /// their bytes are not freed (and their addresses not reused) while it compares them.
    ///
    /// ```
    /// use h2kit::Field;
    /// use h2kit::http::{HeadCache, response_parts};
    /// let fields = vec![Field::new(":status", "200"), Field::new("etag", "\"a\"")];
    /// let mut cache = HeadCache::default();
    /// let parts = response_parts(&fields, &mut cache)?;
    /// cache.keep_response(&fields, &parts);
    /// let again = response_parts(&fields.clone(), &mut cache)?; // a copy of `parts`
    /// assert_eq!(again.headers, parts.headers);
    /// # Ok::<(), h2kit::HeaderError>(())
    /// ```
    pub fn keep_response(&mut self, fields: &[Field], parts: &response::Parts) {
        if self.copied {
            // `parts` is the copy of the kept head that the last `response_parts` made,
            // which compared the fields then (a caller keeping other fields just after a
            // copy keeps nothing: the next head with them is made afresh).
            return;
        }
        if let Some(kept) = self.response.as_deref() {
            if crate::headers::same_bytes(&kept.fields, fields) {
                return; // Kept already.
            }
        }
        let kept = self.response.get_or_insert_with(|| {
            Box::new(KeptResponse {
                fields: Vec::new(),
                status: StatusCode::OK,
                headers: HeaderMap::new(),
            })
        });
        kept.fields.clear();
        kept.fields.extend_from_slice(fields);
        kept.status = parts.status;
        kept.headers.clone_from(&parts.headers);
    }

    /// Forgets the response head [`keep_response`](Self::keep_response) kept (and the bytes
    /// its fields hold).
    pub fn forget_response(&mut self) {
        self.response = None;
        self.copied = false;
    }
}

/// Sizes an empty header map once for the regular (not pseudo-header) fields; not at all
/// (no allocation) when there are none.
#[inline]
fn reserve_regular(headers: &mut HeaderMap, fields: &[Field]) {
    let regular = fields
        .iter()
        .filter(|f| f.name.first() != Some(&b':'))
        .count();
    if regular > 0 {
        headers.reserve(regular);
    }
}

/// Appends a regular field to a header map: its name through the cache, its value sharing
/// the field's bytes.
#[inline]
fn append_field(
    headers: &mut HeaderMap,
    names: &mut NameCache,
    field: &Field,
) -> Result<(), HeaderError> {
    let name = names.parse(&field.name)?;
    let value = HeaderValue::from_maybe_shared(field.value.clone())
        .map_err(|_| HeaderError::InvalidValueChar)?;
    headers.append(name, value);
    Ok(())
}

/// A request head from received request fields, sharing the field bytes (values, `:path`,
/// `:authority`; no copies) and sizing the header map once (not at all when there are no
/// regular fields). `:protocol` (extended CONNECT, RFC 8441) becomes a [`Protocol`]
/// extension; without `:authority` the `host` field gives the authority.
///
/// Errors: [`MissingMethod`](HeaderError::MissingMethod),
/// [`InvalidMethod`](HeaderError::InvalidMethod), [`InvalidScheme`](HeaderError::InvalidScheme),
/// [`InvalidAuthority`](HeaderError::InvalidAuthority) /
/// [`EmptyAuthority`](HeaderError::EmptyAuthority), [`InvalidPath`](HeaderError::InvalidPath),
/// [`MissingScheme`](HeaderError::MissingScheme), [`MissingAuthority`](HeaderError::MissingAuthority),
/// [`MissingPath`](HeaderError::MissingPath) (a URI `http` cannot build),
/// [`InvalidProtocol`](HeaderError::InvalidProtocol) (a `:protocol` that is not a token),
/// [`UnknownPseudo`](HeaderError::UnknownPseudo), and those of [`NameCache::parse`] and
/// [`InvalidValueChar`](HeaderError::InvalidValueChar) for the header fields.
#[inline] // Hot: one call site per driver, where it is built in place.
pub fn request_parts(
    fields: &[Field],
    cache: &mut HeadCache,
) -> Result<request::Parts, HeaderError> {
    let (mut parts, ()) = Request::new(()).into_parts();
    reserve_regular(&mut parts.headers, fields);
    let mut method = None;
    let mut uri = uri::Parts::default();
    let mut host = None;
    for f in fields {
        match f.name.as_ref() {
            b":method" => {
                method =
                    Some(Method::from_bytes(&f.value).map_err(|_| HeaderError::InvalidMethod)?);
            }
            b":scheme" => {
                uri.scheme = Some(
                    Scheme::try_from(f.value.as_ref()).map_err(|_| HeaderError::InvalidScheme)?,
                );
            }
            b":authority" => uri.authority = Some(cache.authority.parse(&f.value)?),
            b":path" => {
                uri.path_and_query = Some(
                    PathAndQuery::from_maybe_shared(f.value.clone())
                        .map_err(|_| HeaderError::InvalidPath)?,
                );
            }
            b":protocol" => {
                let protocol = Protocol::from_shared(f.value.clone())?;
                parts.extensions.insert(protocol);
            }
            name if name.first() == Some(&b':') => return Err(HeaderError::UnknownPseudo),
            name => {
                if host.is_none() && name.eq_ignore_ascii_case(b"host") {
                    host = Some(&f.value);
                }
                append_field(&mut parts.headers, &mut cache.names, f)?;
            }
        }
    }
    parts.method = method.ok_or(HeaderError::MissingMethod)?;
    if uri.authority.is_none() {
        if let Some(host) = host {
            uri.authority = Some(cache.authority.parse(host)?);
        }
    }
    parts.uri = uri_from_parts(uri)?;
    Ok(parts)
}

/// A URI from its parts, naming the part `http` misses.
#[inline]
fn uri_from_parts(parts: uri::Parts) -> Result<Uri, HeaderError> {
    if parts.scheme.is_some() {
        if parts.authority.is_none() {
            return Err(HeaderError::MissingAuthority);
        }
        if parts.path_and_query.is_none() {
            return Err(HeaderError::MissingPath);
        }
    } else if parts.authority.is_some() && parts.path_and_query.is_some() {
        return Err(HeaderError::MissingScheme);
    }
    Uri::from_parts(parts).map_err(|_| HeaderError::InvalidPath)
}

/// A response head from received response fields, sharing the value bytes and sizing the
/// header map once; a copy of the head `cache` kept when the fields are the ones it was
/// made from (see [`HeadCache::keep_response`]).
///
/// Errors: [`MissingStatus`](HeaderError::MissingStatus),
/// [`InvalidStatus`](HeaderError::InvalidStatus), [`UnknownPseudo`](HeaderError::UnknownPseudo),
/// and those of [`NameCache::parse`] and [`InvalidValueChar`](HeaderError::InvalidValueChar)
/// for the header fields.
#[inline] // Hot: one call site per driver, where it is built in place.
pub fn response_parts(
    fields: &[Field],
    cache: &mut HeadCache,
) -> Result<response::Parts, HeaderError> {
    let (mut parts, ()) = Response::new(()).into_parts();
    cache.copied = false;
    if let Some(kept) = cache.response.as_deref() {
        if crate::headers::same_bytes(&kept.fields, fields) {
            parts.status = kept.status;
            parts.headers = kept.headers.clone();
            cache.copied = true;
            return Ok(parts);
        }
    }
    reserve_regular(&mut parts.headers, fields);
    let mut status = None;
    for f in fields {
        match f.name.as_ref() {
            b":status" => {
                status =
                    Some(StatusCode::from_bytes(&f.value).map_err(|_| HeaderError::InvalidStatus)?);
            }
            name if name.first() == Some(&b':') => return Err(HeaderError::UnknownPseudo),
            _ => append_field(&mut parts.headers, &mut cache.names, f)?,
        }
    }
    parts.status = status.ok_or(HeaderError::MissingStatus)?;
    Ok(parts)
}

/// A trailer section as a header map, sharing the value bytes. A pseudo-header field is
/// [`PseudoInTrailers`](HeaderError::PseudoInTrailers); other errors are those of
/// [`NameCache::parse`] and [`InvalidValueChar`](HeaderError::InvalidValueChar).
pub fn header_map(fields: &[Field], cache: &mut HeadCache) -> Result<HeaderMap, HeaderError> {
    let mut map = HeaderMap::with_capacity(fields.len());
    for f in fields {
        if f.name.first() == Some(&b':') {
            return Err(HeaderError::PseudoInTrailers);
        }
        append_field(&mut map, &mut cache.names, f)?;
    }
    Ok(map)
}

/// Builds an `http::Request` (without body) from received request fields: [`request_parts`]
/// without a cache kept.
pub fn request_from_fields(fields: &[Field]) -> Result<Request<()>, HeaderError> {
    let parts = request_parts(fields, &mut HeadCache::default())?;
    Ok(Request::from_parts(parts, ()))
}

/// Builds an `http::Response` (without body) from received response fields:
/// [`response_parts`] without a cache kept.
pub fn response_from_fields(fields: &[Field]) -> Result<Response<()>, HeaderError> {
    let parts = response_parts(fields, &mut HeadCache::default())?;
    Ok(Response::from_parts(parts, ()))
}

// ---------------------------------------------------------------- connection helpers

impl Connection {
    /// (Client) [`send_request`](Self::send_request) from an `http::Request` (its body is
    /// not sent: use [`send_data`](Self::send_data)), converted by [`request_fields`]: the
    /// scheme defaults to `https` and the path to `/`; fields HTTP/2 forbids are left out and
    /// header values marked sensitive are never indexed by HPACK.
    pub fn send_http_request<B>(
        &mut self,
        request: &Request<B>,
        end_stream: bool,
    ) -> Result<StreamId, UsageError> {
        self.send_request(request_fields(request, &Origin::default()), end_stream)
    }

    /// (Server) [`send_response`](Self::send_response) from an `http::Response` (its body is
    /// not sent), converted by [`response_fields`].
    pub fn send_http_response<B>(
        &mut self,
        id: StreamId,
        response: &Response<B>,
        end_stream: bool,
    ) -> Result<(), UsageError> {
        self.send_response(id, response_fields(response), end_stream)
    }
}

#[cfg(test)]
mod tests;
