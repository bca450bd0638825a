//! Typed frames and the stateless payload parser [`Frame::parse`].

use bytes::{Buf, Bytes};

use crate::error::FrameError;
use crate::header::FrameHeader;
use crate::settings::Settings;
use crate::types::{ErrorCode, Flags, FrameType, SettingId, StreamId};

/// Stream dependency and weight from a PRIORITY frame or a HEADERS frame with the PRIORITY flag
/// (RFC 9113 §5.3.2, §6.3). RFC 9113 deprecates this scheme but the fields are still parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PrioritySpec {
    /// The stream this one depends on (reserved bit masked off).
    pub dependency: StreamId,
    /// The E flag: an exclusive dependency.
    pub exclusive: bool,
    /// The wire weight, 0..=255; the weight it stands for is one more (1..=256).
    pub weight: u8,
}

impl PrioritySpec {
    /// The RFC 7540 default: depend on stream 0, not exclusive, weight 16 (wire 15).
    pub const DEFAULT: Self = Self {
        dependency: StreamId::ZERO,
        exclusive: false,
        weight: 15,
    };

    /// Length of the priority fields on the wire.
    pub const LEN: usize = 5;

    /// Reads the 5-octet fields.
    pub const fn from_bytes(b: &[u8; 5]) -> Self {
        let raw = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        Self {
            dependency: StreamId::new(raw),
            exclusive: raw & 0x8000_0000 != 0,
            weight: b[4],
        }
    }

    /// The 5 wire octets.
    pub const fn to_bytes(&self) -> [u8; 5] {
        let raw = self.dependency.get() | if self.exclusive { 0x8000_0000 } else { 0 };
        let d = raw.to_be_bytes();
        [d[0], d[1], d[2], d[3], self.weight]
    }
}

impl Default for PrioritySpec {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// DATA (RFC 9113 §6.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Data {
    /// The stream (never 0 when decoded).
    pub stream_id: StreamId,
    /// The application data, a slice of the receive buffer.
    pub data: Bytes,
    /// END_STREAM.
    pub end_stream: bool,
    /// `Some(n)` when the frame had the PADDED flag with n octets of padding.
    pub pad_len: Option<u8>,
}

impl Data {
    /// Unpadded DATA without END_STREAM.
    pub fn new(stream_id: StreamId, data: Bytes) -> Self {
        Self {
            stream_id,
            data,
            end_stream: false,
            pad_len: None,
        }
    }

    /// Octets that count against flow control (RFC 9113 §6.9.1): data, padding and the Pad
    /// Length octet. For a decoded frame this is exactly the header's length field.
    pub fn flow_controlled_len(&self) -> u32 {
        let pad = self.pad_len.map_or(0, |p| usize::from(p) + 1);
        u32::try_from(self.data.len().saturating_add(pad)).unwrap_or(u32::MAX)
    }
}

/// HEADERS (RFC 9113 §6.2): opens a stream or carries trailers; its field block may continue in
/// CONTINUATION frames.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Headers {
    /// The stream (never 0 when decoded).
    pub stream_id: StreamId,
    /// The field block fragment (HPACK-encoded), a slice of the receive buffer.
    pub fragment: Bytes,
    /// END_STREAM.
    pub end_stream: bool,
    /// END_HEADERS: no CONTINUATION follows.
    pub end_headers: bool,
    /// The priority fields, when the PRIORITY flag was set.
    pub priority: Option<PrioritySpec>,
    /// `Some(n)` when the frame had the PADDED flag with n octets of padding.
    pub pad_len: Option<u8>,
}

impl Headers {
    /// A complete (END_HEADERS) unpadded block without priority or END_STREAM.
    pub fn new(stream_id: StreamId, fragment: Bytes) -> Self {
        Self {
            stream_id,
            fragment,
            end_stream: false,
            end_headers: true,
            priority: None,
            pad_len: None,
        }
    }
}

/// PRIORITY (RFC 9113 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Priority {
    /// The stream being prioritised.
    pub stream_id: StreamId,
    /// Its dependency and weight.
    pub spec: PrioritySpec,
}

/// RST_STREAM (RFC 9113 §6.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RstStream {
    /// The stream being reset.
    pub stream_id: StreamId,
    /// Why.
    pub error_code: ErrorCode,
}

