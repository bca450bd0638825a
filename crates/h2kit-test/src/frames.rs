//! The frame-builder DSL: one function per frame type, fluent modifiers, sensible defaults.
//!
//! Every builder converts into a [`FrameSpec`], which a [`ScriptedPeer`](crate::ScriptedPeer)
//! can either **send** (encode to wire bytes, HPACK-encoding header lists with the peer's own
//! encoder) or **expect** (compare against the next received frame).
//!
//! When expecting, a spec compares only what the test wrote down, per builder:
//!
//! | builder | always compared | compared when given (always with `.exact()`) |
//! |---|---|---|
//! | [`headers`], [`push_promise`] | stream, END_STREAM, promised id, the listed fields in order (others may be interleaved) | priority, padding, `.no_end_headers()` (block must span CONTINUATION); `.exact()`: the whole field list |
//! | [`data`] | stream, payload, END_STREAM | padding |
//! | [`settings`] | ACK or not, each listed parameter's value | `.exact()`: the whole parameter list in order |
//! | [`goaway`] | last stream id (unless `.any_last_stream_id()`), code | debug data |
//! | [`ping`], [`window_update`], [`rst_stream`], [`priority`], [`priority_update`], [`altsvc`], [`origin`] | every field | |
//! | [`raw`] | type, flags, stream id, payload of the (first) wire frame | |
//! | [`any`] | the frame type only | |
//!
//! Senders are not validated: a builder writes exactly what it describes, so the same DSL
//! produces malformed frames (a WINDOW_UPDATE of 0, DATA on stream 0, a SETTINGS ACK with a
//! payload, padding longer than the frame…) for tests of a connection's error handling.

use std::fmt;

use bytes::{Bytes, BytesMut};
use h2kit_frame::{ErrorCode, Flags, FrameType, PrioritySpec, SettingId, StreamId};
use h2kit_hpack::HeaderField;

/// The `:authority` that [`HeadersBuilder::request`] fills in.
pub const DEFAULT_AUTHORITY: &str = "example.com";

/// The `:scheme` that [`HeadersBuilder::request`] fills in.
pub const DEFAULT_SCHEME: &str = "https";

/// The client connection preface octets (RFC 9113 §3.4).
pub const CLIENT_MAGIC: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A frame to send or to expect: what every builder of this module turns into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameSpec {
    /// The connection preface of the peer's role ([`preface`]).
    Preface(PrefaceBuilder),
    /// DATA ([`data`]).
    Data(DataBuilder),
    /// HEADERS ([`headers`]).
    Headers(HeadersBuilder),
    /// PRIORITY ([`priority`]).
    Priority(PriorityBuilder),
    /// RST_STREAM ([`rst_stream`]).
    RstStream(RstStreamBuilder),
    /// SETTINGS or SETTINGS ACK ([`settings`], [`settings_ack`]).
    Settings(SettingsBuilder),
    /// PUSH_PROMISE ([`push_promise`]).
    PushPromise(PushPromiseBuilder),
    /// PING ([`ping`]).
    Ping(PingBuilder),
    /// GOAWAY ([`goaway`]).
    GoAway(GoAwayBuilder),
    /// WINDOW_UPDATE ([`window_update`]).
    WindowUpdate(WindowUpdateBuilder),
    /// CONTINUATION ([`continuation`]); send only, since received CONTINUATION frames are
    /// assembled into the HEADERS or PUSH_PROMISE they continue.
    Continuation(ContinuationBuilder),
    /// ALTSVC ([`altsvc`]).
    AltSvc(AltSvcBuilder),
    /// ORIGIN ([`origin`]).
    Origin(OriginBuilder),
    /// PRIORITY_UPDATE ([`priority_update`]).
    PriorityUpdate(PriorityUpdateBuilder),
    /// Any frame, written octet for octet ([`raw`]).
    Raw(RawBuilder),
    /// Any frame of a type; a pattern for expecting and ignoring, never sent ([`any`]).
    Any(FrameType),
}

