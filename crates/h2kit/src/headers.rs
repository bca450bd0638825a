//! Field section validation (RFC 9113 §8.2, §8.3; RFC 8441 §4) and cookie joining (§8.2.3).
//!
//! Validation runs on an ordered list of `(name, value)` byte fields, on send before anything
//! touches the HPACK encoder, and on receive after the block is decoded (so HPACK state stays in
//! sync even when the message turns out malformed). Each check can be switched off in
//! [`HeaderValidation`], as python h2's `validate_*_headers` / `normalize_*_headers` options can.

use core::fmt;

use bytes::{Bytes, BytesMut};

/// One header field: name, value and HPACK representation (re-exported from `h2kit-hpack`, so
/// decoded fields reach events without conversion and sensitive fields stay never-indexed).
pub use h2kit_hpack::HeaderField as Field;

/// A field list to send: a vector of the caller's (given back to the connection's spare
/// lists once encoded, see [`Connection::recycle_fields`](crate::Connection::recycle_fields)),
/// or a list shared by many messages, such as the head a static file server made once for a
/// file and sends with every response for it: sending it clones no field.
///
/// `Vec<Field>` and `Arc<[Field]>` convert into it, so
/// [`Connection::send_response`](crate::Connection::send_response) and
/// [`Connection::send_request`](crate::Connection::send_request) take either.
///
/// ```
/// use std::sync::Arc;
/// use h2kit::{Field, FieldList};
///
/// let head: Arc<[Field]> = vec![Field::new(":status", "200")].into();
/// let list = FieldList::from(head.clone());
/// assert_eq!(&list[..], &head[..]);
/// ```
#[derive(Clone, Debug)]
pub enum FieldList {
    /// A list of the caller's own.
    Owned(Vec<Field>),
    /// A list shared with other messages.
    Shared(std::sync::Arc<[Field]>),
}

impl core::ops::Deref for FieldList {
    type Target = [Field];

    #[inline]
    fn deref(&self) -> &[Field] {
        match self {
            FieldList::Owned(v) => v,
            FieldList::Shared(a) => a,
        }
    }
}

impl FieldList {
    /// The fields as a list of one's own (a shared list is copied).
    pub fn into_owned(self) -> Vec<Field> {
        match self {
            FieldList::Owned(v) => v,
            FieldList::Shared(a) => a.to_vec(),
        }
    }
}

/// Lists are equal when their fields are, shared or not.
impl PartialEq for FieldList {
    fn eq(&self, other: &FieldList) -> bool {
        self[..] == other[..]
    }
}

impl Eq for FieldList {}

impl From<Vec<Field>> for FieldList {
    #[inline]
    fn from(fields: Vec<Field>) -> Self {
        FieldList::Owned(fields)
    }
}

impl From<std::sync::Arc<[Field]>> for FieldList {
    #[inline]
    fn from(fields: std::sync::Arc<[Field]>) -> Self {
        FieldList::Shared(fields)
    }
}

/// Whether two field lists share every name's and value's bytes (the same addresses and
/// lengths) and representation: clones of one list, such as the fields the receive memo
/// hands out for a head that came again ([`Connection::is_repeated_block`]). Comparing
/// addresses is sound only while one of the lists is held: its bytes cannot be freed and
/// their addresses reused meanwhile.
///
/// [`Connection::is_repeated_block`]: crate::Connection::is_repeated_block
///
/// ```
/// use h2kit::Field;
/// use h2kit::headers::same_bytes;
/// let head = vec![Field::new(":status", "200"), Field::new("etag", "\"a\"")];
/// assert!(same_bytes(&head, &head.clone()));
/// let copy: Vec<Field> = head
///     .iter()
///     .map(|f| Field::new(f.name.to_vec(), f.value.to_vec()))
///     .collect();
/// assert!(!same_bytes(&head, &copy)); // equal octets elsewhere
/// ```
#[inline]
pub fn same_bytes(a: &[Field], b: &[Field]) -> bool {
    let shares = |x: &Bytes, y: &Bytes| x.as_ptr() == y.as_ptr() && x.len() == y.len();
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.repr == y.repr && shares(&x.name, &y.name) && shares(&x.value, &y.value)
        })
}

/// Which kind of field section is being validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// Request headers (§8.3.1).
    Request,
    /// The request in a PUSH_PROMISE (§8.4): also must be safe and cacheable.
    PromisedRequest,
    /// Response headers, informational (1xx) or final (§8.3.2).
    Response,
    /// A trailer section (§8.1): no pseudo-header fields.
    Trailers,
}

/// Switches for each validation check. [`HeaderValidation::default`] enables all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HeaderValidation {
    /// Field names must not contain uppercase letters (§8.2.1).
    pub lowercase_names: bool,
    /// Names and values must not contain forbidden characters; values must not start or end
    /// with whitespace; names must not be empty (§8.2.1).
    pub field_characters: bool,
    /// No connection-specific fields ([`CONNECTION_SPECIFIC`]: `connection`, `keep-alive`,
    /// `proxy-connection`, `transfer-encoding`, `upgrade`) (§8.2.2).
    pub connection_specific: bool,
    /// `te` may only be `trailers` (§8.2.2).
    pub te_trailers_only: bool,
    /// Pseudo-header fields come before regular ones, each at most once (§8.3).
    pub pseudo_order: bool,
    /// Required pseudo-headers present, those of the other role (and unknown ones) absent,
    /// and their values well-formed (§8.3.1, §8.3.2, §8.5, RFC 8441 §4).
    pub pseudo_required: bool,
    /// No pseudo-header fields in trailers (§8.1).
    pub no_pseudo_in_trailers: bool,
    /// `:authority` or `host` present for http(s), not empty, and equal when both are (§8.3.1).
    pub authority_host: bool,
    /// `content-length` parses as a number; repeated values must be equal (RFC 9110 §8.6).
    /// The connection then checks it against the DATA received (§8.1.1).
    pub content_length: bool,
    /// On receive, join several `cookie` fields into one with `"; "` (§8.2.3).
    pub join_cookies: bool,
}

impl HeaderValidation {
    /// Every check on.
    pub const STRICT: Self = HeaderValidation {
        lowercase_names: true,
        field_characters: true,
        connection_specific: true,
        te_trailers_only: true,
        pseudo_order: true,
        pseudo_required: true,
        no_pseudo_in_trailers: true,
        authority_host: true,
        content_length: true,
        join_cookies: true,
    };