/// PUSH_PROMISE (RFC 9113 §6.6).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PushPromise {
    /// The stream the promise is made on.
    pub stream_id: StreamId,
    /// The stream being reserved (reserved bit masked off).
    pub promised_id: StreamId,
    /// The field block fragment of the promised request.
    pub fragment: Bytes,
    /// END_HEADERS.
    pub end_headers: bool,
    /// `Some(n)` when the frame had the PADDED flag with n octets of padding.
    pub pad_len: Option<u8>,
}

/// PING (RFC 9113 §6.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ping {
    /// The ACK flag: this is the answer to a PING.
    pub ack: bool,
    /// The opaque data, echoed in the answer.
    pub payload: [u8; 8],
}

/// GOAWAY (RFC 9113 §6.8).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GoAway {
    /// The highest stream the sender may have processed (reserved bit masked off).
    pub last_stream_id: StreamId,
    /// Why the connection is closing.
    pub error_code: ErrorCode,
    /// Opaque diagnostic data.
    pub debug_data: Bytes,
}

/// WINDOW_UPDATE (RFC 9113 §6.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WindowUpdate {
    /// Stream 0 for the connection window, otherwise the stream's.
    pub stream_id: StreamId,
    /// The increment, 1..=2^31-1 when decoded (reserved bit masked off).
    pub increment: u32,
}

/// CONTINUATION (RFC 9113 §6.10).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Continuation {
    /// The stream (never 0 when decoded).
    pub stream_id: StreamId,
    /// The next piece of the field block.
    pub fragment: Bytes,
    /// END_HEADERS: the field block is complete.
    pub end_headers: bool,
}

/// ALTSVC (RFC 7838 §4): an alternative service advertisement.
///
/// Decoded only in the valid shapes: on stream 0 with a non-empty origin, or on a stream with
/// an empty origin. RFC 7838 §4 says to ignore the other shapes, so the decoder returns those as
/// [`Frame::Unknown`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AltSvc {
    /// Stream 0, or the stream whose origin is meant.
    pub stream_id: StreamId,
    /// The origin (empty on a stream).
    pub origin: Bytes,
    /// The Alt-Svc field value.
    pub field_value: Bytes,
}

/// ORIGIN (RFC 8336 §2): the origins the server is authoritative for.
///
/// Decoded only on stream 0; RFC 8336 §2.1 says ORIGIN on other streams is ignored, so the
/// decoder returns it as [`Frame::Unknown`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Origin {
    /// The ASCII origins in wire order, slices of the receive buffer.
    pub origins: Vec<Bytes>,
}

/// PRIORITY_UPDATE (RFC 9218 §7.1), always on stream 0.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PriorityUpdate {
    /// The request stream (or push id) being reprioritised (reserved bit masked off); never 0
    /// when decoded.
    pub prioritized_stream_id: StreamId,
    /// The Priority Field Value (RFC 9218 §4), as ASCII octets, not yet parsed.
    pub field_value: Bytes,
}

/// A frame of a type this crate does not know, or one that an extension says to ignore in the
/// shape it arrived in (see [`AltSvc`], [`Origin`]). Kept whole so it can be skipped, logged or
/// passed on (RFC 9113 §4.1, §5.5).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Unknown {
    /// The type octet.
    pub frame_type: FrameType,
    /// The flags octet, as received.
    pub flags: Flags,
    /// The stream id.
    pub stream_id: StreamId,
    /// The payload, a slice of the receive buffer.
    pub payload: Bytes,
}

/// One HTTP/2 frame.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Frame {
    /// DATA (RFC 9113 §6.1).
    Data(Data),
    /// HEADERS (RFC 9113 §6.2).
    Headers(Headers),
    /// PRIORITY (RFC 9113 §6.3).
    Priority(Priority),
    /// RST_STREAM (RFC 9113 §6.4).
    RstStream(RstStream),
    /// SETTINGS without ACK (RFC 9113 §6.5), already validated.
    Settings(Settings),
    /// SETTINGS with ACK (RFC 9113 §6.5).
    SettingsAck,
    /// PUSH_PROMISE (RFC 9113 §6.6).
    PushPromise(PushPromise),
    /// PING (RFC 9113 §6.7).
    Ping(Ping),
    /// GOAWAY (RFC 9113 §6.8).
    GoAway(GoAway),
    /// WINDOW_UPDATE (RFC 9113 §6.9).
    WindowUpdate(WindowUpdate),
    /// CONTINUATION (RFC 9113 §6.10).
    Continuation(Continuation),
    /// ALTSVC (RFC 7838 §4).
    AltSvc(AltSvc),
    /// ORIGIN (RFC 8336 §2).
    Origin(Origin),
    /// PRIORITY_UPDATE (RFC 9218 §7.1).
    PriorityUpdate(PriorityUpdate),
    /// Any other type, kept so it can be skipped.
    Unknown(Unknown),
}

