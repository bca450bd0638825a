//! Commands (the application's side) and lazy frame generation (`poll_transmit`).

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use h2kit_frame::{ErrorCode, PrioritySpec, StreamId};
use h2kit_priority::{ExtensiblePriority, PrioritySignal};

use super::stream::Phase;
use super::trace;
use super::{Connection, Control, Ordered, PREFACE, PendingSettings, PingPurpose, Role, Shutdown};
use crate::config::LocalSettings;
use crate::error::{ConnectionError, Initiator, UsageError};
use crate::headers::{self, Field, FieldList, HeaderError, MessageKind};
use crate::state::{Input, StreamState, TransitionError};

type Result<T = ()> = core::result::Result<T, UsageError>;

/// The largest DATA payload we write, whatever the peer allows: it bounds the encoded output
/// held back when the driver takes fewer bytes than a frame (`poll_transmit`'s `max`).
const MAX_DATA_FRAME: usize = 64 * 1024;

/// DATA frames are shortened to fit the driver's `max` only down to this payload size.
const MIN_SPLIT_DATA: usize = 1024;

/// `poll_transmit_vectored` encodes frame headers, control frames and field blocks into
/// buffers of this size, split into `Bytes` as payloads are interleaved.
const OUT_BUF_CHUNK: usize = 4096;

/// `poll_transmit_vectored` copies payloads shorter than this next to their frame header:
/// an extra `Bytes` (and iovec) costs more than copying a few hundred octets.
const MIN_VECTORED_PAYLOAD: usize = 512;

/// Below this much room left in the current buffer, `poll_transmit_vectored` starts a new one.
const OUT_BUF_MIN_ROOM: usize = 512;
/// The least time between two releases of an idle connection's spare capacity.
pub(super) const SHRINK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
/// The largest field list kept for reuse (see `Connection::recycle_fields`).
const MAX_SPARE_FIELDS: usize = 16;
/// How many emptied field lists are kept for reuse (see `Connection::recycle_fields`).
const MAX_SPARE_LISTS: usize = 64;
/// How many emptied field lists a server keeps whatever the streams do. Beyond these, it
/// keeps the list of a response head only when the response's end is queued with it: a
/// stream whose body is still to come holds its slot of SETTINGS_MAX_CONCURRENT_STREAMS,
/// so no request that would reuse the list can take that slot meanwhile. A peer that opens
/// 100 streams for large responses and reads none of them would otherwise leave 64 lists
/// behind (27 KiB per connection measured), while a server answering at once (the end
/// queued with the head) keeps its lists as before.
const FEW_SPARE_LISTS: usize = 8;

/// The longest field block kept for reuse: a few indexed fields.
const MEMO_MAX_BLOCK: usize = 64;

/// A field block made of indexed fields only, with the fields it encodes (clones: the
/// bytes they share cannot be freed and reused while kept). The same fields, sharing the
/// same bytes, encode to the same octets while the HPACK table version holds (see
/// `Encoder::last_block_indexed`): a server answering from prebuilt fields (a static file
/// served again and again) then copies a few octets instead of encoding each field.
///
/// It also keeps what validating those fields found: the same fields are valid the same
/// way (the connection's validation settings do not change; the peer's consent to extended
/// CONNECT is kept with it).
pub(super) struct HeadersMemo {
    fields: Vec<Field>,
    version: u64,
    block: Vec<u8>,
    info: Option<(MessageKind, bool, headers::MessageInfo)>,
    /// The [`fingerprint`] of the last all-indexed list encoded.
    seen: u64,
}

/// Where a field list's bytes are (addresses and lengths), folded into one number: two
/// lists with the same fingerprint most likely share their bytes. Only a hint (whether to
/// keep a list in the memo); reuse checks the kept clones themselves.
fn fingerprint(fields: &[Field]) -> u64 {
    fields.iter().fold(0u64, |h, f| {
        let mix = |h: u64, b: &Bytes| {
            (h.rotate_left(5) ^ (b.as_ptr() as u64) ^ ((b.len() as u64) << 48))
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        };
        mix(mix(h, &f.name), &f.value)
    })
}

impl Connection {
    fn check_open(&self) -> Result {
        if self.error.is_some() {
            return Err(UsageError::ConnectionClosed);
        }
        Ok(())
    }

    /// Validates a field section to send by our configuration; for the fields the HEADERS
    /// memo keeps (the same bytes), what validating them found before, while the peer's
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL it depends on is the same.
    fn validate_send_list(
        &mut self,
        kind: MessageKind,
        fields: &[Field],
    ) -> Result<headers::MessageInfo> {
        let extended = self.remote.enable_connect_protocol;
        let memo = self
            .headers_memo
            .as_deref_mut()
            .filter(|m| headers::same_bytes(&m.fields, fields));
        if let Some(m) = &memo {
            if let Some((k, e, info)) = m.info {
                if k == kind && e == extended {
                    return Ok(info);
                }
            }
        }
        let info = headers::validate_fields(kind, fields, &self.config.validate_send, extended)?;
        if let Some(m) = memo {
            m.info = Some((kind, extended, info));
        }
        Ok(info)
    }