    /// Every check off (for testing peers; the connection still needs `:status` to tell
    /// informational responses from final ones).
    pub const NONE: Self = HeaderValidation {
        lowercase_names: false,
        field_characters: false,
        connection_specific: false,
        te_trailers_only: false,
        pseudo_order: false,
        pseudo_required: false,
        no_pseudo_in_trailers: false,
        authority_host: false,
        content_length: false,
        join_cookies: false,
    };
}

impl Default for HeaderValidation {
    fn default() -> Self {
        Self::STRICT
    }
}

/// Why a field section is malformed.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeaderError {
    /// A field name is empty.
    EmptyName,
    /// A field name contains an uppercase letter (§8.2.1).
    UppercaseName,
    /// A field name contains a control, space, non-ASCII or (outside pseudo-headers) colon
    /// character (§8.2.1).
    InvalidNameChar,
    /// A field value contains NUL, CR or LF (§8.2.1). The [`http`](crate::http) conversions
    /// also report any other control character but tab, which `http::HeaderValue` refuses.
    InvalidValueChar,
    /// A field value starts or ends with a space or tab (§8.2.1).
    ValueWhitespace,
    /// A connection-specific field is present (§8.2.2).
    ConnectionSpecific,
    /// `te` has a value other than `trailers` (§8.2.2).
    TeNotTrailers,
    /// A pseudo-header field follows a regular field (§8.3).
    PseudoAfterRegular,
    /// A pseudo-header field appears twice (§8.3).
    DuplicatePseudo,
    /// An undefined pseudo-header field, or one of the other role (§8.3).
    UnknownPseudo,
    /// A pseudo-header field in trailers (§8.1).
    PseudoInTrailers,
    /// `:method` is missing (§8.3.1).
    MissingMethod,
    /// `:scheme` is missing (§8.3.1).
    MissingScheme,
    /// `:path` is missing (§8.3.1).
    MissingPath,
    /// `:path` is empty, or neither starts with `/` nor is `*` for http(s) (§8.3.1).
    InvalidPath,
    /// `:status` is missing (§8.3.2).
    MissingStatus,
    /// `:status` is not three digits in 100..=599.
    InvalidStatus,
    /// `:status` is 101, which HTTP/2 does not use (§8.6).
    SwitchingProtocols,
    /// Neither `:authority` nor `host` is present where required, or CONNECT lacks
    /// `:authority` (§8.3.1, §8.5).
    MissingAuthority,
    /// `:authority` or `host` is empty (§8.3.1).
    EmptyAuthority,
    /// `:authority` and `host` differ (§8.3.1).
    AuthorityHostMismatch,
    /// `host` appears more than once.
    DuplicateHost,
    /// A plain CONNECT carries `:scheme` or `:path` (§8.5).
    ConnectWithSchemeOrPath,
    /// `:protocol` on a request that is not CONNECT (RFC 8441 §4).
    ProtocolWithoutConnect,
    /// `:protocol` although SETTINGS_ENABLE_CONNECT_PROTOCOL is off (RFC 8441 §4).
    ExtendedConnectDisabled,
    /// `:protocol` is empty or not a token (RFC 8441 §4: a protocol name from the HTTP
    /// Upgrade Token Registry, RFC 9110 §7.8).
    InvalidProtocol,
    /// `content-length` does not parse as a non-negative integer.
    InvalidContentLength,
    /// Several `content-length` values that differ.
    ConflictingContentLength,
    /// A promised request with a method that is not safe and cacheable (GET, HEAD) (§8.4).
    UnsafePromisedMethod,
    /// `:method` is not a method token (from the [`http`](crate::http) conversions).
    InvalidMethod,
    /// `:scheme` is not a valid scheme (from the [`http`](crate::http) conversions).
    InvalidScheme,
    /// `:authority` (or `host` standing in for it) is not a valid authority (from the
    /// [`http`](crate::http) conversions).
    InvalidAuthority,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use HeaderError as H;
        f.write_str(match self {
            H::EmptyName => "empty field name",
            H::UppercaseName => "uppercase character in field name",
            H::InvalidNameChar => "invalid character in field name",
            H::InvalidValueChar => "NUL, CR or LF in field value",
            H::ValueWhitespace => "field value starts or ends with whitespace",
            H::ConnectionSpecific => "connection-specific field",
            H::TeNotTrailers => "te other than \"trailers\"",
            H::PseudoAfterRegular => "pseudo-header after a regular field",
            H::DuplicatePseudo => "duplicate pseudo-header",
            H::UnknownPseudo => "undefined or misplaced pseudo-header",
            H::PseudoInTrailers => "pseudo-header in trailers",
            H::MissingMethod => "missing :method",
            H::MissingScheme => "missing :scheme",
            H::MissingPath => "missing :path",
            H::InvalidPath => "invalid :path",
            H::MissingStatus => "missing :status",
            H::InvalidStatus => "invalid :status",
            H::SwitchingProtocols => ":status 101 is not allowed in HTTP/2",
            H::MissingAuthority => "missing :authority (or host)",
            H::EmptyAuthority => "empty :authority or host",
            H::AuthorityHostMismatch => ":authority and host differ",
            H::DuplicateHost => "more than one host field",
            H::ConnectWithSchemeOrPath => "CONNECT with :scheme or :path",
            H::ProtocolWithoutConnect => ":protocol on a request that is not CONNECT",
            H::ExtendedConnectDisabled => ":protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL",
            H::InvalidProtocol => ":protocol is not a token",
            H::InvalidContentLength => "invalid content-length",
            H::ConflictingContentLength => "conflicting content-length values",
            H::UnsafePromisedMethod => "promised request method is not safe and cacheable",
            H::InvalidMethod => "invalid :method",
            H::InvalidScheme => "invalid :scheme",
            H::InvalidAuthority => "invalid :authority (or host)",
        })
    }
}

impl core::error::Error for HeaderError {}

/// What validation learned about a message; the connection uses it for framing checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MessageInfo {
    /// The `:status` of a response, if present and valid.
    pub status: Option<u16>,
    /// The request method is HEAD (its response has no body whatever `content-length` says).
    pub is_head: bool,
    /// The request method is CONNECT (plain or extended).
    pub is_connect: bool,
    /// The request carries `:protocol` (extended CONNECT, RFC 8441).
    pub is_extended_connect: bool,
    /// The parsed `content-length`, when present and the check is on.
    pub content_length: Option<u64>,
    /// The SETTINGS_MAX_HEADER_LIST_SIZE size of the section (sum of name + value + 32).
    pub list_size: u64,
}