impl FrameSpec {
    /// The frame type this spec sends or expects (SETTINGS for the preface).
    pub fn frame_type(&self) -> FrameType {
        match self {
            Self::Preface(_) | Self::Settings(_) => FrameType::SETTINGS,
            Self::Data(_) => FrameType::DATA,
            Self::Headers(_) => FrameType::HEADERS,
            Self::Priority(_) => FrameType::PRIORITY,
            Self::RstStream(_) => FrameType::RST_STREAM,
            Self::PushPromise(_) => FrameType::PUSH_PROMISE,
            Self::Ping(_) => FrameType::PING,
            Self::GoAway(_) => FrameType::GOAWAY,
            Self::WindowUpdate(_) => FrameType::WINDOW_UPDATE,
            Self::Continuation(_) => FrameType::CONTINUATION,
            Self::AltSvc(_) => FrameType::ALTSVC,
            Self::Origin(_) => FrameType::ORIGIN,
            Self::PriorityUpdate(_) => FrameType::PRIORITY_UPDATE,
            Self::Raw(r) => r.frame_type,
            Self::Any(t) => *t,
        }
    }

    /// The wire octets of this spec as a fresh client would send them: header lists are
    /// encoded with a new HPACK encoder, field blocks split at 16,384 octets, and
    /// [`preface`] includes the client magic. A [`ScriptedPeer`](crate::ScriptedPeer) keeps
    /// HPACK state across frames; use it for anything beyond one frame.
    ///
    /// # Panics
    ///
    /// For [`any`] (a pattern, not a frame) and payloads over 2^24-1 octets.
    pub fn to_bytes(&self) -> Bytes {
        let mut encoder = h2kit_hpack::Encoder::new();
        let mut dst = BytesMut::new();
        crate::encode::write_spec(
            self,
            crate::Role::Client,
            &mut encoder,
            h2kit_frame::DEFAULT_MAX_FRAME_SIZE,
            &mut dst,
        );
        dst.freeze()
    }
}

macro_rules! into_spec {
    ($($builder:ident => $variant:ident),* $(,)?) => {$(
        impl From<$builder> for FrameSpec {
            fn from(b: $builder) -> Self {
                FrameSpec::$variant(b)
            }
        }

        impl From<&$builder> for FrameSpec {
            fn from(b: &$builder) -> Self {
                FrameSpec::$variant(b.clone())
            }
        }

        impl $builder {
            /// The wire octets, as [`FrameSpec::to_bytes`] writes them: for a frame handed
            /// to a connection directly, without a [`ScriptedPeer`](crate::ScriptedPeer).
            pub fn to_bytes(&self) -> Bytes {
                FrameSpec::from(self).to_bytes()
            }
        }
    )*};
}

into_spec!(
    PrefaceBuilder => Preface,
    DataBuilder => Data,
    HeadersBuilder => Headers,
    PriorityBuilder => Priority,
    RstStreamBuilder => RstStream,
    SettingsBuilder => Settings,
    PushPromiseBuilder => PushPromise,
    PingBuilder => Ping,
    GoAwayBuilder => GoAway,
    WindowUpdateBuilder => WindowUpdate,
    ContinuationBuilder => Continuation,
    AltSvcBuilder => AltSvc,
    OriginBuilder => Origin,
    PriorityUpdateBuilder => PriorityUpdate,
    RawBuilder => Raw,
);

impl From<&FrameSpec> for FrameSpec {
    fn from(spec: &FrameSpec) -> Self {
        spec.clone()
    }
}

/// A header list and how its field block goes on the wire; shared by HEADERS and
/// PUSH_PROMISE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BlockSpec {
    pub(crate) fields: Vec<HeaderField>,
    /// Octets placed before the HPACK-encoded fields, unencoded.
    pub(crate) raw: Option<Bytes>,
    pub(crate) end_headers: bool,
    pub(crate) padding: Option<u8>,
    /// Send the block in fragments of at most this many octets.
    pub(crate) split: Option<usize>,
    pub(crate) exact: bool,
}