    /// (Client) Opens a stream with a request. `fields` are sent in order (pseudo-headers
    /// first); they are validated before anything touches the HPACK encoder. With
    /// `end_stream` the request has no body.
    ///
    /// An extended CONNECT (RFC 8441: `:method` CONNECT with `:protocol`, `:scheme`,
    /// `:path` and `:authority`) is allowed only once the server has enabled it
    /// ([`extended_connect_enabled`](Self::extended_connect_enabled)); both sides then
    /// exchange DATA on the stream after a 2xx response.
    ///
    /// Errors: [`UsageError::WrongRole`], [`UsageError::ConnectionClosed`] (also after the
    /// peer's GOAWAY), [`UsageError::ConcurrencyLimit`] (wait for a stream to close),
    /// [`UsageError::StreamIdsExhausted`], [`UsageError::ExtendedConnectDisabled`],
    /// [`UsageError::InvalidHeaders`].
    ///
    /// `fields` is a `Vec<Field>` (kept for later lists once written) or an `Arc<[Field]>`
    /// shared with other requests (see [`FieldList`]): a client sending the same head again
    /// and again from one shared list has it validated and encoded once (see the HEADERS
    /// memo).
    pub fn send_request(
        &mut self,
        fields: impl Into<FieldList>,
        end_stream: bool,
    ) -> Result<StreamId> {
        self.send_request_list(fields.into(), end_stream)
    }

    fn send_request_list(&mut self, fields: FieldList, end_stream: bool) -> Result<StreamId> {
        self.check_can_open()?;
        let id = self.streams.next_local_id()?;
        let info = match self.validate_send_list(MessageKind::Request, &fields) {
            Err(UsageError::InvalidHeaders(HeaderError::ExtendedConnectDisabled)) => {
                return Err(UsageError::ExtendedConnectDisabled);
            }
            other => other?,
        };
        if info.is_extended_connect && !self.remote.enable_connect_protocol {
            // Validation may be off; the peer's consent is not a validation switch.
            return Err(UsageError::ExtendedConnectDisabled);
        }
        let mut s = self.new_stream(true);
        s.head = info.is_head;
        s.send_phase = if end_stream { Phase::Done } else { Phase::Body };
        // Our own `priority` header (RFC 9218 §4) also orders our uploads.
        s.priority = super::recv::request_priority(None, &fields);
        self.streams
            .open(id, s, Input::SendHeaders { end_stream })
            .map_err(TransitionError::into_usage)?;
        self.ordered.push_back(Ordered::Headers {
            stream: id,
            fields,
            end_stream,
            priority: None,
        });
        Ok(id)
    }

    /// (Client) Whether [`send_request`](Self::send_request) would open a stream now: `Ok`
    /// when the connection is open, no GOAWAY came or went, and the peer's
    /// SETTINGS_MAX_CONCURRENT_STREAMS leaves room (streams whose END_STREAM is still queued
    /// count until it is written); otherwise the error `send_request` would return
    /// ([`UsageError::ConcurrencyLimit`]: wait for a stream to close). A driver holding
    /// requests back asks this instead of keeping its own count, so a refused `send_request`
    /// never costs it the fields.
    pub fn can_open_stream(&self) -> Result {
        self.check_can_open()
    }

    fn check_can_open(&self) -> Result {
        if self.role != Role::Client {
            return Err(UsageError::WrongRole);
        }
        self.check_open()?;
        if self.goaway_recv.is_some() || self.shutdown != Shutdown::None {
            return Err(UsageError::ConnectionClosed);
        }
        // Streams whose END_STREAM is still queued count for the peer until it arrives.
        let max = self.remote.max_concurrent_streams;
        if self.streams.concurrent(true, max) >= max {
            return Err(UsageError::ConcurrencyLimit);
        }
        Ok(())
    }

    /// (Server) Sends response headers on a request stream (or a promised one). A 1xx status
    /// is informational and may be repeated; the final status ends the header phase. With
    /// `end_stream` the response has no body.
    ///
    /// `fields` is a `Vec<Field>` (kept for later lists once written) or an `Arc<[Field]>`
    /// shared with other responses (see [`FieldList`]).
    pub fn send_response(
        &mut self,
        id: StreamId,
        fields: impl Into<FieldList>,
        end_stream: bool,
    ) -> Result {
        self.send_response_list(id, fields.into(), end_stream)
    }

    fn send_response_list(&mut self, id: StreamId, fields: FieldList, end_stream: bool) -> Result {
        if self.role != Role::Server {
            return Err(UsageError::WrongRole);
        }
        self.check_open()?;
        let phase = self.send_phase(id)?;
        if !matches!(phase, Phase::Headers | Phase::Informational) {
            return Err(UsageError::HeadersInWrongState);
        }
        let info = self.validate_send_list(MessageKind::Response, &fields)?;
        let informational = info.is_informational();
        if informational && end_stream {
            return Err(UsageError::HeadersInWrongState);
        }
        // One lookup for the transition and the phase; a refused transition leaves the
        // state as it was.
        let (_, s) = self
            .streams
            .apply(id, Input::SendHeaders { end_stream })
            .map_err(TransitionError::into_usage)?;
        s.send_phase = if informational {
            Phase::Informational
        } else if end_stream {
            Phase::Done
        } else {
            Phase::Body
        };
        if end_stream {
            s.end_queued = true;
            s.end_written = true;
        }
        self.ordered.push_back(Ordered::Headers {
            stream: id,
            fields,
            end_stream,
            priority: None,
        });
        if end_stream {
            // Without END_STREAM, sending headers never closes a stream.
            self.maybe_remove(id);
        }
        Ok(())
    }

    fn send_phase(&self, id: StreamId) -> Result<Phase> {
        self.streams
            .get(id)
            .map(|s| s.send_phase)
            .ok_or(UsageError::UnknownStream)
    }