impl Frame {
    /// The frame type this frame is sent as.
    pub fn frame_type(&self) -> FrameType {
        match self {
            Self::Data(_) => FrameType::DATA,
            Self::Headers(_) => FrameType::HEADERS,
            Self::Priority(_) => FrameType::PRIORITY,
            Self::RstStream(_) => FrameType::RST_STREAM,
            Self::Settings(_) | Self::SettingsAck => FrameType::SETTINGS,
            Self::PushPromise(_) => FrameType::PUSH_PROMISE,
            Self::Ping(_) => FrameType::PING,
            Self::GoAway(_) => FrameType::GOAWAY,
            Self::WindowUpdate(_) => FrameType::WINDOW_UPDATE,
            Self::Continuation(_) => FrameType::CONTINUATION,
            Self::AltSvc(_) => FrameType::ALTSVC,
            Self::Origin(_) => FrameType::ORIGIN,
            Self::PriorityUpdate(_) => FrameType::PRIORITY_UPDATE,
            Self::Unknown(u) => u.frame_type,
        }
    }

    /// The stream id of the frame header (0 for connection-level frames).
    pub fn stream_id(&self) -> StreamId {
        match self {
            Self::Data(f) => f.stream_id,
            Self::Headers(f) => f.stream_id,
            Self::Priority(f) => f.stream_id,
            Self::RstStream(f) => f.stream_id,
            Self::PushPromise(f) => f.stream_id,
            Self::WindowUpdate(f) => f.stream_id,
            Self::Continuation(f) => f.stream_id,
            Self::AltSvc(f) => f.stream_id,
            Self::Unknown(f) => f.stream_id,
            Self::Settings(_)
            | Self::SettingsAck
            | Self::Ping(_)
            | Self::GoAway(_)
            | Self::Origin(_)
            | Self::PriorityUpdate(_) => StreamId::ZERO,
        }
    }