impl BlockSpec {
    fn new() -> Self {
        Self {
            fields: Vec::new(),
            raw: None,
            end_headers: true,
            padding: None,
            split: None,
            exact: false,
        }
    }

    fn set(&mut self, name: &'static str, value: Bytes) {
        match self.fields.iter_mut().find(|f| f.name == name) {
            Some(f) => f.value = value,
            None => self.fields.push(HeaderField::new(name, value)),
        }
    }
}

/// The modifiers HEADERS and PUSH_PROMISE share: the header list and the field block's
/// framing.
macro_rules! block_methods {
    () => {
        /// Appends the request pseudo-header fields `:method`, `:scheme` ([`DEFAULT_SCHEME`]),
        /// `:path` and `:authority` ([`DEFAULT_AUTHORITY`]), in that order.
        #[must_use]
        pub fn request(mut self, method: &str, path: &str) -> Self {
            self.block
                .fields
                .extend(crate::fields::request(method, path));
            self
        }

        /// Appends `:status`.
        #[must_use]
        pub fn response(mut self, status: u16) -> Self {
            self.block
                .fields
                .push(HeaderField::new(":status", Bytes::from(status.to_string())));
            self
        }

        /// Appends a field.
        #[must_use]
        pub fn field(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
            self.block.fields.push(HeaderField::new(
                Bytes::copy_from_slice(name.as_ref()),
                Bytes::copy_from_slice(value.as_ref()),
            ));
            self
        }

        /// Appends a never-indexed field (RFC 7541 §7.1.3). As an expectation, the
        /// received field must be never-indexed too.
        #[must_use]
        pub fn sensitive(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
            self.block.fields.push(HeaderField::sensitive(
                Bytes::copy_from_slice(name.as_ref()),
                Bytes::copy_from_slice(value.as_ref()),
            ));
            self
        }

        /// Appends fields as they are, representation included.
        #[must_use]
        pub fn fields(mut self, fields: impl IntoIterator<Item = HeaderField>) -> Self {
            self.block.fields.extend(fields);
            self
        }

        /// Replaces the value of `:authority` (appending the field if there is none).
        #[must_use]
        pub fn authority(mut self, authority: &str) -> Self {
            self.block
                .set(":authority", Bytes::copy_from_slice(authority.as_bytes()));
            self
        }

        /// Replaces the value of `:scheme` (appending the field if there is none).
        #[must_use]
        pub fn scheme(mut self, scheme: &str) -> Self {
            self.block
                .set(":scheme", Bytes::copy_from_slice(scheme.as_bytes()));
            self
        }

        /// Removes every field with this name, e.g. to send a request without `:path`.
        #[must_use]
        pub fn without(mut self, name: impl AsRef<[u8]>) -> Self {
            self.block.fields.retain(|f| f.name != name.as_ref());
            self
        }

        /// Puts these octets at the start of the field block as they are, before the
        /// HPACK-encoded fields (for malformed HPACK, or a hand-encoded block). As an
        /// expectation, the received block must start with them.
        #[must_use]
        pub fn block(mut self, octets: impl Into<Bytes>) -> Self {
            self.block.raw = Some(octets.into());
            self
        }

        /// Pads the first frame with `n` zero octets (PADDED flag, Pad Length `n`).
        #[must_use]
        pub fn padded(mut self, n: u8) -> Self {
            self.block.padding = Some(n);
            self
        }

        /// Leaves END_HEADERS off the last frame sent, so the test continues the block with
        /// [`continuation`] frames. As an expectation: the received block must have
        /// spanned at least one CONTINUATION frame.
        #[must_use]
        pub fn no_end_headers(mut self) -> Self {
            self.block.end_headers = false;
            self
        }

        /// Sends the field block in fragments of at most `n` octets (minimum 1): the first
        /// in this frame, the rest in CONTINUATION frames. Without it, blocks are split only
        /// at the connection's SETTINGS_MAX_FRAME_SIZE. Ignored when expecting.
        #[must_use]
        pub fn split_block(mut self, n: usize) -> Self {
            self.block.split = Some(n.max(1));
            self
        }

        /// As an expectation, compares the whole field list (and priority and padding)
        /// instead of only what was listed.
        #[must_use]
        pub fn exact(mut self) -> Self {
            self.block.exact = true;
            self
        }

        /// The header list built so far.
        pub fn header_list(&self) -> &[HeaderField] {
            &self.block.fields
        }
    };
}