    /// Checks a transition without applying it.
    fn check_transition(&self, id: StreamId, input: Input) -> Result {
        let s = self.streams.get(id).ok_or(UsageError::UnknownStream)?;
        s.state
            .on(input)
            .map(|_| ())
            .map_err(TransitionError::into_usage)
    }

    /// Queues `data` on stream `id` (no copy); `end_stream` ends our side after it.
    ///
    /// Data is written as the flow-control windows allow, in the order the priority scheduler
    /// chooses among streams. At most `limits.max_send_buffer_per_stream` bytes may wait per
    /// stream: beyond that [`UsageError::SendBufferFull`] (wait for
    /// [`Event::WindowUpdated`](crate::Event::WindowUpdated) and retry).
    pub fn send_data(&mut self, id: StreamId, data: Bytes, end_stream: bool) -> Result {
        self.queue_data(id, data, None, end_stream)
    }

    /// Like [`send_data`](Self::send_data), with `padding` octets of padding (plus the Pad
    /// Length octet) in every DATA frame carrying this data (RFC 9113 §6.1). Padding counts
    /// against flow control.
    pub fn send_data_padded(
        &mut self,
        id: StreamId,
        data: Bytes,
        padding: u8,
        end_stream: bool,
    ) -> Result {
        self.queue_data(id, data, Some(padding), end_stream)
    }

    fn queue_data(
        &mut self,
        id: StreamId,
        data: Bytes,
        pad: Option<u8>,
        end_stream: bool,
    ) -> Result {
        self.check_open()?;
        if let Some(p) = pad {
            if usize::from(p) + 2 > self.remote.max_frame_size as usize {
                return Err(UsageError::InvalidPadding);
            }
        }
        let limit = self.config.limits.max_send_buffer_per_stream;
        // One lookup for the checks, the transition and the queueing; a refused check or
        // transition leaves the state as it was.
        let (_, s) = self
            .streams
            .apply_checked(id, Input::SendData { end_stream }, |s| {
                match s.send_phase {
                    Phase::Body => {}
                    Phase::Done => return Err(UsageError::SendAfterEndStream),
                    Phase::Headers | Phase::Informational => {
                        return Err(UsageError::DataInWrongState);
                    }
                }
                if s.queued.saturating_add(data.len()) > limit {
                    return Err(UsageError::SendBufferFull);
                }
                Ok(())
            })?;
        if !data.is_empty() {
            s.queued += data.len();
            s.queue.push_back(super::stream::Chunk { data, pad });
        }
        if end_stream {
            s.end_queued = true;
            s.send_phase = Phase::Done;
        }
        self.streams.schedule(id, self.send_window.available());
        Ok(())
    }

    /// Queues trailers on stream `id`; they follow the queued data and end the stream.
    pub fn send_trailers(&mut self, id: StreamId, trailers: Vec<Field>) -> Result {
        self.check_open()?;
        match self.send_phase(id)? {
            Phase::Body => {}
            Phase::Done => return Err(UsageError::SendAfterEndStream),
            Phase::Headers | Phase::Informational => return Err(UsageError::HeadersInWrongState),
        }
        self.validate_send_list(MessageKind::Trailers, &trailers)?;
        // A refused transition leaves the state as it was: no separate check first.
        let (_, s) = self
            .streams
            .apply(id, Input::SendHeaders { end_stream: true })
            .map_err(TransitionError::into_usage)?;
        s.trailers = Some(Box::new(trailers));
        s.end_queued = true;
        s.send_phase = Phase::Done;
        self.streams.schedule(id, self.send_window.available());
        Ok(())
    }

    /// Resets stream `id` with `code` (RST_STREAM). Queued data is dropped. Frames the peer
    /// already sent on it are ignored for a bounded time.
    pub fn reset(&mut self, id: StreamId, code: ErrorCode) -> Result {
        self.check_open()?;
        if !self.streams.contains(id) {
            return Err(match self.stream_state(id) {
                StreamState::Idle => UsageError::UnknownStream,
                _ => UsageError::StreamClosed,
            });
        }
        let (_, s) = self
            .streams
            .apply(id, Input::SendReset)
            .map_err(TransitionError::into_usage)?;
        s.clear_output();
        self.ordered.push_back(Ordered::Reset { stream: id, code });
        self.maybe_remove(id);
        Ok(())
    }

    /// (Server) Promises a pushed response on stream `assoc` for the request `fields`
    /// (which must be safe and cacheable, RFC 9113 §8.4). Returns the promised stream, on
    /// which to [`send_response`](Self::send_response).
    pub fn push_promise(&mut self, assoc: StreamId, fields: Vec<Field>) -> Result<StreamId> {
        if self.role != Role::Server {
            return Err(UsageError::WrongRole);
        }
        self.check_open()?;
        if !self.remote.enable_push || self.goaway_recv.is_some() {
            return Err(UsageError::PushDisabled);
        }
        let promised = self.streams.next_local_id()?;
        self.check_transition(assoc, Input::SendPushPromise)?;
        self.validate_send_list(MessageKind::PromisedRequest, &fields)?;
        self.streams
            .apply(assoc, Input::SendPushPromise)
            .map_err(TransitionError::into_usage)?;
        let s = self.new_stream(true);
        self.streams.reserve(promised, s);
        self.ordered.push_back(Ordered::PushPromise {
            stream: assoc,
            promised,
            fields,
        });
        Ok(promised)
    }