impl MessageInfo {
    /// Whether this is an informational (1xx) response.
    pub fn is_informational(&self) -> bool {
        matches!(self.status, Some(100..=199))
    }
}

fn eq_name(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Whether `field` is a `cookie` field (the ones [`join_cookies`] joins).
pub(crate) fn is_cookie(field: &Field) -> bool {
    eq_name(&field.name, b"cookie")
}

/// Name byte class bit: forbidden in a regular field name (§8.2.1): 0x00-0x20, 0x7f-0xff, `:`.
const NAME_INVALID: u8 = 1;
/// Name byte class bit: an ASCII uppercase letter (§8.2.1, its own switch).
const NAME_UPPER: u8 = 2;

/// Class bits of every byte in a regular field name.
const NAME_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if b <= 0x20 || b >= 0x7f || b == b':' {
            NAME_INVALID
        } else if b.is_ascii_uppercase() {
            NAME_UPPER
        } else {
            0
        };
        i += 1;
    }
    t
};

/// Bytes forbidden anywhere in a field value (§8.2.1): NUL, CR, LF.
const VALUE_INVALID: [bool; 256] = {
    let mut t = [false; 256];
    t[0] = true;
    t[b'\r' as usize] = true;
    t[b'\n' as usize] = true;
    t
};

/// The union of [`NAME_CLASS`] bits over a name, in one pass without early exit.
#[inline]
fn name_class(name: &[u8]) -> u8 {
    name.iter().fold(0, |acc, &b| acc | NAME_CLASS[b as usize])
}

/// Whether `value` holds NUL, CR or LF, eight bytes at a time.
///
/// For each word, `has_zero(w ^ splat(c))` is non-zero exactly when some byte equals `c` (the
/// classic "has zero byte" test may misreport which byte, never whether there is one).
#[inline]
fn value_has_invalid(value: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const CR: u64 = u64::from_ne_bytes([b'\r'; 8]);
    const LF: u64 = u64::from_ne_bytes([b'\n'; 8]);
    #[inline]
    fn has_zero(w: u64) -> u64 {
        w.wrapping_sub(ONES) & !w & HIGHS
    }
    #[inline]
    fn word_bad(chunk: &[u8]) -> u64 {
        match <[u8; 8]>::try_from(chunk) {
            Ok(bytes) => {
                let w = u64::from_ne_bytes(bytes);
                has_zero(w) | has_zero(w ^ CR) | has_zero(w ^ LF)
            }
            Err(_) => 0,
        }
    }
    if value.len() < 8 {
        return value
            .iter()
            .fold(false, |bad, &b| bad | VALUE_INVALID[b as usize]);
    }
    // Whole words, then the last eight bytes (overlapping the last word) for the remainder.
    let found = value
        .chunks_exact(8)
        .fold(0, |found, chunk| found | word_bad(chunk));
    let last = value.get(value.len() - 8..).map_or(0, word_bad);
    found | last != 0
}

/// §8.2.1 on a field value.
#[inline]
fn check_value_chars(value: &[u8]) -> Result<(), HeaderError> {
    if value_has_invalid(value) {
        return Err(HeaderError::InvalidValueChar);
    }
    if matches!(value.first(), Some(b' ' | b'\t')) || matches!(value.last(), Some(b' ' | b'\t')) {
        return Err(HeaderError::ValueWhitespace);
    }
    Ok(())
}

/// Regular field names that validation treats specially.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Special {
    /// Any other name.
    None,
    /// One of [`CONNECTION_SPECIFIC`] (§8.2.2).
    ConnectionSpecific,
    /// `te`.
    Te,
    /// `host`.
    Host,
    /// `content-length`.
    ContentLength,
}

/// The connection-specific header fields, which HTTP/2 forbids (RFC 9113 §8.2.2): validation
/// refuses them ([`HeaderValidation::connection_specific`]) and the [`http`](crate::http)
/// conversions leave them out. `te` is not among them: it may be present with the value
/// `trailers` only ([`HeaderValidation::te_trailers_only`]).
pub const CONNECTION_SPECIFIC: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// Whether `name` is one of [`CONNECTION_SPECIFIC`], compared ASCII case-insensitively.
///
/// ```
/// use h2kit::headers::is_connection_specific;
/// assert!(is_connection_specific(b"Keep-Alive"));
/// assert!(!is_connection_specific(b"te"));
/// ```
pub fn is_connection_specific(name: &[u8]) -> bool {
    special_name(name, false) == Special::ConnectionSpecific
}

/// Whether a field an `http` head may carry has no place in an HTTP/2 message: a
/// connection-specific one, or `te` with a value other than `trailers` (§8.2.2). `name` must
/// be lowercase (as `http::HeaderName`s are).
pub(crate) fn is_hop_by_hop(name: &[u8], value: &[u8]) -> bool {
    match special_name(name, true) {
        Special::ConnectionSpecific => true,
        Special::Te => !value.eq_ignore_ascii_case(b"trailers"),
        _ => false,
    }
}

/// Classifies a regular field name, matching ASCII case-insensitively. `lowercase` must be true
/// only when `name` has no uppercase letter; exact comparison is then equivalent and cheaper.
/// Dispatches on the length so at most two comparisons run. Always inlined: validation's hot
/// loop calls it with `lowercase` known per field, and it has other callers.
#[inline(always)]
fn special_name(name: &[u8], lowercase: bool) -> Special {
    let is = |lit: &[u8]| {
        if lowercase {
            name == lit
        } else {
            name.eq_ignore_ascii_case(lit)
        }
    };
    let hit = match name.len() {
        2 => is(b"te").then_some(Special::Te),
        4 => is(b"host").then_some(Special::Host),
        7 => is(b"upgrade").then_some(Special::ConnectionSpecific),
        10 => (is(b"connection") || is(b"keep-alive")).then_some(Special::ConnectionSpecific),
        14 => is(b"content-length").then_some(Special::ContentLength),
        16 => is(b"proxy-connection").then_some(Special::ConnectionSpecific),
        17 => is(b"transfer-encoding").then_some(Special::ConnectionSpecific),
        _ => None,
    };
    hit.unwrap_or(Special::None)
}