/// HEADERS: a header list, HPACK-encoded by the sending peer ([`headers`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadersBuilder {
    pub(crate) stream_id: u32,
    pub(crate) block: BlockSpec,
    pub(crate) end_stream: bool,
    pub(crate) priority: Option<PrioritySpec>,
}

/// HEADERS on `stream_id` with an empty header list, END_HEADERS, no END_STREAM.
pub fn headers(stream_id: u32) -> HeadersBuilder {
    HeadersBuilder {
        stream_id,
        block: BlockSpec::new(),
        end_stream: false,
        priority: None,
    }
}

impl HeadersBuilder {
    block_methods!();

    /// Sets END_STREAM.
    #[must_use]
    pub fn end_stream(mut self) -> Self {
        self.end_stream = true;
        self
    }

    /// Adds the RFC 7540 priority fields (PRIORITY flag). `weight` is the weight itself,
    /// 1..=256 (clamped), sent as `weight - 1`.
    #[must_use]
    pub fn priority(mut self, dependency: u32, weight: u16, exclusive: bool) -> Self {
        self.priority = Some(priority_spec(dependency, weight, exclusive));
        self
    }
}

fn priority_spec(dependency: u32, weight: u16, exclusive: bool) -> PrioritySpec {
    PrioritySpec {
        dependency: StreamId::new(dependency),
        exclusive,
        // Lossless: clamped to 0..=255.
        weight: (weight.clamp(1, 256) - 1) as u8,
    }
}

/// PUSH_PROMISE: the promised request's header list ([`push_promise`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushPromiseBuilder {
    pub(crate) stream_id: u32,
    pub(crate) promised_id: u32,
    pub(crate) block: BlockSpec,
}

/// PUSH_PROMISE on `stream_id` reserving `promised_id`, with an empty header list and
/// END_HEADERS.
pub fn push_promise(stream_id: u32, promised_id: u32) -> PushPromiseBuilder {
    PushPromiseBuilder {
        stream_id,
        promised_id,
        block: BlockSpec::new(),
    }
}

impl PushPromiseBuilder {
    block_methods!();
}

/// CONTINUATION: a raw fragment and/or fields HPACK-encoded after it ([`continuation`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContinuationBuilder {
    pub(crate) stream_id: u32,
    pub(crate) fragment: Bytes,
    pub(crate) fields: Vec<HeaderField>,
    pub(crate) end_headers: bool,
}

/// CONTINUATION on `stream_id` carrying `fragment` as it is, with END_HEADERS.
pub fn continuation(stream_id: u32, fragment: impl Into<Bytes>) -> ContinuationBuilder {
    ContinuationBuilder {
        stream_id,
        fragment: fragment.into(),
        fields: Vec::new(),
        end_headers: true,
    }
}

impl ContinuationBuilder {
    /// Appends a field, HPACK-encoded by the sending peer after the raw fragment (so a
    /// header list can be spread over HEADERS and CONTINUATION frames field by field).
    /// A dynamic table size update the peer's encoder owes (after a received
    /// SETTINGS_HEADER_TABLE_SIZE) would land here, mid-block; send such updates at the
    /// start of a HEADERS block instead.
    #[must_use]
    pub fn field(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        self.fields.push(HeaderField::new(
            Bytes::copy_from_slice(name.as_ref()),
            Bytes::copy_from_slice(value.as_ref()),
        ));
        self
    }