    /// Parses a payload that has already been cut off the input, applying every stateless
    /// frame-level rule of RFC 9113 §6 and the extension RFCs.
    ///
    /// `payload.len()` is authoritative (a mismatching `header.length` is not looked at);
    /// the SETTINGS_MAX_FRAME_SIZE check and the CONTINUATION sequencing rule are
    /// [`FrameDecoder`](crate::FrameDecoder)'s, not this function's. Fields of the result
    /// are slices of `payload`, never copies.
    pub fn parse(header: FrameHeader, payload: Bytes) -> Result<Frame, FrameError> {
        let sid = header.stream_id;
        let flags = header.flags;
        let length = len_u32(&payload);
        let ft = header.frame_type;
        Ok(match ft {
            FrameType::DATA => {
                require_stream(ft, sid)?;
                let (data, pad_len) = strip_padding(ft, sid, flags, payload, 0)?;
                Frame::Data(Data {
                    stream_id: sid,
                    data,
                    end_stream: flags.contains(Flags::END_STREAM),
                    pad_len,
                })
            }
            FrameType::HEADERS => {
                require_stream(ft, sid)?;
                let has_priority = flags.contains(Flags::PRIORITY);
                let fixed = if has_priority { PrioritySpec::LEN } else { 0 };
                let (mut fragment, pad_len) = strip_padding(ft, sid, flags, payload, fixed)?;
                let priority = if has_priority {
                    let spec = read_array::<5>(&fragment)
                        .map(|b| PrioritySpec::from_bytes(&b))
                        .ok_or(FrameError::HeadersTooShort {
                            stream_id: sid,
                            length,
                        })?;
                    fragment.advance(PrioritySpec::LEN);
                    Some(spec)
                } else {
                    None
                };
                let headers = Headers {
                    stream_id: sid,
                    fragment,
                    end_stream: flags.contains(Flags::END_STREAM),
                    end_headers: flags.contains(Flags::END_HEADERS),
                    priority,
                    pad_len,
                };
                if priority.is_some_and(|p| p.dependency == sid) {
                    return Err(FrameError::HeadersSelfDependency {
                        headers: Box::new(headers),
                    });
                }
                Frame::Headers(headers)
            }
            FrameType::PRIORITY => {
                require_stream(ft, sid)?;
                let spec = read_exact::<5>(&payload)
                    .map(|b| PrioritySpec::from_bytes(&b))
                    .ok_or(FrameError::PriorityLength {
                        stream_id: sid,
                        length,
                    })?;
                if spec.dependency == sid {
                    return Err(FrameError::PrioritySelfDependency { stream_id: sid });
                }
                Frame::Priority(Priority {
                    stream_id: sid,
                    spec,
                })
            }
            FrameType::RST_STREAM => {
                require_stream(ft, sid)?;
                let code = read_exact::<4>(&payload).map(u32::from_be_bytes).ok_or(
                    FrameError::RstStreamLength {
                        stream_id: sid,
                        length,
                    },
                )?;
                Frame::RstStream(RstStream {
                    stream_id: sid,
                    error_code: ErrorCode(code),
                })
            }
            FrameType::SETTINGS => {
                forbid_stream(ft, sid)?;
                if flags.contains(Flags::ACK) {
                    if !payload.is_empty() {
                        return Err(FrameError::SettingsAckWithPayload { length });
                    }
                    Frame::SettingsAck
                } else {
                    if payload.len() % 6 != 0 {
                        return Err(FrameError::SettingsLength { length });
                    }
                    let settings: Settings = payload
                        .chunks_exact(6)
                        .map(|c| {
                            let id = u16::from_be_bytes([c[0], c[1]]);
                            let value = u32::from_be_bytes([c[2], c[3], c[4], c[5]]);
                            (SettingId(id), value)
                        })
                        .collect();
                    settings.validate()?;
                    Frame::Settings(settings)
                }
            }
            FrameType::PUSH_PROMISE => {
                require_stream(ft, sid)?;
                let (mut rest, pad_len) = strip_padding(ft, sid, flags, payload, 4)?;
                let promised = read_array::<4>(&rest).map(u32::from_be_bytes).ok_or(
                    FrameError::PushPromiseTooShort {
                        stream_id: sid,
                        length,
                    },
                )?;
                Frame::PushPromise(PushPromise {
                    stream_id: sid,
                    promised_id: StreamId::new(promised),
                    fragment: {
                        rest.advance(4);
                        rest
                    },
                    end_headers: flags.contains(Flags::END_HEADERS),
                    pad_len,
                })
            }
            FrameType::PING => {
                forbid_stream(ft, sid)?;
                let payload = read_exact::<8>(&payload).ok_or(FrameError::PingLength { length })?;
                Frame::Ping(Ping {
                    ack: flags.contains(Flags::ACK),
                    payload,
                })
            }
            FrameType::GOAWAY => {
                forbid_stream(ft, sid)?;
                let fixed =
                    read_array::<8>(&payload).ok_or(FrameError::GoAwayTooShort { length })?;
                let [a, b, c, d, e, f, g, h] = fixed;
                Frame::GoAway(GoAway {
                    last_stream_id: StreamId::new(u32::from_be_bytes([a, b, c, d])),
                    error_code: ErrorCode(u32::from_be_bytes([e, f, g, h])),
                    debug_data: {
                        let mut p = payload;
                        p.advance(8);
                        p
                    },
                })
            }
            FrameType::WINDOW_UPDATE => {
                let raw = read_exact::<4>(&payload).map(u32::from_be_bytes).ok_or(
                    FrameError::WindowUpdateLength {
                        stream_id: sid,
                        length,
                    },
                )?;
                let increment = raw & 0x7fff_ffff;
                if increment == 0 {
                    return Err(if sid.is_zero() {
                        FrameError::ZeroConnectionWindowIncrement
                    } else {
                        FrameError::ZeroStreamWindowIncrement { stream_id: sid }
                    });
                }
                Frame::WindowUpdate(WindowUpdate {
                    stream_id: sid,
                    increment,
                })
            }
            FrameType::CONTINUATION => {
                require_stream(ft, sid)?;
                Frame::Continuation(Continuation {
                    stream_id: sid,
                    fragment: payload,
                    end_headers: flags.contains(Flags::END_HEADERS),
                })
            }
            FrameType::ALTSVC => {
                let malformed = FrameError::AltSvcMalformed {
                    stream_id: sid,
                    length,
                };
                let origin_len = read_array::<2>(&payload)
                    .map(u16::from_be_bytes)
                    .ok_or(malformed.clone())?;
                let end = 2 + usize::from(origin_len);
                if end > payload.len() {
                    return Err(malformed);
                }
                let origin = payload.slice(2..end);
                if origin.is_empty() == sid.is_zero() {
                    // RFC 7838 §4: empty origin on stream 0, or an origin on a stream: ignore.
                    return Ok(unknown(header, payload));
                }
                Frame::AltSvc(AltSvc {
                    stream_id: sid,
                    origin,
                    field_value: payload.slice(end..),
                })
            }
            FrameType::ORIGIN => {
                if !sid.is_zero() {
                    // RFC 8336 §2.1: ORIGIN on a stream other than 0 is ignored.
                    return Ok(unknown(header, payload));
                }
                let mut origins = Vec::new();
                let mut pos = 0usize;
                while pos < payload.len() {
                    let n = payload
                        .get(pos..pos + 2)
                        .and_then(|b| b.try_into().ok())
                        .map(u16::from_be_bytes)
                        .ok_or(FrameError::OriginMalformed { length })?;
                    let start = pos + 2;
                    let end = start + usize::from(n);
                    if end > payload.len() {
                        return Err(FrameError::OriginMalformed { length });
                    }
                    origins.push(payload.slice(start..end));
                    pos = end;
                }
                Frame::Origin(Origin { origins })
            }
            FrameType::PRIORITY_UPDATE => {
                forbid_stream(ft, sid)?;
                let raw = read_array::<4>(&payload)
                    .map(u32::from_be_bytes)
                    .ok_or(FrameError::PriorityUpdateTooShort { length })?;
                let prioritized_stream_id = StreamId::new(raw);
                if prioritized_stream_id.is_zero() {
                    return Err(FrameError::PriorityUpdateForStreamZero);
                }
                Frame::PriorityUpdate(PriorityUpdate {
                    prioritized_stream_id,
                    field_value: {
                        let mut p = payload;
                        p.advance(4);
                        p
                    },
                })
            }
            _ => unknown(header, payload),
        })
    }
}