/// Parses a `content-length` value: one number or a comma-separated list of equal numbers.
fn parse_content_length(value: &[u8]) -> Result<u64, HeaderError> {
    let mut result: Option<u64> = None;
    for part in value.split(|&b| b == b',') {
        let part = part.trim_ascii();
        if part.is_empty() || part.len() > 19 || !part.iter().all(u8::is_ascii_digit) {
            return Err(HeaderError::InvalidContentLength);
        }
        let n = part
            .iter()
            .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
        match result {
            Some(prev) if prev != n => return Err(HeaderError::ConflictingContentLength),
            _ => result = Some(n),
        }
    }
    result.ok_or(HeaderError::InvalidContentLength)
}

fn parse_status(value: &[u8]) -> Result<u16, HeaderError> {
    match value {
        [a, b, c] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            let n = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
            if (100..=599).contains(&n) {
                Ok(n)
            } else {
                Err(HeaderError::InvalidStatus)
            }
        }
        _ => Err(HeaderError::InvalidStatus),
    }
}

#[derive(Default)]
struct Pseudo<'a> {
    method: Option<&'a [u8]>,
    scheme: Option<&'a [u8]>,
    path: Option<&'a [u8]>,
    authority: Option<&'a [u8]>,
    protocol: Option<&'a [u8]>,
    status: Option<&'a [u8]>,
}

/// Validates a field section.
///
/// `fields` is the ordered list of `(name, value)` pairs; `extended_connect` says whether
/// `:protocol` is allowed (our SETTINGS_ENABLE_CONNECT_PROTOCOL on receive, the peer's on send).
///
/// ```
/// use h2kit::headers::{validate, HeaderValidation, MessageKind, HeaderError};
/// let ok: &[(&[u8], &[u8])] = &[
///     (b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/"),
///     (b":authority", b"example.com"),
/// ];
/// let info = validate(MessageKind::Request, ok.iter().copied(), &HeaderValidation::STRICT, false)?;
/// assert!(!info.is_connect);
/// let bad: &[(&[u8], &[u8])] = &[(b":status", b"200"), (b"Connection", b"close")];
/// assert_eq!(
///     validate(MessageKind::Response, bad.iter().copied(), &HeaderValidation::STRICT, false),
///     Err(HeaderError::UppercaseName)
/// );
/// # Ok::<(), HeaderError>(())
/// ```
pub fn validate<'a, I>(
    kind: MessageKind,
    fields: I,
    cfg: &HeaderValidation,
    extended_connect: bool,
) -> Result<MessageInfo, HeaderError>
where
    I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
{
    let is_request = matches!(kind, MessageKind::Request | MessageKind::PromisedRequest);
    let mut pseudo = Pseudo::default();
    let mut seen_regular = false;
    let mut host: Option<&[u8]> = None;
    let mut info = MessageInfo::default();

    for (name, value) in fields {
        info.list_size = info
            .list_size
            .saturating_add(name.len() as u64 + value.len() as u64 + 32);
        if name.is_empty() {
            if cfg.field_characters {
                return Err(HeaderError::EmptyName);
            }
            continue;
        }
        if cfg.field_characters {
            check_value_chars(value)?;
        }
        if let Some(rest) = name.strip_prefix(b":") {
            if kind == MessageKind::Trailers {
                if cfg.no_pseudo_in_trailers {
                    return Err(HeaderError::PseudoInTrailers);
                }
                continue;
            }
            if seen_regular && cfg.pseudo_order {
                return Err(HeaderError::PseudoAfterRegular);
            }
            let slot = match rest {
                b"method" if is_request => &mut pseudo.method,
                b"scheme" if is_request => &mut pseudo.scheme,
                b"path" if is_request => &mut pseudo.path,
                b"authority" if is_request => &mut pseudo.authority,
                b"protocol" if is_request => &mut pseudo.protocol,
                b"status" if !is_request => &mut pseudo.status,
                _ => {
                    if cfg.pseudo_required {
                        return Err(HeaderError::UnknownPseudo);
                    }
                    continue;
                }
            };
            if slot.is_some() {
                if cfg.pseudo_order {
                    return Err(HeaderError::DuplicatePseudo);
                }
                continue;
            }
            *slot = Some(value);
            continue;
        }

        seen_regular = true;
        let class = name_class(name);
        if cfg.lowercase_names && class & NAME_UPPER != 0 {
            return Err(HeaderError::UppercaseName);
        }
        if cfg.field_characters && class & NAME_INVALID != 0 {
            return Err(HeaderError::InvalidNameChar);
        }
        match special_name(name, class & NAME_UPPER == 0) {
            Special::None => {}
            Special::ConnectionSpecific => {
                if cfg.connection_specific {
                    return Err(HeaderError::ConnectionSpecific);
                }
            }
            Special::Te => {
                if cfg.te_trailers_only && !value.eq_ignore_ascii_case(b"trailers") {
                    return Err(HeaderError::TeNotTrailers);
                }
            }
            Special::Host => {
                if host.is_some() && cfg.authority_host {
                    return Err(HeaderError::DuplicateHost);
                }
                host = Some(value);
            }
            Special::ContentLength => {
                if cfg.content_length {
                    let n = parse_content_length(value)?;
                    match info.content_length {
                        Some(prev) if prev != n => {
                            return Err(HeaderError::ConflictingContentLength);
                        }
                        _ => info.content_length = Some(n),
                    }
                }
            }
        }
    }

    match kind {
        MessageKind::Request | MessageKind::PromisedRequest => {
            check_request(kind, &pseudo, host, cfg, extended_connect, &mut info)?
        }
        MessageKind::Response => match pseudo.status {
            Some(status) => match parse_status(status) {
                Ok(101) if cfg.pseudo_required => return Err(HeaderError::SwitchingProtocols),
                Ok(n) => info.status = Some(n),
                Err(e) if cfg.pseudo_required => return Err(e),
                Err(_) => {}
            },
            None if cfg.pseudo_required => return Err(HeaderError::MissingStatus),
            None => {}
        },
        MessageKind::Trailers => {}
    }
    Ok(info)
}

/// The `tchar`s of RFC 9110 §5.6.2, by octet.
const TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric();
        i += 1;
    }
    let specials = b"!#$%&'*+-.^_`|~";
    let mut j = 0;
    while j < specials.len() {
        t[specials[j] as usize] = true;
        j += 1;
    }
    t
};