    /// Leaves END_HEADERS off: more CONTINUATION frames follow.
    #[must_use]
    pub fn no_end_headers(mut self) -> Self {
        self.end_headers = false;
        self
    }
}

/// DATA ([`data`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataBuilder {
    pub(crate) stream_id: u32,
    pub(crate) payload: Bytes,
    pub(crate) end_stream: bool,
    pub(crate) padding: Option<u8>,
    pub(crate) exact: bool,
}

/// DATA on `stream_id` carrying `payload`, unpadded, without END_STREAM.
pub fn data(stream_id: u32, payload: impl AsRef<[u8]>) -> DataBuilder {
    DataBuilder {
        stream_id,
        payload: Bytes::copy_from_slice(payload.as_ref()),
        end_stream: false,
        padding: None,
        exact: false,
    }
}

impl DataBuilder {
    /// Sets END_STREAM.
    #[must_use]
    pub fn end_stream(mut self) -> Self {
        self.end_stream = true;
        self
    }

    /// Pads with `n` zero octets (PADDED flag, Pad Length `n`): the frame's flow-controlled
    /// length grows by `n + 1`.
    #[must_use]
    pub fn padded(mut self, n: u8) -> Self {
        self.padding = Some(n);
        self
    }

    /// As an expectation, also requires an unpadded frame when no padding was given.
    #[must_use]
    pub fn exact(mut self) -> Self {
        self.exact = true;
        self
    }
}

/// SETTINGS or SETTINGS ACK ([`settings`], [`settings_ack`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsBuilder {
    pub(crate) ack: bool,
    pub(crate) params: Vec<(SettingId, u32)>,
    pub(crate) exact: bool,
}

/// SETTINGS with no parameters. As an expectation: any SETTINGS that is not an ACK.
pub fn settings() -> SettingsBuilder {
    SettingsBuilder {
        ack: false,
        params: Vec::new(),
        exact: false,
    }
}

/// SETTINGS with the ACK flag.
pub fn settings_ack() -> SettingsBuilder {
    settings().ack()
}

impl SettingsBuilder {
    /// Adds a parameter as it is (unknown ids and out-of-range values included), after the
    /// ones already given.
    #[must_use]
    pub fn setting(mut self, id: SettingId, value: u32) -> Self {
        self.params.push((id, value));
        self
    }

    /// SETTINGS_HEADER_TABLE_SIZE.
    #[must_use]
    pub fn header_table_size(self, value: u32) -> Self {
        self.setting(SettingId::HEADER_TABLE_SIZE, value)
    }

    /// SETTINGS_ENABLE_PUSH.
    #[must_use]
    pub fn enable_push(self, on: bool) -> Self {
        self.setting(SettingId::ENABLE_PUSH, u32::from(on))
    }

    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    #[must_use]
    pub fn max_concurrent_streams(self, value: u32) -> Self {
        self.setting(SettingId::MAX_CONCURRENT_STREAMS, value)
    }

    /// SETTINGS_INITIAL_WINDOW_SIZE.
    #[must_use]
    pub fn initial_window_size(self, value: u32) -> Self {
        self.setting(SettingId::INITIAL_WINDOW_SIZE, value)
    }

    /// SETTINGS_MAX_FRAME_SIZE.
    #[must_use]
    pub fn max_frame_size(self, value: u32) -> Self {
        self.setting(SettingId::MAX_FRAME_SIZE, value)
    }