    /// Gives back `len` bytes of receive capacity on stream `id` (and on the connection) once
    /// the application has consumed data: pass [`Event::Data`](crate::Event::Data)'s
    /// `flow_controlled_len`. The window policies decide when WINDOW_UPDATE frames go out.
    ///
    /// With `id` = [`StreamId::ZERO`] only the connection's capacity is given back: for data
    /// of a stream that has already ended (its own window no longer matters), a driver may
    /// pool such releases and pass their sum once.
    pub fn release_capacity(&mut self, id: StreamId, len: u32) {
        let Some(now) = self.clock() else {
            return;
        };
        let inc = self.recv_flow.release(len, now);
        self.queue_window_update(StreamId::ZERO, inc);
        let (inc, target) = match self.streams.get_mut(id) {
            // The declared rest of the body fits in what the peer may still send: the
            // stream needs no more window (more data than declared is a stream error), so
            // no WINDOW_UPDATE (a 1 MiB response in a 1 MiB window took seven).
            Some(s) if s.state.can_recv() && declared_rest_fits(s) => (0, s.recv.target()),
            Some(s) if s.state.can_recv() => (s.recv.release(len, now), s.recv.target()),
            _ => (0, 0),
        };
        self.queue_window_update(id, inc);
        if target > self.largest_stream_target {
            self.note_stream_target(target);
        }
    }

    /// Sends a PING; [`Event::PingAcknowledged`](crate::Event::PingAcknowledged) reports the
    /// round-trip time. At most `limits.max_pending_local` may be outstanding.
    pub fn ping(&mut self, payload: [u8; 8]) -> Result {
        self.check_open()?;
        if self.pings.len() >= self.config.limits.max_pending_local {
            return Err(UsageError::TooManyPending);
        }
        self.queue_ping(payload, PingPurpose::User);
        Ok(())
    }

    /// Changes our SETTINGS. Values that protect us (lower concurrency or header list limits)
    /// apply at once; the rest when the peer acknowledges. A server never announces push,
    /// and keeps SETTINGS_ENABLE_CONNECT_PROTOCOL on once it has announced it (RFC 8441 §3).
    pub fn update_settings(&mut self, settings: LocalSettings) -> Result {
        self.check_open()?;
        if !settings.is_valid() {
            return Err(UsageError::InvalidSetting);
        }
        if self.pending_settings.len() >= self.config.limits.max_pending_local {
            return Err(UsageError::TooManyPending);
        }
        let mut settings = settings;
        if self.role == Role::Server {
            settings.enable_push = false;
            // RFC 8441 §3: once announced, SETTINGS_ENABLE_CONNECT_PROTOCOL cannot be taken
            // back.
            settings.enable_connect_protocol |= self.connect_protocol_announced();
        }
        let latest = self
            .pending_settings
            .back()
            .map_or(self.local, |p| p.settings);
        let frame = self.settings_frame(&latest, &settings, false);
        self.local.max_concurrent_streams = self
            .local
            .max_concurrent_streams
            .min(settings.max_concurrent_streams);
        self.local.max_header_list_size = self
            .local
            .max_header_list_size
            .min(settings.max_header_list_size);
        self.hpack_dec
            .set_max_header_list_size(self.local.max_header_list_size as usize);
        self.control.push_back(Control::Settings(frame));
        self.pending_settings.push_back(PendingSettings {
            settings,
            sent_at: None,
        });
        Ok(())
    }

    /// Closes the connection now: GOAWAY with `code` and the last stream we processed; all
    /// queued stream output is dropped.
    pub fn go_away(&mut self, code: ErrorCode, debug_data: Bytes) -> Result {
        self.check_open()?;
        let last = self.streams.last_processed();
        self.goaway_sent = Some(last);
        self.fail(ConnectionError::GoAway {
            code,
            last_stream_id: last,
            debug_data: debug_data.clone(),
            initiator: Initiator::Local,
        });
        // `fail` dropped every queued frame; the GOAWAY is the last thing we write.
        self.control.push_back(Control::GoAway {
            last,
            code,
            debug: debug_data,
        });
        Ok(())
    }

    /// Starts a graceful shutdown (RFC 9113 §6.8): GOAWAY with last stream id 2^31-1 and a
    /// PING; when the PING returns, GOAWAY with the real last stream id. Streams in flight
    /// finish; the connection ends when none is left.
    pub fn graceful_shutdown(&mut self) -> Result {
        self.check_open()?;
        if self.shutdown != Shutdown::None {
            return Ok(());
        }
        self.shutdown = Shutdown::AwaitingPing;
        self.control.push_back(Control::GoAway {
            last: StreamId::MAX,
            code: ErrorCode::NO_ERROR,
            debug: Bytes::new(),
        });
        let payload = self.next_ping_payload();
        self.queue_ping(payload, PingPurpose::Shutdown);
        if self.role == Role::Client {
            // A client has nothing to wait for: the server cannot open streams.
            self.final_goaway();
        }
        Ok(())
    }

    // ------------------------------------------------------------ priority signals

    /// (Client) Changes the RFC 9218 priority of stream `id` with a PRIORITY_UPDATE frame;
    /// the new priority also orders what we send on the stream. Named, like
    /// [`send_priority`](Self::send_priority) and the other `send_*` commands, after the
    /// frame it sends.
    pub fn send_priority_update(&mut self, id: StreamId, priority: ExtensiblePriority) -> Result {
        if self.role != Role::Client {
            return Err(UsageError::WrongRole);
        }
        if self.error.is_some() {
            return Err(UsageError::ConnectionClosed);
        }
        let value = Bytes::from(priority.to_field_value());
        self.ordered
            .push_back(Ordered::PriorityUpdate { stream: id, value });
        // The new priority also orders what we send on the stream.
        self.streams
            .set_priority(id, PrioritySignal::extensible(priority));
        Ok(())
    }