/// Whether `value` is an HTTP token (RFC 9110 §5.6.2): one or more `tchar`s.
pub fn is_token(value: &[u8]) -> bool {
    !value.is_empty() && value.iter().all(|&b| TCHAR[usize::from(b)])
}

fn check_request(
    kind: MessageKind,
    p: &Pseudo<'_>,
    host: Option<&[u8]>,
    cfg: &HeaderValidation,
    extended_connect: bool,
    info: &mut MessageInfo,
) -> Result<(), HeaderError> {
    info.is_head = p.method == Some(b"HEAD");
    info.is_connect = p.method == Some(b"CONNECT");
    info.is_extended_connect = info.is_connect && p.protocol.is_some();
    let is_http = matches!(p.scheme, Some(b"http" | b"https"));

    if cfg.pseudo_required {
        if p.method.is_none() {
            return Err(HeaderError::MissingMethod);
        }
        if p.protocol.is_some() && !info.is_connect {
            return Err(HeaderError::ProtocolWithoutConnect);
        }
        if info.is_extended_connect && !extended_connect {
            return Err(HeaderError::ExtendedConnectDisabled);
        }
        if p.protocol.is_some_and(|v| !is_token(v)) {
            return Err(HeaderError::InvalidProtocol);
        }
        if info.is_connect && !info.is_extended_connect {
            // §8.5: plain CONNECT has only :method and :authority.
            if p.scheme.is_some() || p.path.is_some() {
                return Err(HeaderError::ConnectWithSchemeOrPath);
            }
            match p.authority {
                None => return Err(HeaderError::MissingAuthority),
                Some([]) => return Err(HeaderError::EmptyAuthority),
                Some(_) => {}
            }
        } else {
            if p.scheme.is_none() {
                return Err(HeaderError::MissingScheme);
            }
            match p.path {
                None => return Err(HeaderError::MissingPath),
                Some(path) if is_http => {
                    let asterisk = path == b"*" && p.method == Some(b"OPTIONS");
                    if path.first() != Some(&b'/') && !asterisk {
                        return Err(HeaderError::InvalidPath);
                    }
                }
                Some([]) => return Err(HeaderError::InvalidPath),
                Some(_) => {}
            }
            if info.is_extended_connect && p.authority.is_none() {
                return Err(HeaderError::MissingAuthority);
            }
        }
        if kind == MessageKind::PromisedRequest {
            if !matches!(p.method, Some(b"GET" | b"HEAD")) {
                return Err(HeaderError::UnsafePromisedMethod);
            }
            if p.authority.is_none() {
                return Err(HeaderError::MissingAuthority);
            }
        }
    }

    if cfg.authority_host {
        if p.authority == Some(b"") || host == Some(b"") {
            return Err(HeaderError::EmptyAuthority);
        }
        if let (Some(a), Some(h)) = (p.authority, host) {
            if a != h {
                return Err(HeaderError::AuthorityHostMismatch);
            }
        }
        if is_http && p.authority.is_none() && host.is_none() {
            return Err(HeaderError::MissingAuthority);
        }
    }
    Ok(())
}

/// [`validate`] on a slice of [`Field`]s.
pub fn validate_fields(
    kind: MessageKind,
    fields: &[Field],
    cfg: &HeaderValidation,
    extended_connect: bool,
) -> Result<MessageInfo, HeaderError> {
    validate(
        kind,
        fields.iter().map(|f| (&f.name[..], &f.value[..])),
        cfg,
        extended_connect,
    )
}