    /// SETTINGS_MAX_HEADER_LIST_SIZE.
    #[must_use]
    pub fn max_header_list_size(self, value: u32) -> Self {
        self.setting(SettingId::MAX_HEADER_LIST_SIZE, value)
    }

    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441).
    #[must_use]
    pub fn enable_connect_protocol(self, on: bool) -> Self {
        self.setting(SettingId::ENABLE_CONNECT_PROTOCOL, u32::from(on))
    }

    /// SETTINGS_NO_RFC7540_PRIORITIES (RFC 9218).
    #[must_use]
    pub fn no_rfc7540_priorities(self, on: bool) -> Self {
        self.setting(SettingId::NO_RFC7540_PRIORITIES, u32::from(on))
    }

    /// Sets the ACK flag (with parameters, that makes a malformed frame).
    #[must_use]
    pub fn ack(mut self) -> Self {
        self.ack = true;
        self
    }

    /// As an expectation, compares the whole parameter list in wire order.
    #[must_use]
    pub fn exact(mut self) -> Self {
        self.exact = true;
        self
    }

    /// The parameters given so far, in order.
    pub fn params(&self) -> &[(SettingId, u32)] {
        &self.params
    }
}

/// The connection preface ([`preface`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefaceBuilder {
    pub(crate) settings: SettingsBuilder,
}

/// The connection preface of the sending peer's role (RFC 9113 §3.4): for a client, the
/// magic octets [`CLIENT_MAGIC`] and then SETTINGS; for a server, SETTINGS alone. No
/// parameters unless [`PrefaceBuilder::settings`] gives some.
///
/// As an expectation it matches the connection's SETTINGS like [`settings`] does; a server
/// peer checks the client magic itself as the first octets arrive.
pub fn preface() -> PrefaceBuilder {
    PrefaceBuilder {
        settings: settings(),
    }
}

impl PrefaceBuilder {
    /// Uses these SETTINGS in the preface.
    #[must_use]
    pub fn settings(mut self, settings: SettingsBuilder) -> Self {
        self.settings = settings;
        self
    }
}

/// PING ([`ping`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingBuilder {
    pub(crate) payload: [u8; 8],
    pub(crate) ack: bool,
}

/// PING with this opaque data, without ACK.
pub fn ping(payload: [u8; 8]) -> PingBuilder {
    PingBuilder {
        payload,
        ack: false,
    }
}

impl PingBuilder {
    /// Sets the ACK flag.
    #[must_use]
    pub fn ack(mut self) -> Self {
        self.ack = true;
        self
    }
}

/// GOAWAY ([`goaway`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoAwayBuilder {
    pub(crate) last_stream_id: Option<u32>,
    pub(crate) error_code: ErrorCode,
    pub(crate) debug: Option<Bytes>,
}

/// GOAWAY with this last stream id and code, no debug data.
pub fn goaway(last_stream_id: u32, error_code: ErrorCode) -> GoAwayBuilder {
    GoAwayBuilder {
        last_stream_id: Some(last_stream_id),
        error_code,
        debug: None,
    }
}

impl GoAwayBuilder {
    /// Adds debug data (and, as an expectation, compares it).
    #[must_use]
    pub fn debug(mut self, data: impl AsRef<[u8]>) -> Self {
        self.debug = Some(Bytes::copy_from_slice(data.as_ref()));
        self
    }

    /// As an expectation, accepts any last stream id. Sent, it writes 0.
    #[must_use]
    pub fn any_last_stream_id(mut self) -> Self {
        self.last_stream_id = None;
        self
    }
}

/// WINDOW_UPDATE ([`window_update`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowUpdateBuilder {
    pub(crate) stream_id: u32,
    pub(crate) increment: u32,
}

/// WINDOW_UPDATE on `stream_id` (0: the connection) with this increment, written as it is
/// (0 and the reserved bit included).
pub fn window_update(stream_id: u32, increment: u32) -> WindowUpdateBuilder {
    WindowUpdateBuilder {
        stream_id,
        increment,
    }
}

/// RST_STREAM ([`rst_stream`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RstStreamBuilder {
    pub(crate) stream_id: u32,
    pub(crate) error_code: ErrorCode,
}

/// RST_STREAM on `stream_id` with this code.
pub fn rst_stream(stream_id: u32, error_code: ErrorCode) -> RstStreamBuilder {
    RstStreamBuilder {
        stream_id,
        error_code,
    }
}