fn unknown(header: FrameHeader, payload: Bytes) -> Frame {
    Frame::Unknown(Unknown {
        frame_type: header.frame_type,
        flags: header.flags,
        stream_id: header.stream_id,
        payload,
    })
}

pub(crate) fn len_u32(b: &[u8]) -> u32 {
    u32::try_from(b.len()).unwrap_or(u32::MAX)
}

fn require_stream(frame_type: FrameType, sid: StreamId) -> Result<(), FrameError> {
    if sid.is_zero() {
        Err(FrameError::StreamIdRequired { frame_type })
    } else {
        Ok(())
    }
}

fn forbid_stream(frame_type: FrameType, stream_id: StreamId) -> Result<(), FrameError> {
    if stream_id.is_zero() {
        Ok(())
    } else {
        Err(FrameError::StreamIdForbidden {
            frame_type,
            stream_id,
        })
    }
}

/// The first `N` octets, if there are at least `N`.
fn read_array<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    b.get(..N)?.try_into().ok()
}

/// All octets, if there are exactly `N`.
fn read_exact<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    b.try_into().ok()
}

/// Removes the Pad Length octet and the padding (RFC 9113 §6.1, §6.2, §6.6). `fixed` is the
/// number of mandatory octets after the Pad Length octet (priority fields, promised id), which
/// stay at the start of the returned slice.
fn strip_padding(
    frame_type: FrameType,
    stream_id: StreamId,
    flags: Flags,
    payload: Bytes,
    fixed: usize,
) -> Result<(Bytes, Option<u8>), FrameError> {
    let padded = flags.contains(Flags::PADDED);
    let mandatory = fixed + usize::from(padded);
    let length = len_u32(&payload);
    if payload.len() < mandatory {
        return Err(match frame_type {
            FrameType::DATA => FrameError::DataPadLengthMissing { stream_id },
            FrameType::HEADERS => FrameError::HeadersTooShort { stream_id, length },
            _ => FrameError::PushPromiseTooShort { stream_id, length },
        });
    }
    if !padded {
        return Ok((payload, None));
    }
    let pad_len = payload.first().copied().unwrap_or(0);
    let room = payload.len() - mandatory;
    if usize::from(pad_len) > room {
        return Err(FrameError::PaddingTooLong {
            frame_type,
            stream_id,
            pad_len,
            length,
        });
    }
    let end = payload.len() - usize::from(pad_len);
    let mut payload = payload;
    payload.truncate(end);
    payload.advance(1);
    Ok((payload, Some(pad_len)))
}