    /// Sends an RFC 7540 PRIORITY frame for stream `id` (deprecated by RFC 9113, still
    /// understood by some servers).
    pub fn send_priority(&mut self, id: StreamId, spec: PrioritySpec) -> Result {
        if self.error.is_some() {
            return Err(UsageError::ConnectionClosed);
        }
        if id.is_zero() || spec.dependency == id {
            return Err(UsageError::FrameInWrongState);
        }
        self.ordered
            .push_back(Ordered::Priority { stream: id, spec });
        Ok(())
    }

    // ------------------------------------------------------------ ALTSVC and ORIGIN

    /// (Server) Sends an ALTSVC frame (RFC 7838 §4): on stream 0 with an `origin`, or on a
    /// stream with an empty one.
    pub fn send_altsvc(&mut self, stream: StreamId, origin: Bytes, value: Bytes) -> Result {
        if self.role != Role::Server {
            return Err(UsageError::WrongRole);
        }
        if self.error.is_some() {
            return Err(UsageError::ConnectionClosed);
        }
        if stream.is_zero() == origin.is_empty() || origin.len() > usize::from(u16::MAX) {
            return Err(UsageError::FrameInWrongState);
        }
        self.control.push_back(Control::AltSvc {
            stream,
            origin,
            value,
        });
        Ok(())
    }

    /// (Server) Sends an ORIGIN frame (RFC 8336) listing the origins this connection serves.
    pub fn send_origin(&mut self, origins: Vec<Bytes>) -> Result {
        if self.role != Role::Server {
            return Err(UsageError::WrongRole);
        }
        if self.error.is_some() {
            return Err(UsageError::ConnectionClosed);
        }
        if origins.iter().any(|o| o.len() > usize::from(u16::MAX)) {
            return Err(UsageError::FrameInWrongState);
        }
        self.control.push_back(Control::Origin(origins));
        Ok(())
    }

    // ------------------------------------------------------------ output