/// PRIORITY ([`priority`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriorityBuilder {
    pub(crate) stream_id: u32,
    pub(crate) spec: PrioritySpec,
}

/// PRIORITY (RFC 9113 §6.3) for `stream_id`: depends on `dependency` with `weight`
/// 1..=256 (clamped, sent as `weight - 1`), exclusive or not.
pub fn priority(stream_id: u32, dependency: u32, weight: u16, exclusive: bool) -> PriorityBuilder {
    PriorityBuilder {
        stream_id,
        spec: priority_spec(dependency, weight, exclusive),
    }
}

/// PRIORITY_UPDATE ([`priority_update`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriorityUpdateBuilder {
    pub(crate) prioritized_stream_id: u32,
    pub(crate) field_value: Bytes,
}

/// PRIORITY_UPDATE (RFC 9218 §7.1) for `prioritized_stream_id` with a Priority Field Value
/// such as `"u=1, i"`.
pub fn priority_update(
    prioritized_stream_id: u32,
    field_value: impl AsRef<[u8]>,
) -> PriorityUpdateBuilder {
    PriorityUpdateBuilder {
        prioritized_stream_id,
        field_value: Bytes::copy_from_slice(field_value.as_ref()),
    }
}

/// ALTSVC ([`altsvc`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AltSvcBuilder {
    pub(crate) stream_id: u32,
    pub(crate) origin: Bytes,
    pub(crate) field_value: Bytes,
}

/// ALTSVC (RFC 7838 §4) on `stream_id` (0 with an origin, or a stream with an empty one).
pub fn altsvc(
    stream_id: u32,
    origin: impl AsRef<[u8]>,
    field_value: impl AsRef<[u8]>,
) -> AltSvcBuilder {
    AltSvcBuilder {
        stream_id,
        origin: Bytes::copy_from_slice(origin.as_ref()),
        field_value: Bytes::copy_from_slice(field_value.as_ref()),
    }
}

/// ORIGIN ([`origin`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginBuilder {
    pub(crate) origins: Vec<Bytes>,
}

/// ORIGIN (RFC 8336) listing these origins, on stream 0.
pub fn origin<I, O>(origins: I) -> OriginBuilder
where
    I: IntoIterator<Item = O>,
    O: AsRef<[u8]>,
{
    OriginBuilder {
        origins: origins
            .into_iter()
            .map(|o| Bytes::copy_from_slice(o.as_ref()))
            .collect(),
    }
}

/// Any frame, octet for octet ([`raw`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawBuilder {
    pub(crate) frame_type: FrameType,
    pub(crate) flags: Flags,
    pub(crate) stream_id: u32,
    pub(crate) payload: Bytes,
    pub(crate) length: Option<u32>,
}

/// A frame written exactly as given: type, flags, the full 32-bit stream id field (reserved
/// bit included) and payload. For malformed and unknown frames.
///
/// As an expectation: compares type, flags, stream id (without the reserved bit) and payload
/// of the next received frame (the first wire frame of a header block).
pub fn raw(
    frame_type: FrameType,
    flags: Flags,
    stream_id: u32,
    payload: impl AsRef<[u8]>,
) -> RawBuilder {
    RawBuilder {
        frame_type,
        flags,
        stream_id,
        payload: Bytes::copy_from_slice(payload.as_ref()),
        length: None,
    }
}

impl RawBuilder {
    /// Writes this value into the 24-bit length field instead of the payload's length (only
    /// the low 24 bits are written), to send a frame header that lies. Ignored when expecting.
    #[must_use]
    pub fn length(mut self, length: u32) -> Self {
        self.length = Some(length);
        self
    }
}

/// Any frame of this type: a pattern for [`expect`](crate::ScriptedPeer::expect) and
/// [`ignore`](crate::ScriptedPeer::ignore); it cannot be sent.
pub fn any(frame_type: FrameType) -> FrameSpec {
    FrameSpec::Any(frame_type)
}

impl fmt::Display for FrameSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::describe::spec(self, f)
    }
}