/// Joins several `cookie` fields into one, in place, with `"; "` between the crumbs
/// (RFC 9113 §8.2.3). The joined field takes the place of the first cookie. Allocates only
/// when there are two or more cookies.
pub fn join_cookies(fields: &mut Vec<Field>) {
    let mut count = 0usize;
    let mut total = 0usize;
    let mut first = None;
    for (i, f) in fields.iter().enumerate() {
        if is_cookie(f) {
            count += 1;
            total += f.value.len();
            first.get_or_insert(i);
        }
    }
    let Some(first) = first else { return };
    if count < 2 {
        return;
    }
    let mut joined = BytesMut::with_capacity(total + 2 * (count - 1));
    for f in fields.iter().filter(|f| is_cookie(f)) {
        if !joined.is_empty() {
            joined.extend_from_slice(b"; ");
        }
        joined.extend_from_slice(&f.value);
    }
    let mut index = 0usize;
    fields.retain(|f| {
        let keep = index == first || !is_cookie(f);
        index += 1;
        keep
    });
    if let Some(f) = fields.get_mut(first) {
        f.value = joined.freeze();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(kind: MessageKind, fields: &[(&str, &str)]) -> Result<MessageInfo, HeaderError> {
        validate(
            kind,
            fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
            &HeaderValidation::STRICT,
            false,
        )
    }

    fn v_with(
        kind: MessageKind,
        fields: &[(&str, &str)],
        cfg: HeaderValidation,
        ext: bool,
    ) -> Result<MessageInfo, HeaderError> {
        validate(
            kind,
            fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
            &cfg,
            ext,
        )
    }

    const GET: [(&str, &str); 4] = [
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/index.html"),
        (":authority", "example.com"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut v = GET.to_vec();
        v.extend_from_slice(extra);
        v
    }

    use HeaderError as E;
    use MessageKind::*;

    #[test]
    fn valid_request_and_response() {
        let info = v(Request, &with(&[("accept", "*/*"), ("te", "trailers")])).unwrap();
        assert!(!info.is_head && !info.is_connect);
        let info = v(Response, &[(":status", "200"), ("content-length", "5")]).unwrap();
        assert_eq!(info.status, Some(200));
        assert_eq!(info.content_length, Some(5));
        assert!(!info.is_informational());
        let info = v(Response, &[(":status", "103"), ("link", "</a>")]).unwrap();
        assert!(info.is_informational());
        assert!(v(Trailers, &[("grpc-status", "0")]).is_ok());
    }

    #[test]
    fn list_size_counts_32_per_field() {
        let info = v(Response, &[(":status", "200"), ("a", "bc")]).unwrap();
        assert_eq!(info.list_size, (7 + 3 + 32) + (1 + 2 + 32));
    }

    #[test]
    fn name_rules() {
        assert_eq!(v(Request, &with(&[("Accept", "x")])), Err(E::UppercaseName));
        assert_eq!(
            v(Request, &with(&[("acc ept", "x")])),
            Err(E::InvalidNameChar)
        );
        assert_eq!(
            v(Request, &with(&[("acc:ept", "x")])),
            Err(E::InvalidNameChar)
        );
        assert_eq!(
            v(Request, &with(&[("acc\x7fept", "x")])),
            Err(E::InvalidNameChar)
        );
        assert_eq!(v(Request, &with(&[("", "x")])), Err(E::EmptyName));
        let mut cfg = HeaderValidation::STRICT;
        cfg.lowercase_names = false;
        assert!(v_with(Request, &with(&[("Accept", "x")]), cfg, false).is_ok());
    }

    #[test]
    fn value_rules() {
        assert_eq!(
            v(Request, &with(&[("a", "x\r\ny")])),
            Err(E::InvalidValueChar)
        );
        assert_eq!(v(Request, &with(&[("a", "x\0")])), Err(E::InvalidValueChar));
        assert_eq!(v(Request, &with(&[("a", " x")])), Err(E::ValueWhitespace));
        assert_eq!(v(Request, &with(&[("a", "x\t")])), Err(E::ValueWhitespace));
        assert!(v(Request, &with(&[("a", "x y"), ("b", "")])).is_ok());
        let mut cfg = HeaderValidation::STRICT;
        cfg.field_characters = false;
        assert!(v_with(Request, &with(&[("a", " x\n")]), cfg, false).is_ok());
    }

    #[test]
    fn connection_specific_and_te() {
        for name in CONNECTION_SPECIFIC {
            assert!(is_connection_specific(name.as_bytes()));
            assert!(is_connection_specific(name.to_ascii_uppercase().as_bytes()));
            assert!(is_hop_by_hop(name.as_bytes(), b"trailers"));
            assert_eq!(
                v(Request, &with(&[(name, "x")])),
                Err(E::ConnectionSpecific),
                "{name}"
            );
        }
        assert_eq!(v(Request, &with(&[("te", "gzip")])), Err(E::TeNotTrailers));
        assert!(!is_connection_specific(b"te"));
        assert!(is_hop_by_hop(b"te", b"gzip"));
        assert!(!is_hop_by_hop(b"te", b"Trailers"));
        assert!(!is_hop_by_hop(b"content-type", b"text/plain"));
        let mut cfg = HeaderValidation::STRICT;
        cfg.connection_specific = false;
        cfg.te_trailers_only = false;
        assert!(
            v_with(
                Request,
                &with(&[("connection", "x"), ("te", "gzip")]),
                cfg,
                false
            )
            .is_ok()
        );
    }

    #[test]
    fn special_names_match_any_case_when_uppercase_is_allowed() {
        let mut cfg = HeaderValidation::STRICT;
        cfg.lowercase_names = false;
        for name in ["Connection", "KEEP-ALIVE", "Upgrade", "Transfer-Encoding"] {
            assert_eq!(
                v_with(Request, &with(&[(name, "x")]), cfg, false),
                Err(E::ConnectionSpecific),
                "{name}"
            );
        }
        assert_eq!(
            v_with(Request, &with(&[("TE", "gzip")]), cfg, false),
            Err(E::TeNotTrailers)
        );
        assert_eq!(
            v_with(Request, &with(&[("Host", "evil.com")]), cfg, false),
            Err(E::AuthorityHostMismatch)
        );
        let info = v_with(
            Response,
            &[(":status", "200"), ("Content-Length", "12")],
            cfg,
            false,
        )
        .unwrap();
        assert_eq!(info.content_length, Some(12));
    }

    #[test]
    fn pseudo_order_duplicates_and_roles() {
        let mut fields = vec![("accept", "x")];
        fields.extend_from_slice(&GET);
        assert_eq!(v(Request, &fields), Err(E::PseudoAfterRegular));
        assert_eq!(
            v(Request, &with(&[(":path", "/b")])),
            Err(E::DuplicatePseudo)
        );
        assert_eq!(
            v(Request, &with(&[("a", "b"), (":path", "/b")])),
            Err(E::PseudoAfterRegular)
        );
        let mut dup = GET.to_vec();
        dup.insert(1, (":method", "GET"));
        assert_eq!(v(Request, &dup), Err(E::DuplicatePseudo));
        let mut mixed = GET.to_vec();
        mixed.insert(0, (":status", "200"));
        assert_eq!(v(Request, &mixed), Err(E::UnknownPseudo));
        assert_eq!(
            v(Response, &[(":status", "200"), (":path", "/")]),
            Err(E::UnknownPseudo)
        );
        assert_eq!(
            v(Response, &[(":foo", "1"), (":status", "200")]),
            Err(E::UnknownPseudo)
        );
        assert_eq!(v(Trailers, &[(":status", "200")]), Err(E::PseudoInTrailers));
        let mut cfg = HeaderValidation::STRICT;
        cfg.pseudo_order = false;
        let mut late = GET.to_vec();
        late.swap(0, 3);
        late.insert(2, ("x", "y"));
        assert!(v_with(Request, &late, cfg, false).is_ok());
    }

    #[test]
    fn required_pseudo_per_role() {
        for (missing, err) in [
            (":method", E::MissingMethod),
            (":scheme", E::MissingScheme),
            (":path", E::MissingPath),
        ] {
            let fields: Vec<_> = GET.iter().copied().filter(|(n, _)| *n != missing).collect();
            assert_eq!(v(Request, &fields), Err(err), "{missing}");
        }
        assert_eq!(v(Response, &[("a", "b")]), Err(E::MissingStatus));
        assert_eq!(v(Response, &[(":status", "20")]), Err(E::InvalidStatus));
        assert_eq!(v(Response, &[(":status", "099")]), Err(E::InvalidStatus));
        assert_eq!(v(Response, &[(":status", "2x0")]), Err(E::InvalidStatus));
        assert_eq!(
            v(Response, &[(":status", "101")]),
            Err(E::SwitchingProtocols)
        );
        let mut bad_path = GET.to_vec();
        bad_path[2] = (":path", "");
        assert_eq!(v(Request, &bad_path), Err(E::InvalidPath));
        bad_path[2] = (":path", "index");
        assert_eq!(v(Request, &bad_path), Err(E::InvalidPath));
        bad_path[2] = (":path", "*");
        assert_eq!(v(Request, &bad_path), Err(E::InvalidPath));
        bad_path[0] = (":method", "OPTIONS");
        assert!(v(Request, &bad_path).is_ok());
        let mut cfg = HeaderValidation::STRICT;
        cfg.pseudo_required = false;
        assert!(v_with(Response, &[("a", "b")], cfg, false).is_ok());
    }

    #[test]
    fn authority_and_host() {
        let no_auth: Vec<_> = GET[..3].to_vec();
        assert_eq!(v(Request, &no_auth), Err(E::MissingAuthority));
        let mut host_only = no_auth.clone();
        host_only.push(("host", "example.com"));
        assert!(v(Request, &host_only).is_ok());
        assert!(v(Request, &with(&[("host", "example.com")])).is_ok());
        assert_eq!(
            v(Request, &with(&[("host", "evil.com")])),
            Err(E::AuthorityHostMismatch)
        );
        assert_eq!(
            v(
                Request,
                &with(&[("host", "example.com"), ("host", "example.com")])
            ),
            Err(E::DuplicateHost)
        );
        let mut empty = GET.to_vec();
        empty[3] = (":authority", "");
        assert_eq!(v(Request, &empty), Err(E::EmptyAuthority));
        // Schemes without a mandatory authority need neither.
        let mut other = no_auth.clone();
        other[1] = (":scheme", "foo");
        assert!(v(Request, &other).is_ok());
        let mut cfg = HeaderValidation::STRICT;
        cfg.authority_host = false;
        assert!(v_with(Request, &with(&[("host", "evil.com")]), cfg, false).is_ok());
    }

    #[test]
    fn connect_and_extended_connect() {
        let connect = [(":method", "CONNECT"), (":authority", "example.com:443")];
        let info = v(Request, &connect).unwrap();
        assert!(info.is_connect && !info.is_extended_connect);
        assert_eq!(
            v(Request, &[(":method", "CONNECT")]),
            Err(E::MissingAuthority)
        );
        assert_eq!(
            v(
                Request,
                &[
                    (":method", "CONNECT"),
                    (":authority", "a:1"),
                    (":path", "/")
                ]
            ),
            Err(E::ConnectWithSchemeOrPath)
        );
        let ws = [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "https"),
            (":path", "/chat"),
            (":authority", "example.com"),
        ];
        assert_eq!(v(Request, &ws), Err(E::ExtendedConnectDisabled));
        let info = v_with(Request, &ws, HeaderValidation::STRICT, true).unwrap();
        assert!(info.is_extended_connect);
        assert_eq!(
            v_with(Request, &ws[..4], HeaderValidation::STRICT, true),
            Err(E::MissingAuthority)
        );
        assert_eq!(
            v_with(Request, &GET, HeaderValidation::STRICT, true).map(|i| i.is_extended_connect),
            Ok(false)
        );
        let mut get_proto = GET.to_vec();
        get_proto.insert(1, (":protocol", "websocket"));
        assert_eq!(
            v_with(Request, &get_proto, HeaderValidation::STRICT, true),
            Err(E::ProtocolWithoutConnect)
        );
        for bad in ["", "web socket", "ws/1", "\"x\""] {
            let mut p = ws;
            p[1] = (":protocol", bad);
            assert_eq!(
                v_with(Request, &p, HeaderValidation::STRICT, true),
                Err(E::InvalidProtocol),
                "{bad:?}"
            );
        }
        for path_or_scheme in [":path", ":scheme"] {
            let p: Vec<_> = ws
                .iter()
                .copied()
                .filter(|f| f.0 != path_or_scheme)
                .collect();
            assert!(v_with(Request, &p, HeaderValidation::STRICT, true).is_err());
        }
        assert!(is_token(b"websocket") && is_token(b"connect-udp") && !is_token(b"a b"));
        for b in 0..=255u8 {
            let tchar = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_token(&[b]), tchar, "{b:#x}");
            assert_eq!(is_token(&[b'a', b, b'z']), tchar, "{b:#x}");
        }
        assert!(!is_token(b""));
    }

    #[test]
    fn content_length_parsing() {
        let r = |cl: &'static str| v(Response, &[(":status", "200"), ("content-length", cl)]);
        assert_eq!(r("0").unwrap().content_length, Some(0));
        assert_eq!(r("42, 42").unwrap().content_length, Some(42));
        assert_eq!(r("42,43"), Err(E::ConflictingContentLength));
        assert_eq!(r("-1"), Err(E::InvalidContentLength));
        assert_eq!(r(""), Err(E::InvalidContentLength));
        assert_eq!(r("1,"), Err(E::InvalidContentLength));
        assert_eq!(r("99999999999999999999"), Err(E::InvalidContentLength));
        assert_eq!(
            r("18446744073709551615").map(|i| i.content_length),
            Err(E::InvalidContentLength),
            "20 digits are refused rather than risking overflow"
        );
        assert_eq!(
            r("9999999999999999999").unwrap().content_length,
            Some(9_999_999_999_999_999_999)
        );
        assert_eq!(
            v(
                Response,
                &[
                    (":status", "200"),
                    ("content-length", "7"),
                    ("content-length", "7")
                ]
            )
            .unwrap()
            .content_length,
            Some(7)
        );
        assert_eq!(
            v(
                Response,
                &[
                    (":status", "200"),
                    ("content-length", "7"),
                    ("content-length", "8")
                ]
            ),
            Err(E::ConflictingContentLength)
        );
    }

    #[test]
    fn promised_requests_must_be_safe() {
        assert!(v(PromisedRequest, &GET).is_ok());
        let mut post = GET.to_vec();
        post[0] = (":method", "POST");
        assert_eq!(v(PromisedRequest, &post), Err(E::UnsafePromisedMethod));
        let head = v(PromisedRequest, &{
            let mut h = GET.to_vec();
            h[0] = (":method", "HEAD");
            h
        })
        .unwrap();
        assert!(head.is_head);
    }

    #[test]
    fn cookies_are_joined_in_place_of_the_first() {
        let mut fields = vec![
            Field::new(":method", "GET"),
            Field::new("cookie", "a=b"),
            Field::new("accept", "*/*"),
            Field::new("cookie", "c=d"),
            Field::new("cookie", "e=f"),
        ];
        join_cookies(&mut fields);
        assert_eq!(
            fields,
            vec![
                Field::new(":method", "GET"),
                Field::new("cookie", "a=b; c=d; e=f"),
                Field::new("accept", "*/*"),
            ]
        );
        let mut single = vec![Field::new("cookie", "x")];
        join_cookies(&mut single);
        assert_eq!(single, vec![Field::new("cookie", "x")]);
    }

    #[test]
    fn none_accepts_anything_without_panicking() {
        let junk = [("", ""), (":", "\0"), ("X", " "), (":status", "abc")];
        let info = v_with(Response, &junk, HeaderValidation::NONE, false).unwrap();
        assert_eq!(info.status, None);
    }

    /// The straightforward §8.2.1 / §8.2.2 checks the tables and length dispatch replaced.
    mod reference {
        use super::super::{CONNECTION_SPECIFIC, HeaderError, Special};

        pub(super) fn has_upper(name: &[u8]) -> bool {
            name.iter().any(u8::is_ascii_uppercase)
        }

        pub(super) fn name_invalid(name: &[u8]) -> bool {
            name.iter().any(|&b| b <= 0x20 || b >= 0x7f || b == b':')
        }

        pub(super) fn value_check(value: &[u8]) -> Result<(), HeaderError> {
            if value.iter().any(|&b| b == 0 || b == b'\r' || b == b'\n') {
                return Err(HeaderError::InvalidValueChar);
            }
            if matches!(value.first(), Some(b' ' | b'\t'))
                || matches!(value.last(), Some(b' ' | b'\t'))
            {
                return Err(HeaderError::ValueWhitespace);
            }
            Ok(())
        }

        pub(super) fn special(name: &[u8]) -> Special {
            if CONNECTION_SPECIFIC
                .iter()
                .any(|c| name.eq_ignore_ascii_case(c.as_bytes()))
            {
                Special::ConnectionSpecific
            } else if name.eq_ignore_ascii_case(b"te") {
                Special::Te
            } else if name.eq_ignore_ascii_case(b"host") {
                Special::Host
            } else if name.eq_ignore_ascii_case(b"content-length") {
                Special::ContentLength
            } else {
                Special::None
            }
        }
    }

    fn assert_name_matches_reference(name: &[u8]) {
        let class = name_class(name);
        assert_eq!(
            class & NAME_UPPER != 0,
            reference::has_upper(name),
            "{name:?}"
        );
        assert_eq!(
            class & NAME_INVALID != 0,
            reference::name_invalid(name),
            "{name:?}"
        );
        let lowercase = class & NAME_UPPER == 0;
        assert_eq!(
            special_name(name, lowercase),
            reference::special(name),
            "{name:?}"
        );
        // The case-insensitive path is right for every name, lowercase or not.
        assert_eq!(
            special_name(name, false),
            reference::special(name),
            "{name:?}"
        );
    }

    #[test]
    fn character_tables_match_reference_for_every_byte() {
        for b in 0..=255u8 {
            for name in [&[b][..], &[b'a', b], &[b, b'a']] {
                assert_name_matches_reference(name);
            }
            for value in [&[b][..], &[b'x', b, b'x'], &[b'x', b], &[b, b'x']] {
                assert_eq!(
                    check_value_chars(value),
                    reference::value_check(value),
                    "{value:?}"
                );
            }
        }
        assert_name_matches_reference(b"");
        assert_eq!(check_value_chars(b""), reference::value_check(b""));
    }

    #[test]
    fn word_at_a_time_value_check_matches_reference_at_every_position() {
        for filler in [b'x', 0x01, 0x0c, 0x80, 0x8a, 0xff] {
            for len in 1..=17 {
                for pos in 0..len {
                    for b in 0..=255u8 {
                        let mut value = vec![filler; len];
                        value[pos] = b;
                        assert_eq!(
                            check_value_chars(&value),
                            reference::value_check(&value),
                            "{value:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn special_names_match_reference_in_any_case() {
        let others: [&[u8]; 8] = [
            b"te",
            b"host",
            b"content-length",
            b"content-type",
            b"tf",
            b"hosts",
            b"connectioN",
            b"Keep-Alive",
        ];
        let names = CONNECTION_SPECIFIC.iter().map(|n| n.as_bytes());
        for name in names.chain(others) {
            // Every case mix of every byte, plus one-byte edits at each position.
            for mask in 0..(1usize << name.len().min(17)) {
                let mixed: Vec<u8> = name
                    .iter()
                    .enumerate()
                    .map(|(i, &b)| {
                        if mask >> i & 1 == 1 {
                            b.to_ascii_uppercase()
                        } else {
                            b.to_ascii_lowercase()
                        }
                    })
                    .collect();
                if mask % 64 == 0 {
                    for i in 0..mixed.len() {
                        let mut edited = mixed.clone();
                        edited[i] ^= 0x01;
                        assert_name_matches_reference(&edited);
                        edited[i] ^= 0x21;
                        assert_name_matches_reference(&edited);
                    }
                }
                assert_name_matches_reference(&mixed);
            }
        }
    }

    fn name_strategy() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        prop_oneof![
            proptest::collection::vec(proptest::num::u8::ANY, 0..20),
            // Near-misses of the special names: right length, mostly right letters.
            (0usize..8, proptest::collection::vec(0u8..4, 0..20)).prop_map(|(pick, noise)| {
                let base: &[u8] = match CONNECTION_SPECIFIC.get(pick) {
                    Some(name) => name.as_bytes(),
                    None => [&b"te"[..], b"host", b"content-length"][pick - 5],
                };
                base.iter()
                    .zip(noise.iter().chain(core::iter::repeat(&0)))
                    .map(|(&b, &n)| match n {
                        1 => b.to_ascii_uppercase(),
                        2 => b ^ 0x20,
                        _ => b,
                    })
                    .collect()
            }),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn name_and_value_checks_match_reference(
            name in name_strategy(),
            value in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
        ) {
            assert_name_matches_reference(&name);
            proptest::prop_assert_eq!(check_value_chars(&value), reference::value_check(&value));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn arbitrary_fields_never_panic(
            fields in proptest::collection::vec(
                (proptest::collection::vec(proptest::num::u8::ANY, 0..12),
                 proptest::collection::vec(proptest::num::u8::ANY, 0..12)), 0..8),
            kind in 0u8..4,
        ) {
            let kind = [Request, PromisedRequest, Response, Trailers][kind as usize];
            let _ = validate(kind, fields.iter().map(|(n, v)| (&n[..], &v[..])),
                &HeaderValidation::STRICT, true);
            let mut as_fields: Vec<Field> =
                fields.iter().map(|(n, v)| Field::new(n.clone(), v.clone())).collect();
            join_cookies(&mut as_fields);
        }
    }
}