    /// Appends bytes to send to `buf` and returns how many; 0 means nothing is waiting.
    ///
    /// With `max`, at most that many bytes are appended (python h2's
    /// `data_to_send(amount)`); the rest of a frame cut short is kept (at most one frame) and
    /// comes first next time. Frames are generated here, lazily: control replies first, then
    /// field blocks in command order, then DATA from the stream the priority scheduler picks.
    ///
    /// Writing can queue events: a draining connection that wrote its last frame ends with
    /// [`Event::Terminated`](crate::Event::Terminated). Drain
    /// [`poll_event`](Self::poll_event) after it (see the driving contract on [`Connection`]).
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut BytesMut, max: Option<usize>) -> usize {
        let now = self.tick(now);
        let start = buf.len();
        let limit = max.unwrap_or(usize::MAX);
        loop {
            let written = buf.len() - start;
            if written >= limit {
                break;
            }
            let room = limit - written;
            if !self.staging.is_empty() {
                let n = room.min(self.staging.len());
                let part = self.staging.split_to(n);
                buf.extend_from_slice(&part);
                continue;
            }
            let before = buf.len();
            if !self.write_next(buf, room, now, None) {
                // Everything is out: a draining connection may now be done, which queues our
                // last GOAWAY.
                self.check_drained();
                if self.control.is_empty() {
                    self.shrink_if_idle(now);
                    break;
                }
                continue;
            }
            let wrote = buf.len() - before;
            if wrote > room {
                self.staging = buf.split_off(before + room);
            }
        }
        buf.len() - start
    }

    /// Like [`poll_transmit`](Self::poll_transmit), but appends the output to `out` as a list
    /// of `Bytes` for a vectored write (`writev`, `write_vectored`): DATA payloads of 512
    /// octets or more are slices of what the application queued with
    /// [`send_data`](Self::send_data), never copied; frame headers, control frames, field
    /// blocks and small payloads are encoded into shared buffers between them. Returns how
    /// many octets were appended; 0 means nothing is waiting. `max` works as for
    /// `poll_transmit` (a payload cut to fit it is copied). Both may be mixed freely, and
    /// events are drained after it as after `poll_transmit`.
    #[must_use]
    pub fn poll_transmit_vectored(
        &mut self,
        now: Instant,
        out: &mut Vec<Bytes>,
        max: Option<usize>,
    ) -> usize {
        let now = self.tick(now);
        let limit = max.unwrap_or(usize::MAX);
        let mut buf = core::mem::take(&mut self.out_buf);
        if buf.capacity() - buf.len() < OUT_BUF_MIN_ROOM {
            buf.reserve(OUT_BUF_CHUNK);
        }
        // Octets pushed to `out` by this call; `buf` holds the rest of what was written.
        let mut pushed = 0;
        loop {
            let written = pushed + buf.len();
            if written >= limit {
                break;
            }
            let room = limit - written;
            if !self.staging.is_empty() {
                if !buf.is_empty() {
                    pushed += buf.len();
                    out.push(buf.split().freeze());
                }
                let n = room.min(self.staging.len());
                pushed += n;
                out.push(self.staging.split_to(n).freeze());
                continue;
            }
            let first_new = out.len();
            if !self.write_next(&mut buf, room, now, Some(out)) {
                self.check_drained();
                if self.control.is_empty() {
                    self.shrink_if_idle(now);
                    break;
                }
                continue;
            }
            pushed += out[first_new..].iter().map(Bytes::len).sum::<usize>();
            let wrote = pushed + buf.len() - written;
            if wrote > room {
                // Only a frame written whole into `buf` can overflow (payloads are pushed
                // only when they fit), so the excess is at its end.
                self.staging = buf.split_off(buf.len() - (wrote - room));
            }
        }
        if !buf.is_empty() {
            pushed += buf.len();
            out.push(buf.split().freeze());
        }
        // An idle connection (see `shrink_if_idle`) keeps no output buffer once it has
        // released its spare capacity; while that release is put off it keeps this one.
        if !self.streams.is_empty() || !self.ordered.is_empty() || self.shrink_due.is_some() {
            self.out_buf = buf;
        }
        pushed
    }

    /// With no stream left and nothing queued, gives back the memory of queues and buffers
    /// (an idle connection holds little more than its HPACK tables). Busy connections keep
    /// their capacity, so this costs nothing per frame.
    ///
    /// A connection that serves streams releases at most once per [`SHRINK_INTERVAL`]: a
    /// busy one goes idle after each burst (h2load -m100) or after each request (-m1), and
    /// releasing then regrowing its buffers and maps every time cost about 280 instructions
    /// per request at -m100 and over 4,000 at -m1 (callgrind, `h2kit serve`). A release put
    /// off that way is a timer ([`poll_timeout`](Self::poll_timeout)): a connection that
    /// stays idle still releases its capacity one interval after the previous release.
    /// Releases after no stream (the handshake, a PING) do not count, so a connection that
    /// made one request and went quiet releases at once: 1,000 of those held 11.3 KiB each
    /// when the handshake's release put off the one after the request, 6.4 KiB without.
    pub(super) fn shrink_if_idle(&mut self, now: Instant) {
        if !self.streams.is_empty() || !self.ordered.is_empty() || !self.staging.is_empty() {
            return;
        }
        let mark = (
            self.streams.max_remote().get(),
            self.streams.next_local().get(),
        );
        let served = mark != self.shrink_mark;
        if let Some(last) = self.last_shrink.filter(|_| served) {
            if now < last + SHRINK_INTERVAL {
                if !self.holds_spare() {
                    // Nothing to give back (yet): no timer.
                    return;
                }
                self.shrink_due = Some(last + SHRINK_INTERVAL);
                return;
            }
        }
        if served {
            self.last_shrink = Some(now);
        }
        self.shrink_mark = mark;
        self.shrink_due = None;
        self.streams.shrink_to_fit();
        self.control.shrink_to_fit();
        self.ordered.shrink_to_fit();
        self.pings.shrink_to_fit();
        self.pending_settings.shrink_to_fit();
        if self.events.is_empty() {
            self.events.shrink_to_fit();
        }
        if self.inbuf.is_empty() {
            self.inbuf = BytesMut::new();
        }
        self.staging = BytesMut::new();
        self.scratch = BytesMut::new();
        self.out_buf = BytesMut::new();
        self.spare_fields = Vec::new();
        self.headers_memo = None;
        self.recv_memo = None;
    }

    /// Whether an idle connection holds capacity [`shrink_if_idle`](Self::shrink_if_idle)
    /// would give back.
    fn holds_spare(&self) -> bool {
        self.streams.capacity() > 0
            || self.inbuf.capacity() > 0
            || self.staging.capacity() > 0
            || self.scratch.capacity() > 0
            || self.out_buf.capacity() > 0
            || !self.spare_fields.is_empty()
            || self.control.capacity() > 0
            || self.ordered.capacity() > 0
            || self.headers_memo.is_some()
            || self.recv_memo.is_some()
    }

    /// Keeps the allocation of a field list, emptied, for the next received block to decode
    /// into. The connection does this itself with each list whose block it has written: a
    /// server that answers with the request's own list (see
    /// [`Event::Request`](crate::Event::Request)) then allocates no field list per request.
    /// A driver that is done with a received list (a client once it has converted a
    /// response's fields) hands it back here, so decoding the next response allocates
    /// nothing either.
    ///
    /// At most 64 lists of at most 16 fields' capacity are kept (at most 74 KiB, about
    /// 23 KiB for five-field requests); others are dropped. An idle connection drops them
    /// with its other spare capacity. A shared list (a repeated head, see
    /// [`FieldList::Shared`]) has no allocation of its own to keep: it is dropped.
    ///
    /// ```
    /// use h2kit::{Config, Connection, Field};
    /// let mut conn = Connection::client(Config::default());
    /// let list: Vec<Field> = Vec::with_capacity(8);
    /// conn.recycle_fields(list); // the next HEADERS received decodes into it
    /// ```
    pub fn recycle_fields(&mut self, fields: impl Into<FieldList>) {
        let FieldList::Owned(mut fields) = fields.into() else {
            return;
        };
        // A list too short for the blocks received lately would be grown (a copy) when
        // used: dropping it costs less.
        let fits = (self.fields_hint..=MAX_SPARE_FIELDS).contains(&fields.capacity());
        if self.spare_fields.len() < MAX_SPARE_LISTS && fits {
            fields.clear();
            self.spare_fields.push(fields);
        }
    }

    /// Writes the next frame (or field block) into `buf`. Returns false when nothing waits.
    fn write_next(
        &mut self,
        buf: &mut BytesMut,
        room: usize,
        now: Instant,
        vectored: Option<&mut Vec<Bytes>>,
    ) -> bool {
        if !self.preface_written {
            self.preface_written = true;
            if self.role == Role::Client {
                buf.extend_from_slice(PREFACE);
                return true;
            }
        }
        let start = buf.len();
        if let Some(c) = self.control.pop_front() {
            self.write_control(c, buf, now);
        } else if self.error.is_some() {
            return false;
        } else if let Some(o) = self.ordered.pop_front() {
            self.write_ordered(o, buf);
        } else {
            // Traces its frames itself: a vectored payload leaves `buf`.
            return self.write_data(buf, room, vectored);
        }
        if trace::enabled() {
            trace::sent(&buf[start..]);
        }
        true
    }

    fn write_control(&mut self, c: Control, buf: &mut BytesMut, now: Instant) {
        // Encoding only fails for arguments we never produce (stream 0 where a stream is
        // required, payloads above 2^24); such a frame is dropped rather than corrupt output.
        match c {
            Control::Settings(s) => {
                self.sent_settings = true;
                let _ = h2kit_frame::encode_settings(&s, buf);
                if let Some(p) = self
                    .pending_settings
                    .iter_mut()
                    .find(|p| p.sent_at.is_none())
                {
                    p.sent_at = Some(now);
                }
            }
            Control::SettingsAck => h2kit_frame::encode_settings_ack(buf),
            Control::Ping { ack, payload } => {
                h2kit_frame::encode_ping(ack, payload, buf);
                if !ack {
                    if let Some(p) = self
                        .pings
                        .iter_mut()
                        .find(|p| p.payload == payload && p.sent_at.is_none())
                    {
                        p.sent_at = Some(now);
                    }
                }
            }
            Control::WindowUpdate { stream, increment } => {
                let _ = h2kit_frame::encode_window_update(stream, increment, buf);
            }
            Control::Reset { stream, code } => {
                let _ = h2kit_frame::encode_rst_stream(stream, code, buf);
            }
            Control::GoAway { last, code, debug } => {
                let _ = h2kit_frame::encode_goaway(last, code, &debug, buf);
            }
            Control::AltSvc {
                stream,
                origin,
                value,
            } => {
                let _ = h2kit_frame::encode_altsvc(stream, &origin, &value, buf);
            }
            Control::Origin(origins) => {
                let _ = h2kit_frame::encode_origin(&origins, buf);
            }
        }
    }

    fn write_ordered(&mut self, o: Ordered, buf: &mut BytesMut) {
        let max_frame = self.remote.max_frame_size;
        match o {
            Ordered::Headers {
                stream,
                fields,
                end_stream,
                priority,
            } => {
                self.write_field_block(stream, &fields, end_stream, priority, buf);
                let FieldList::Owned(fields) = fields else {
                    return;
                };
                if self.spare_fields.len() < FEW_SPARE_LISTS
                    || end_stream
                    || self.role == Role::Client
                    || self.streams.get(stream).is_none_or(|s| s.end_queued)
                {
                    self.recycle_fields(fields);
                }
            }
            Ordered::PushPromise {
                stream,
                promised,
                fields,
            } => {
                self.scratch.clear();
                self.hpack_enc.encode(fields.iter(), &mut self.scratch);
                let _ = h2kit_frame::encode_push_promise(
                    stream,
                    promised,
                    &self.scratch,
                    None,
                    max_frame,
                    buf,
                );
                self.scratch.clear();
            }
            Ordered::Reset { stream, code } => {
                let _ = h2kit_frame::encode_rst_stream(stream, code, buf);
            }
            Ordered::Priority { stream, spec } => {
                let _ = h2kit_frame::encode_priority(stream, spec, buf);
            }
            Ordered::PriorityUpdate { stream, value } => {
                let _ = h2kit_frame::encode_priority_update(stream, &value, buf);
            }
        }
    }

    fn write_field_block(
        &mut self,
        stream: StreamId,
        fields: &[Field],
        end_stream: bool,
        priority: Option<PrioritySpec>,
        buf: &mut BytesMut,
    ) {
        use h2kit_frame::{FRAME_HEADER_LEN, Flags, FrameHeader, FrameType};
        if priority.is_none() && !stream.is_zero() {
            // Encode the block in place behind a header placeholder: no copy when it fits in
            // one frame, which is almost always.
            let start = buf.len();
            buf.extend_from_slice(&[0; FRAME_HEADER_LEN]);
            let version = self.hpack_enc.table_version();
            match self.headers_memo.as_deref() {
                Some(m) if m.version == version && headers::same_bytes(&m.fields, fields) => {
                    buf.extend_from_slice(&m.block);
                }
                _ => {
                    self.hpack_enc.encode(fields.iter(), buf);
                    let block = &buf[start + FRAME_HEADER_LEN..];
                    if self.hpack_enc.last_block_indexed() && block.len() <= MEMO_MAX_BLOCK {
                        let m = self.headers_memo.get_or_insert_with(|| {
                            Box::new(HeadersMemo {
                                fields: Vec::new(),
                                version: 0,
                                block: Vec::new(),
                                info: None,
                                seen: 0,
                            })
                        });
                        // Kept only for a list seen twice in a row (the same bytes): one
                        // made afresh each time, as a client's requests are, would pay
                        // for its clones and never be reused.
                        let print = fingerprint(fields);
                        if m.seen == print {
                            m.info = None;
                            m.fields.clear();
                            m.fields.extend_from_slice(fields);
                            m.block.clear();
                            m.block.extend_from_slice(block);
                            m.version = self.hpack_enc.table_version();
                        }
                        m.seen = print;
                    }
                }
            }
            let len = buf.len() - start - FRAME_HEADER_LEN;
            if len <= self.remote.max_frame_size as usize {
                let flags = Flags::END_HEADERS.with_if(Flags::END_STREAM, end_stream);
                // len ≤ max_frame_size < 2^24.
                let header = FrameHeader::new(FrameType::HEADERS, flags, stream, len as u32);
                buf[start..start + FRAME_HEADER_LEN].copy_from_slice(&header.to_bytes());
                return;
            }
            // Too large for one frame: take the block back out and split it below.
            self.scratch.clear();
            self.scratch
                .extend_from_slice(&buf[start + FRAME_HEADER_LEN..]);
            buf.truncate(start);
        } else {
            self.scratch.clear();
            self.hpack_enc.encode(fields.iter(), &mut self.scratch);
        }
        let _ = h2kit_frame::encode_headers(
            stream,
            &self.scratch,
            end_stream,
            priority,
            None,
            self.remote.max_frame_size,
            buf,
        );
        self.scratch.clear();
    }

    /// Writes one DATA frame (or the trailers / final empty DATA) of the stream the
    /// scheduler picks.
    ///
    /// With `vectored`, an unpadded payload of at least `MIN_VECTORED_PAYLOAD` octets that
    /// fits in `room` is not copied: what `buf`
    /// holds so far is split off and pushed, then the payload slice.
    fn write_data(
        &mut self,
        buf: &mut BytesMut,
        room: usize,
        mut vectored: Option<&mut Vec<Bytes>>,
    ) -> bool {
        let mut attempts = self.streams.scheduled() + 1;
        while attempts > 0 {
            attempts -= 1;
            let Some(id) = self.streams.next_scheduled() else {
                return false;
            };
            let conn_window = self.send_window.available();
            let max_frame = (self.remote.max_frame_size as usize).min(MAX_DATA_FRAME);
            let Some(s) = self.streams.get_mut(id) else {
                self.streams.unschedule(id);
                continue;
            };
            if !s.can_write(conn_window) {
                self.streams.schedule(id, conn_window);
                continue;
            }
            // Drop empty chunks (an empty `send_data` without END_STREAM).
            while s.queue.front().is_some_and(|c| c.data.is_empty()) {
                s.queue.pop_front();
            }
            let mut start = buf.len();
            if let Some(front) = s.queue.front_mut() {
                let overhead = front.overhead() as usize;
                let pad = front.pad;
                let front = &mut front.data;
                // Fit the frame into what the caller can take, unless that leaves a tiny
                // frame: then write a whole one and keep the overflow (one frame at most).
                let budget = match room.checked_sub(h2kit_frame::FRAME_HEADER_LEN) {
                    Some(b) if b >= MIN_SPLIT_DATA => b,
                    _ => usize::MAX,
                };
                // `can_write` checked that the windows exceed the padding overhead.
                let window =
                    (s.send_window.available().min(conn_window) as usize).saturating_sub(overhead);
                let n = front
                    .len()
                    .min(window)
                    .min(max_frame.saturating_sub(overhead))
                    .min(budget.saturating_sub(overhead))
                    .max(1);
                let chunk = front.split_to(n.min(front.len()));
                let n = chunk.len();
                if front.is_empty() {
                    s.queue.pop_front();
                }
                s.queued -= n;
                let last = s.queue.is_empty() && s.end_queued && s.trailers.is_none();
                // n + overhead ≤ the windows, which are ≤ 2^31-1.
                let cost = (n + overhead) as u32;
                let _ = s.send_window.consume(cost);
                let _ = self.send_window.consume(cost);
                if pad.is_some() {
                    let _ = h2kit_frame::encode_data(id, &chunk, last, pad, buf);
                } else {
                    let _ = h2kit_frame::encode_data_header(id, n, last, buf);
                    match vectored.as_deref_mut() {
                        Some(out)
                            if n >= MIN_VECTORED_PAYLOAD
                                && h2kit_frame::FRAME_HEADER_LEN + n <= room =>
                        {
                            if trace::enabled() {
                                trace::sent(&buf[start..]);
                            }
                            out.push(buf.split().freeze());
                            out.push(chunk);
                            // Traced above: nothing of this frame is left in `buf`.
                            start = buf.len();
                        }
                        _ => buf.extend_from_slice(&chunk),
                    }
                }
                if last {
                    s.end_written = true;
                }
            } else if let Some(trailers) = s.trailers.take() {
                s.end_written = true;
                self.write_field_block(id, &trailers, true, None, buf);
            } else {
                s.end_written = true;
                let _ = h2kit_frame::encode_data_header(id, 0, true, buf);
            }
            if trace::enabled() {
                trace::sent(&buf[start..]);
            }
            self.streams.schedule(id, self.send_window.available());
            self.maybe_remove(id);
            return true;
        }
        false
    }
}

/// Whether what remains of the body stream `s` receives, by its `content-length`, fits in
/// the stream's receive window as the peer sees it.
fn declared_rest_fits(s: &super::stream::Stream) -> bool {
    !s.no_body
        && s.content_length.is_some_and(|declared| {
            declared.saturating_sub(s.received) <= u64::from(s.recv.window().available())
        })
}
