//! Input: bytes in, frames out of the decoder, each frame applied to the connection.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use h2kit_frame::{
    Continuation, Data, ErrorCode, ErrorScope, FRAME_HEADER_LEN, Frame, FrameError, FrameHeader,
    GoAway, Headers, Ping, Priority, PriorityUpdate, PushPromise, RstStream, SettingId, Settings,
    StreamId, WindowUpdate,
};
use h2kit_priority::{ExtensiblePriority, PrioritySignal, TreePriority};

use super::stream::Phase;
use super::trace;
use super::{Block, Connection, Control, Ordered, PREFACE, PingPurpose, Role};
use crate::error::{
    ConnectionError, Initiator, LimitExceeded, PeerError, ProtocolViolation, StreamError,
};
use crate::event::{Event, SettingChange};
use crate::headers::{self, Field, FieldList, MessageKind};
use crate::state::{CloseCause, Effects, Input, StreamState, TransitionError};

type Result<T = ()> = core::result::Result<T, ConnectionError>;

fn violation(v: ProtocolViolation) -> ConnectionError {
    ConnectionError::Violation(v)
}

/// The priority signals carried by a request: the HEADERS priority fields and the `priority`
/// header field (RFC 9218 §5; several lines are joined with ", ").
pub(super) fn request_priority(
    spec: Option<h2kit_frame::PrioritySpec>,
    fields: &[Field],
) -> PrioritySignal {
    let tree = spec.map(|p| TreePriority::from_wire(p.dependency.get(), p.weight, p.exclusive));
    let mut lines = fields.iter().filter(|f| f.name.as_ref() == b"priority");
    let extensible = match (lines.next(), lines.next()) {
        (None, _) => None,
        (Some(one), None) => Some(ExtensiblePriority::parse(&one.value)),
        (Some(first), Some(second)) => {
            let mut joined = Vec::with_capacity(first.value.len() + second.value.len() + 2);
            joined.extend_from_slice(&first.value);
            for f in [second].into_iter().chain(lines) {
                joined.extend_from_slice(b", ");
                joined.extend_from_slice(&f.value);
            }
            Some(ExtensiblePriority::parse(&joined))
        }
    };
    PrioritySignal { tree, extensible }
}

/// The most fields a decoded list is sized for up front (it grows past this as needed).
const MAX_FIELDS_HINT: usize = 32;

/// The longest received field block kept in the receive memo.
const MEMO_MAX_BLOCK: usize = 64;

/// The last received field block that changed nothing in the HPACK decoder
/// (`Decoder::last_block_repeatable`), with the fields it decoded to and what validating
/// them found (set by `validate_recv`). The same octets at the same decoder table version
/// decode to the same fields: a peer that sends the same head again and again (a client
/// polling one resource, a load generator, a server's responses for one file) is then not
/// decoded nor validated again. The fields share the decoder's storage, or own a copy of
/// what was a slice of the input (a plain literal such as nghttpd's `content-length`), so
/// keeping them pins no input buffer.
pub(super) struct RecvMemo {
    pub(super) block: Vec<u8>,
    pub(super) version: u64,
    pub(super) fields: Arc<[Field]>,
    /// `fields` are those `block` decodes to (they are kept from its second coming on).
    pub(super) filled: bool,
    /// The kind validated as, whether extended CONNECT was allowed then, and the result.
    pub(super) info: Option<(MessageKind, bool, headers::MessageInfo)>,
}

/// Joins the `cookie` fields of a received head into one (RFC 9113 §8.2.3); a shared list
/// is copied only when it has two or more to join.
fn join_cookies(fields: &mut FieldList) {
    match fields {
        FieldList::Owned(list) => headers::join_cookies(list),
        FieldList::Shared(shared) => {
            let cookies = shared.iter().filter(|f| headers::is_cookie(f)).count();
            if cookies > 1 {
                let mut list = shared.to_vec();
                headers::join_cookies(&mut list);
                *fields = FieldList::Owned(list);
            }
        }
    }
}

/// `field` apart from the block it was decoded from: a name or value that is a slice of
/// `block` (a literal not Huffman-coded) is copied, the others (table entries, decoded
/// Huffman strings) are shared.
fn detached(field: &Field, block: &[u8]) -> Field {
    let inside = |b: &Bytes| block.as_ptr_range().contains(&b.as_ptr());
    let own = |b: &Bytes| {
        if inside(b) {
            Bytes::copy_from_slice(b)
        } else {
            b.clone()
        }
    };
    Field {
        name: own(&field.name),
        value: own(&field.value),
        repr: field.repr,
    }
}

/// WINDOW_UPDATE increments at or above this (or an eighth of the peer's initial stream
/// window, if smaller) are never counted as a flood.
const SMALL_WINDOW_UPDATE: u32 = 1024;

impl Connection {
    /// Feeds bytes received from the transport, in any split (down to one byte at a time).
    ///
    /// Complete frames are processed at once; events and replies queue up for
    /// [`poll_event`](Self::poll_event) and [`poll_transmit`](Self::poll_transmit). A connection
    /// error is returned (and reported as [`Event::Terminated`] after the events produced before
    /// it); later calls return it again and ignore their input.
    pub fn recv(&mut self, now: Instant, data: &[u8]) -> Result {
        let now = self.tick(now);
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if data.is_empty() {
            return Ok(());
        }
        self.last_recv = Some(now);
        let mut data = data;
        if self.preface_left > 0 {
            let offset = PREFACE.len() - self.preface_left;
            let n = self.preface_left.min(data.len());
            let expected = PREFACE.get(offset..offset + n);
            if expected != data.get(..n) {
                self.fail(violation(ProtocolViolation::BadPreface));
                return Err(violation(ProtocolViolation::BadPreface));
            }
            self.preface_left -= n;
            data = data.get(n..).unwrap_or_default();
        }
        self.inbuf.extend_from_slice(data);
        self.decode_input(now)
    }

    /// [`recv`](Self::recv) without the copy: `read` appends received bytes to the
    /// connection's own input buffer (a transport's `read_buf` into it, say), and they are
    /// then processed as `recv` processes its input. Returns what `read` returned and the
    /// outcome, as `recv`'s. `read` may reserve room, but must only append: the buffer may
    /// hold the start of a frame.
    ///
    /// The buffer is where received DATA payloads are handed out from, zero-copy: once the
    /// application has dropped them, reserving room reuses it in place.
    pub fn recv_into<R>(
        &mut self,
        now: Instant,
        read: impl FnOnce(&mut BytesMut) -> R,
    ) -> (R, Result) {
        let start = self.inbuf.len();
        let out = read(&mut self.inbuf);
        let now = self.tick(now);
        if let Some(e) = &self.error {
            // Input after a connection error is ignored, as `recv` ignores it.
            self.inbuf = BytesMut::new();
            return (out, Err(e.clone()));
        }
        if self.inbuf.len() <= start {
            return (out, Ok(()));
        }
        self.last_recv = Some(now);
        if self.preface_left > 0 {
            // Nothing but the preface was received before: the buffer holds the new input
            // only (`recv` never buffers the preface).
            let offset = PREFACE.len() - self.preface_left;
            let n = self.preface_left.min(self.inbuf.len() - start);
            if PREFACE.get(offset..offset + n) != self.inbuf.get(start..start + n) {
                self.fail(violation(ProtocolViolation::BadPreface));
                return (out, Err(violation(ProtocolViolation::BadPreface)));
            }
            self.preface_left -= n;
            let mut rest = self.inbuf.split_off(start);
            rest.advance(n);
            self.inbuf.unsplit(rest);
        }
        (out, self.decode_input(now))
    }

    /// Decodes and applies the complete frames in the input buffer.
    fn decode_input(&mut self, now: Instant) -> Result {
        // Checked once per read, not per frame.
        let traced = trace::enabled();
        while self.error.is_none() {
            if traced {
                self.trace_next_received();
            }
            let outcome = match self.decoder.decode(&mut self.inbuf) {
                Ok(None) => break,
                Ok(Some(frame)) => self.on_frame(frame, now),
                Err(e) => self.on_frame_error(e, now),
            };
            if let Err(e) = outcome {
                self.fail(e);
            }
        }
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Traces the frame the next `decode` takes, if it takes one: a whole frame, or one
    /// rejected for its length alone, after what remains of a rejected frame's payload.
    #[cold]
    fn trace_next_received(&self) {
        let Some(next) = self.inbuf.get(self.decoder.skip_len()..) else {
            return;
        };
        if let Some(header) = FrameHeader::parse(next) {
            let whole = next.len() - FRAME_HEADER_LEN >= header.length as usize;
            if whole || header.length > self.decoder.max_frame_size() {
                trace::received(&header);
            }
        }
    }

    fn on_frame(&mut self, frame: Frame, now: Instant) -> Result {
        if !self.got_settings && !matches!(frame, Frame::Settings(_)) {
            return Err(violation(match self.role {
                Role::Server => ProtocolViolation::BadPreface,
                Role::Client => ProtocolViolation::ExpectedSettingsFirst,
            }));
        }
        match frame {
            Frame::Data(d) => self.on_data(d, now),
            Frame::Headers(h) => self.on_headers_frame(h, false, now),
            Frame::Continuation(c) => self.on_continuation(c, now),
            Frame::PushPromise(p) => self.on_push_promise_frame(p, now),
            Frame::Priority(p) => self.on_priority(p, now),
            Frame::RstStream(r) => self.on_rst(r, now),
            Frame::Settings(s) => self.on_settings(s, now),
            Frame::SettingsAck => self.on_settings_ack(now),
            Frame::Ping(p) => self.on_ping(p, now),
            Frame::GoAway(g) => self.on_goaway(g),
            Frame::WindowUpdate(w) => self.on_window_update(w, now),
            Frame::PriorityUpdate(p) => self.on_priority_update(p, now),
            Frame::AltSvc(a) => {
                if self.role == Role::Client {
                    self.events.push_back(Event::AltSvc {
                        stream: a.stream_id,
                        origin: a.origin,
                        field_value: a.field_value,
                    });
                }
                Ok(())
            }
            Frame::Origin(o) => {
                if self.role == Role::Client {
                    self.events.push_back(Event::Origin { origins: o.origins });
                }
                Ok(())
            }
            Frame::Unknown(u) => {
                self.events.push_back(Event::UnknownFrame {
                    frame_type: u.frame_type,
                    flags: u.flags,
                    stream: u.stream_id,
                    payload: u.payload,
                });
                Ok(())
            }
        }
    }

    fn on_frame_error(&mut self, e: FrameError, now: Instant) -> Result {
        match e.scope() {
            ErrorScope::Connection => Err(violation(ProtocolViolation::Frame(e))),
            ErrorScope::Stream(id) => {
                let flow = e.flow_controlled_len();
                if flow > 0 {
                    let inc = self
                        .recv_flow
                        .on_discarded(flow, now)
                        .map_err(|_| violation(ProtocolViolation::FlowControlExceeded))?;
                    self.queue_window_update(StreamId::ZERO, inc);
                }
                if let FrameError::HeadersSelfDependency { headers } = e {
                    // The field block must still reach the HPACK decoder (RFC 9113 §4.3).
                    return self.on_headers_frame(*headers, true, now);
                }
                self.stream_error(id, ProtocolViolation::Frame(e), now)
            }
        }
    }

    // ------------------------------------------------------------ helpers

    /// Queues a reply frame; a peer that does not read its replies ends the connection.
    /// Queues a RST_STREAM the library sends on its own (a stream error, a refusal). It
    /// goes ahead of the application's frames, except after frames already queued on the
    /// same stream (response HEADERS, a PUSH_PROMISE, queued while the stream was open):
    /// nothing but PRIORITY may follow RST_STREAM (RFC 9113 §5.1). Jumping ahead of a
    /// promise made a client see it on a closed stream (found by `cargo fuzz run
    /// connection_ops`).
    fn queue_reset(&mut self, stream: StreamId, code: ErrorCode) -> Result {
        if self.ordered.iter().any(|o| o.stream() == stream) {
            self.ordered.push_back(Ordered::Reset { stream, code });
            Ok(())
        } else {
            self.reply(Control::Reset { stream, code })
        }
    }

    fn reply(&mut self, c: Control) -> Result {
        if self.control.len() >= self.config.limits.max_control_queue {
            return Err(ConnectionError::Limit(LimitExceeded::ControlQueue));
        }
        self.control.push_back(c);
        Ok(())
    }

    /// Queues a WINDOW_UPDATE, merged into one already queued for the same stream.
    pub(super) fn queue_window_update(&mut self, stream: StreamId, increment: u32) {
        if increment == 0 || self.error.is_some() {
            return;
        }
        for c in self.control.iter_mut() {
            if let Control::WindowUpdate {
                stream: s,
                increment: i,
            } = c
            {
                if *s == stream {
                    // Both were clamped by the window they open, so the sum stays ≤ 2^31-1.
                    *i = i.saturating_add(increment).min(crate::flow::MAX_WINDOW);
                    return;
                }
            }
        }
        self.control
            .push_back(Control::WindowUpdate { stream, increment });
    }

    /// Gives connection-window bytes back for data the application will never see.
    fn release_conn(&mut self, len: u32, now: Instant) {
        let inc = self.recv_flow.release(len, now);
        self.queue_window_update(StreamId::ZERO, inc);
    }

    /// Applies a received frame's `input` to stream `id` (in the map). `None` when the frame
    /// goes no further: its transition was a stream error, handled here (the frame's
    /// `flow_len` octets of connection window given back, RST_STREAM sent), or is not ours
    /// to apply.
    #[inline(always)]
    fn recv_transition(
        &mut self,
        id: StreamId,
        input: Input,
        flow_len: u32,
        now: Instant,
    ) -> Result<Option<Effects>> {
        match self.streams.apply(id, input) {
            Ok((fx, _)) => Ok(Some(fx)),
            Err(TransitionError::Peer(PeerError::Connection(v))) => Err(violation(v)),
            Err(TransitionError::Peer(PeerError::Stream(v))) => {
                if flow_len > 0 {
                    self.release_conn(flow_len, now);
                }
                self.stream_error(id, v, now)?;
                Ok(None)
            }
            Err(TransitionError::Usage(_)) => Ok(None),
        }
    }

    /// Handles a frame on a stream that is not in the map (idle, closed, or forgotten).
    fn on_frame_without_stream(
        &mut self,
        id: StreamId,
        input: Input,
        flow_len: u32,
        now: Instant,
    ) -> Result {
        let state = self.streams.recv_state(id, now);
        match state.on(input) {
            Ok((_, fx)) => {
                if flow_len > 0 {
                    self.release_conn(flow_len, now);
                }
                // WINDOW_UPDATE, RST_STREAM and PRIORITY may follow a stream's close
                // (RFC 9113 §5.1, §6.9): a conforming peer sends them, we answer nothing, so
                // they are no flood. Other frames we ignore here (DATA or trailers after our
                // RST_STREAM) are counted.
                let late_allowed = matches!(
                    input,
                    Input::RecvWindowUpdate | Input::RecvReset | Input::RecvPriority
                );
                if fx.ignore && !late_allowed && !self.budgets.unknown.record(now) {
                    return Err(ConnectionError::Limit(LimitExceeded::UnknownStreamFrames));
                }
                Ok(())
            }
            Err(TransitionError::Peer(PeerError::Connection(v))) => Err(violation(v)),
            Err(TransitionError::Peer(PeerError::Stream(v))) => {
                if flow_len > 0 {
                    self.release_conn(flow_len, now);
                }
                if !self.budgets.unknown.record(now) {
                    return Err(ConnectionError::Limit(LimitExceeded::UnknownStreamFrames));
                }
                self.queue_reset(id, v.code())
            }
            Err(TransitionError::Usage(_)) => Ok(()),
        }
    }

    /// A stream error (RFC 9113 §5.4.2) caused by the peer: RST_STREAM, close, report.
    fn stream_error(&mut self, id: StreamId, v: ProtocolViolation, now: Instant) -> Result {
        self.library_reset(id, StreamError::Violation(v), now)
    }

    /// We reset `id` because of the peer (a violation or a limit); counts against the reset
    /// budget, since a peer can make us reset streams as cheaply as it resets them itself.
    ///
    /// The frame that broke the rule may itself have closed the stream (END_STREAM on a body
    /// shorter than its `content-length`): its end was not reported, so the stream is
    /// reported reset rather than left looking complete.
    fn library_reset(&mut self, id: StreamId, error: StreamError, now: Instant) -> Result {
        let code = error.code();
        if !self.streams.contains(id) && self.streams.recv_state(id, now) == StreamState::Idle {
            // A stream error on a stream that does not exist yet: RST_STREAM on an idle stream
            // is itself forbidden, so this can only be a connection error.
            return Err(violation(ProtocolViolation::FrameOnIdleStream));
        }
        if self.streams.contains(id) {
            let reset = self.streams.apply(id, Input::SendReset).is_ok()
                || self.streams.get_mut(id).is_some_and(|s| {
                    // Closed by this very frame, whose end the application never saw.
                    let unreported = s.state == StreamState::Closed(CloseCause::EndStream)
                        && s.recv_phase != Phase::Done;
                    if unreported {
                        s.state = StreamState::Closed(CloseCause::ResetSent);
                    }
                    unreported
                });
            if reset {
                if let Some(s) = self.streams.get_mut(id) {
                    s.clear_output();
                }
                self.events
                    .push_back(Event::StreamReset { stream: id, error });
            }
            self.maybe_remove(id);
        } else {
            self.streams.remember_reset(id);
        }
        self.queue_reset(id, code)?;
        if !self.budgets.resets.record(now) {
            return Err(ConnectionError::Limit(LimitExceeded::Resets));
        }
        Ok(())
    }

    /// Resets `id`, whose data waited too long for its own send window
    /// (`Limits::send_stall_timeout`), reporting [`LimitExceeded::SendStall`]. Unlike a
    /// reset the application asks for, it also ends a stream that counts as closed by our
    /// END_STREAM, still queued behind the data: that data is dropped all the same.
    pub(super) fn stall_reset(&mut self, id: StreamId, now: Instant) -> Result {
        let error = StreamError::Limit(LimitExceeded::SendStall);
        if self.streams.apply(id, Input::SendReset).is_err() {
            let Some(s) = self.streams.get_mut(id) else {
                return Ok(());
            };
            s.state = StreamState::Closed(CloseCause::ResetSent);
        }
        if let Some(s) = self.streams.get_mut(id) {
            s.clear_output();
        }
        let code = error.code();
        self.events
            .push_back(Event::StreamReset { stream: id, error });
        self.maybe_remove(id);
        self.queue_reset(id, code)?;
        if !self.budgets.resets.record(now) {
            return Err(ConnectionError::Limit(LimitExceeded::Resets));
        }
        Ok(())
    }

    /// Refuses a new stream the application never saw.
    fn refuse(&mut self, id: StreamId, code: ErrorCode, now: Instant) -> Result {
        self.streams.remember_reset(id);
        self.queue_reset(id, code)?;
        if !self.budgets.resets.record(now) {
            return Err(ConnectionError::Limit(LimitExceeded::Resets));
        }
        Ok(())
    }

    // ------------------------------------------------------------ DATA

    fn on_data(&mut self, d: Data, now: Instant) -> Result {
        let id = d.stream_id;
        let len = d.flow_controlled_len();
        let inc = self
            .recv_flow
            .on_data(len, now)
            .map_err(|_| violation(ProtocolViolation::FlowControlExceeded))?;
        self.queue_window_update(StreamId::ZERO, inc);
        if d.data.is_empty() && !d.end_stream && !self.budgets.empty_data.record(now) {
            return Err(ConnectionError::Limit(LimitExceeded::EmptyDataFlood));
        }
        let input = Input::RecvData {
            end_stream: d.end_stream,
        };
        if !self.streams.contains(id) {
            return self.on_frame_without_stream(id, input, len, now);
        }
        let Some(fx) = self.recv_transition(id, input, len, now)? else {
            return Ok(());
        };
        if fx.ignore {
            self.release_conn(len, now);
            return Ok(());
        }
        let Some(s) = self.streams.get_mut(id) else {
            return Ok(());
        };
        let inc = match s.recv.on_data(len, now) {
            Ok(inc) => inc,
            Err(_) => {
                self.release_conn(len, now);
                return self.stream_error(id, ProtocolViolation::FlowControlExceeded, now);
            }
        };
        let stream_wants_rtt = s.recv.wants_rtt();
        let malformed = if s.recv_phase != Phase::Body {
            Some(ProtocolViolation::MalformedMessage)
        } else {
            s.received = s.received.saturating_add(d.data.len() as u64);
            let over = match s.content_length {
                Some(cl) if !s.no_body => s.received > cl || (d.end_stream && s.received != cl),
                _ => s.no_body && !d.data.is_empty(),
            };
            over.then_some(ProtocolViolation::ContentLengthMismatch)
        };
        if let Some(v) = malformed {
            self.release_conn(len, now);
            return self.stream_error(id, v, now);
        }
        if d.end_stream {
            s.recv_phase = Phase::Done;
        }
        self.queue_window_update(id, inc);
        self.events.push_back(Event::Data {
            stream: id,
            data: d.data,
            flow_controlled_len: len,
            end_stream: d.end_stream,
        });
        if fx.closed {
            self.maybe_remove(id);
        }
        if len > 0 {
            self.maybe_estimate(now, stream_wants_rtt);
        }
        Ok(())
    }

    // ------------------------------------------------------------ field blocks

    fn on_headers_frame(&mut self, h: Headers, self_dependency: bool, now: Instant) -> Result {
        let block = Block {
            stream: h.stream_id,
            promised: None,
            end_stream: h.end_stream,
            priority: h.priority,
            self_dependency,
            buf: BytesMut::new(),
            continuations: 0,
        };
        self.start_block(block, h.fragment, h.end_headers, now)
    }

    fn on_push_promise_frame(&mut self, p: PushPromise, now: Instant) -> Result {
        if self.role == Role::Server || !self.local.enable_push {
            return Err(violation(ProtocolViolation::PushNotAllowed));
        }
        let block = Block {
            stream: p.stream_id,
            promised: Some(p.promised_id),
            end_stream: false,
            priority: None,
            self_dependency: false,
            buf: BytesMut::new(),
            continuations: 0,
        };
        self.start_block(block, p.fragment, p.end_headers, now)
    }

    fn start_block(
        &mut self,
        mut block: Block,
        fragment: Bytes,
        end_headers: bool,
        now: Instant,
    ) -> Result {
        if fragment.len() > self.config.limits.max_header_block_bytes as usize {
            return Err(ConnectionError::Limit(LimitExceeded::HeaderBlockSize));
        }
        if end_headers {
            return self.on_block(block, fragment, now);
        }
        block.buf.extend_from_slice(&fragment);
        self.block = Some(block);
        Ok(())
    }

    fn on_continuation(&mut self, c: Continuation, now: Instant) -> Result {
        let Some(mut block) = self.block.take() else {
            return Err(violation(ProtocolViolation::ExpectedContinuation));
        };
        let limits = &self.config.limits;
        block.continuations += 1;
        if block.continuations > limits.max_continuation_frames {
            return Err(ConnectionError::Limit(LimitExceeded::ContinuationFrames));
        }
        if block.buf.len() + c.fragment.len() > limits.max_header_block_bytes as usize {
            return Err(ConnectionError::Limit(LimitExceeded::HeaderBlockSize));
        }
        block.buf.extend_from_slice(&c.fragment);
        if c.end_headers {
            let bytes = core::mem::take(&mut block.buf).freeze();
            self.on_block(block, bytes, now)
        } else {
            self.block = Some(block);
            Ok(())
        }
    }

    /// A complete field block: always decoded (HPACK must stay in step), then applied.
    fn on_block(&mut self, block: Block, bytes: Bytes, now: Instant) -> Result {
        let version = self.hpack_dec.table_version();
        let memo = self
            .recv_memo
            .as_deref()
            .filter(|m| m.filled && m.version == version && m.block[..] == bytes[..]);
        let (fields, too_large) = if let Some(m) = memo {
            // The same octets at the same table version: the same fields, shared with the
            // memo (one reference count, no copy), without decoding them again.
            (FieldList::Shared(m.fields.clone()), false)
        } else {
            let mut fields = self.spare_fields.pop().unwrap_or_default();
            fields.reserve(self.fields_hint);
            let too_large = match self.hpack_dec.decode(&bytes, &mut fields) {
                Ok(()) => false,
                Err(e) if e.is_limit() => true,
                Err(e) => return Err(violation(ProtocolViolation::Compression(e))),
            };
            if !too_large && self.hpack_dec.last_block_repeatable() && bytes.len() <= MEMO_MAX_BLOCK
            {
                let m = self.recv_memo.get_or_insert_with(|| {
                    Box::new(RecvMemo {
                        block: Vec::new(),
                        version: 0,
                        fields: Arc::new([]),
                        filled: false,
                        info: None,
                    })
                });
                // The fields are kept for the block's second coming (shared from its
                // third): a peer whose heads all differ pays only for copying the octets.
                let again = m.block[..] == bytes[..];
                m.block.clear();
                m.block.extend_from_slice(&bytes);
                m.version = self.hpack_dec.table_version();
                m.fields = if again {
                    fields.iter().map(|f| detached(f, &bytes)).collect()
                } else {
                    Arc::new([])
                };
                m.filled = again;
                m.info = None;
            }
            (FieldList::Owned(fields), too_large)
        };
        // At least one field (every valid block has some), at most a typical large request's
        // worth: a single huge block does not make every later list huge.
        self.fields_hint = fields.len().clamp(1, MAX_FIELDS_HINT);
        match block.promised {
            None => self.on_headers(block, fields, too_large, now),
            Some(promised) => self.on_push_promise(block.stream, promised, fields, too_large, now),
        }
    }

    fn on_headers(
        &mut self,
        block: Block,
        mut fields: FieldList,
        too_large: bool,
        now: Instant,
    ) -> Result {
        let id = block.stream;
        let end_stream = block.end_stream;
        if self.streams.contains(id) {
            return self.on_headers_existing(block, fields, too_large, now);
        }
        if self.streams.recv_state(id, now) != StreamState::Idle {
            if self.streams.never_opened(id, now) {
                // Never opened: a new stream with a lower id than one already opened.
                return Err(violation(ProtocolViolation::InvalidStreamId));
            }
            return self.on_frame_without_stream(id, Input::RecvHeaders { end_stream }, 0, now);
        }
        // A new stream. Only a client opens streams with HEADERS (RFC 9113 §5.1.1, §8.4).
        if self.role == Role::Client || self.streams.is_local_id(id) {
            return Err(violation(ProtocolViolation::InvalidStreamId));
        }
        self.streams.note_remote_id(id);
        if self.goaway_sent.is_some_and(|last| id > last) || self.goaway_recv.is_some() {
            // After GOAWAY: not processed; later frames on it are ignored.
            self.streams.remember_reset(id);
            return Ok(());
        }
        let limits = self.config.limits;
        let refuse = if too_large {
            Some(LimitExceeded::HeaderListSize.code())
        } else if block.self_dependency {
            Some(ProtocolViolation::SelfDependency.code())
        } else if self
            .streams
            .concurrent(false, self.local.max_concurrent_streams)
            >= self.local.max_concurrent_streams
        {
            Some(ProtocolViolation::ConcurrencyExceeded.code())
        } else if self.pending_accept
            >= limits
                .max_pending_accept
                .max(self.local.max_concurrent_streams as usize)
        {
            Some(LimitExceeded::PendingAccept.code())
        } else {
            None
        };
        if let Some(code) = refuse {
            return self.refuse(id, code, now);
        }
        let info = match self.validate_recv(MessageKind::Request, &fields) {
            Ok(info) if end_stream && info.content_length.is_some_and(|n| n > 0) => {
                return self.refuse(id, ErrorCode::PROTOCOL_ERROR, now);
            }
            Ok(info) => info,
            Err(v) => return self.refuse(id, v.code(), now),
        };
        if self.config.validate_recv.join_cookies {
            join_cookies(&mut fields);
        }
        let mut priority = request_priority(block.priority, &fields);
        if let Some(early) = self.streams.take_early_priority(id) {
            // A PRIORITY_UPDATE sent before the request overrides its header (RFC 9218 §7.1).
            priority.extensible = Some(early);
        }
        let mut s = self.new_stream(false);
        s.recv_phase = if end_stream { Phase::Done } else { Phase::Body };
        s.content_length = info.content_length;
        s.priority = priority;
        // The transition on the new value, then one insert (no lookup after it).
        self.streams
            .open(id, s, Input::RecvHeaders { end_stream })
            .map_err(|_| violation(ProtocolViolation::InvalidStreamId))?;
        self.pending_accept += 1;
        self.events.push_back(Event::Request {
            stream: id,
            headers: fields,
            end_stream,
            priority,
        });
        Ok(())
    }

    fn on_headers_existing(
        &mut self,
        block: Block,
        mut fields: FieldList,
        too_large: bool,
        now: Instant,
    ) -> Result {
        let id = block.stream;
        let end_stream = block.end_stream;
        let Some(fx) = self.recv_transition(id, Input::RecvHeaders { end_stream }, 0, now)? else {
            return Ok(());
        };
        if fx.ignore {
            return Ok(());
        }
        if too_large {
            return self.library_reset(id, StreamError::Limit(LimitExceeded::HeaderListSize), now);
        }
        if block.self_dependency {
            return self.stream_error(id, ProtocolViolation::SelfDependency, now);
        }
        let Some(phase) = self.streams.get(id).map(|s| s.recv_phase) else {
            return Ok(());
        };
        let kind = match (self.role, phase) {
            (_, Phase::Body) => MessageKind::Trailers,
            (Role::Client, Phase::Headers | Phase::Informational) => MessageKind::Response,
            _ => return self.stream_error(id, ProtocolViolation::MalformedMessage, now),
        };
        let info = match self.validate_recv(kind, &fields) {
            Ok(info) => info,
            Err(v) => return self.stream_error(id, v, now),
        };
        if self.config.validate_recv.join_cookies {
            join_cookies(&mut fields);
        }
        let Some(s) = self.streams.get_mut(id) else {
            return Ok(());
        };
        let event = if kind == MessageKind::Trailers {
            let mismatch = !s.no_body && s.content_length.is_some_and(|cl| cl != s.received);
            if !end_stream {
                return self.stream_error(id, ProtocolViolation::MalformedMessage, now);
            }
            if mismatch {
                return self.stream_error(id, ProtocolViolation::ContentLengthMismatch, now);
            }
            s.recv_phase = Phase::Done;
            Event::Trailers {
                stream: id,
                headers: fields,
            }
        } else if info.is_informational() {
            if end_stream {
                return self.stream_error(id, ProtocolViolation::MalformedMessage, now);
            }
            s.recv_phase = Phase::Informational;
            Event::Informational {
                stream: id,
                status: info.status.unwrap_or(100),
                headers: fields,
            }
        } else {
            let status = info.status.unwrap_or(0);
            s.no_body = s.head || status == 204 || status == 304;
            s.content_length = info.content_length;
            if end_stream && !s.no_body && s.content_length.is_some_and(|n| n > 0) {
                return self.stream_error(id, ProtocolViolation::ContentLengthMismatch, now);
            }
            s.recv_phase = if end_stream { Phase::Done } else { Phase::Body };
            Event::Response {
                stream: id,
                status,
                headers: fields,
                end_stream,
            }
        };
        self.events.push_back(event);
        if fx.closed {
            self.maybe_remove(id);
        }
        Ok(())
    }

    fn on_push_promise(
        &mut self,
        assoc: StreamId,
        promised: StreamId,
        fields: FieldList,
        too_large: bool,
        now: Instant,
    ) -> Result {
        if !self.streams.note_promised_id(promised) {
            return Err(violation(ProtocolViolation::InvalidPushPromise));
        }
        let input = Input::RecvPushPromise;
        let assoc_ignored = if self.streams.contains(assoc) {
            self.recv_transition(assoc, input, 0, now)?
                .is_none_or(|fx| fx.ignore)
        } else {
            match self.streams.recv_state(assoc, now).on(input) {
                Ok((_, fx)) => fx.ignore,
                Err(TransitionError::Peer(e)) => {
                    return Err(violation(e.violation().clone()));
                }
                Err(TransitionError::Usage(_)) => true,
            }
        };
        let s = self.new_stream(false);
        self.streams.reserve(promised, s);
        if assoc_ignored {
            return self.cancel_promised(promised);
        }
        if too_large {
            return self.library_reset(
                promised,
                StreamError::Limit(LimitExceeded::HeaderListSize),
                now,
            );
        }
        let info = match self.validate_recv(MessageKind::PromisedRequest, &fields) {
            Ok(info) => info,
            Err(v) => return self.stream_error(promised, v, now),
        };
        if let Some(s) = self.streams.get_mut(promised) {
            s.head = info.is_head;
        }
        self.events.push_back(Event::PushPromise {
            stream: assoc,
            promised,
            headers: fields,
        });
        Ok(())
    }

    /// A push promised on a stream we already reset: cancel it without counting it against
    /// the peer.
    fn cancel_promised(&mut self, promised: StreamId) -> Result {
        let _ = self.streams.apply(promised, Input::SendReset);
        self.maybe_remove(promised);
        self.queue_reset(promised, ErrorCode::CANCEL)
    }

    // ------------------------------------------------------------ control frames

    fn on_priority(&mut self, p: Priority, now: Instant) -> Result {
        if !self.budgets.priority.record(now) {
            return Err(ConnectionError::Limit(LimitExceeded::PriorityFlood));
        }
        let id = p.stream_id;
        let signal = PrioritySignal::tree(TreePriority::from_wire(
            p.spec.dependency.get(),
            p.spec.weight,
            p.spec.exclusive,
        ));
        self.streams.set_priority(id, signal);
        self.events.push_back(Event::PriorityUpdated {
            stream: id,
            priority: signal,
        });
        Ok(())
    }

    fn on_priority_update(&mut self, p: PriorityUpdate, now: Instant) -> Result {
        if self.role == Role::Client {
            // RFC 9218 §7.1: servers must not send PRIORITY_UPDATE.
            return Err(violation(ProtocolViolation::PriorityUpdateFromServer));
        }
        if !self.budgets.priority.record(now) {
            return Err(ConnectionError::Limit(LimitExceeded::PriorityFlood));
        }
        let id = p.prioritized_stream_id;
        let priority = ExtensiblePriority::parse(&p.field_value);
        let signal = PrioritySignal::extensible(priority);
        if !self.streams.set_priority(id, signal) {
            // Not opened yet: keep it for when the request arrives (bounded).
            let cap = (self.local.max_concurrent_streams as usize).clamp(1, 1_024);
            self.streams.note_early_priority(id, priority, cap);
        }
        self.events.push_back(Event::PriorityUpdated {
            stream: id,
            priority: signal,
        });
        Ok(())
    }

    fn on_rst(&mut self, r: RstStream, now: Instant) -> Result {
        let id = r.stream_id;
        let Some(pending) = self.streams.get(id).map(|s| s.has_output()) else {
            return self.on_frame_without_stream(id, Input::RecvReset, 0, now);
        };
        let Some(fx) = self.recv_transition(id, Input::RecvReset, 0, now)? else {
            return Ok(());
        };
        // A stream whose END_STREAM is still queued is closed only logically: the peer's
        // reset still aborts what is queued and is reported.
        let fx = if fx.ignore && pending {
            if let Some(s) = self.streams.get_mut(id) {
                s.state = StreamState::Closed(CloseCause::ResetReceived);
            }
            Effects {
                ignore: false,
                ..fx
            }
        } else {
            fx
        };
        if !fx.ignore {
            if let Some(s) = self.streams.get_mut(id) {
                s.clear_output();
            }
            self.events.push_back(Event::StreamReset {
                stream: id,
                error: StreamError::Reset {
                    code: r.error_code,
                    initiator: Initiator::Remote,
                },
            });
        }
        self.maybe_remove(id);
        // Rapid Reset (CVE-2023-44487) is the peer opening streams and cancelling them: only
        // resets of streams the peer opened count. A peer resetting streams we opened (a
        // server refusing our requests, say) costs us nothing we did not ask for.
        if !fx.ignore && !self.streams.is_local_id(id) && !self.budgets.resets.record(now) {
            return Err(ConnectionError::Limit(LimitExceeded::Resets));
        }
        Ok(())
    }

    fn on_settings(&mut self, settings: Settings, now: Instant) -> Result {
        if !self.budgets.settings.record(now) {
            return Err(ConnectionError::Limit(LimitExceeded::SettingsFlood));
        }
        self.got_settings = true;
        let changes = self.apply_remote_settings(&settings)?;
        self.reply(Control::SettingsAck)?;
        self.streams.reschedule_all(self.send_window.available());
        self.events.push_back(Event::RemoteSettings { changes });
        Ok(())
    }

    /// Applies the peer's SETTINGS in order (RFC 9113 §6.5.3).
    pub(super) fn apply_remote_settings(
        &mut self,
        settings: &Settings,
    ) -> Result<Vec<SettingChange>> {
        let mut changes = Vec::with_capacity(settings.len());
        for (id, value) in settings {
            match id {
                SettingId::HEADER_TABLE_SIZE => self.hpack_enc.set_max_table_size(value as usize),
                SettingId::ENABLE_PUSH if self.role == Role::Client && value == 1 => {
                    return Err(violation(ProtocolViolation::InvalidEnablePush));
                }
                SettingId::INITIAL_WINDOW_SIZE => {
                    let old = self.remote.initial_window_size;
                    for s in self.streams.values_mut() {
                        s.send_window
                            .apply_initial_change(old, value)
                            .map_err(|_| violation(ProtocolViolation::WindowOverflow))?;
                    }
                }
                SettingId::ENABLE_CONNECT_PROTOCOL
                    if self.remote.enable_connect_protocol && value == 0 =>
                {
                    return Err(violation(ProtocolViolation::InvalidEnableConnectProtocol));
                }
                _ => {}
            }
            let Some(old) = self.remote.set(id, value) else {
                continue;
            };
            changes.push(SettingChange {
                id,
                old,
                new: value,
            });
        }
        Ok(changes)
    }

    fn on_settings_ack(&mut self, now: Instant) -> Result {
        let Some(p) = self.pending_settings.pop_front() else {
            return Ok(());
        };
        if let Some(sent) = p.sent_at {
            // A round trip, before any PING: the window policies can judge the first DATA.
            self.rtt_sample(now.saturating_duration_since(sent));
        }
        let old = self.local;
        let new = p.settings;
        if new.initial_window_size != old.initial_window_size {
            for s in self.streams.values_mut() {
                s.recv
                    .apply_initial_change(old.initial_window_size, new.initial_window_size)
                    .map_err(|_| violation(ProtocolViolation::WindowOverflow))?;
            }
        }
        self.hpack_dec
            .set_max_table_size(new.header_table_size as usize);
        self.hpack_dec
            .set_max_header_list_size(new.max_header_list_size as usize);
        self.decoder.set_max_frame_size(new.max_frame_size);
        self.local = new;
        self.events.push_back(Event::SettingsAcknowledged);
        Ok(())
    }

    fn on_ping(&mut self, p: Ping, now: Instant) -> Result {
        if !p.ack {
            if !self.budgets.pings.record(now) {
                return Err(ConnectionError::Limit(LimitExceeded::PingFlood));
            }
            self.reply(Control::Ping {
                ack: true,
                payload: p.payload,
            })?;
            self.events
                .push_back(Event::PingReceived { payload: p.payload });
            return Ok(());
        }
        let Some(pos) = self.pings.iter().position(|x| x.payload == p.payload) else {
            self.events.push_back(Event::PingAcknowledged {
                payload: p.payload,
                rtt: None,
            });
            return Ok(());
        };
        let Some(ping) = self.pings.remove(pos) else {
            return Ok(());
        };
        let rtt = ping.sent_at.map(|t| now.saturating_duration_since(t));
        if let Some(rtt) = rtt {
            self.last_rtt = Some(rtt);
            self.rtt_sample(rtt);
        }
        match ping.purpose {
            PingPurpose::User => self.events.push_back(Event::PingAcknowledged {
                payload: p.payload,
                rtt,
            }),
            PingPurpose::KeepAlive => {}
            PingPurpose::Shutdown => self.final_goaway(),
            PingPurpose::Estimate => self.estimate_done(now, rtt),
        }
        Ok(())
    }

    fn on_goaway(&mut self, g: GoAway) -> Result {
        let last = match self.goaway_recv {
            Some(prev) => prev.min(g.last_stream_id),
            None => g.last_stream_id,
        };
        self.goaway_recv = Some(last);
        if self.goaway_recv_reason.0 == ErrorCode::NO_ERROR {
            // A later GOAWAY narrows the last id but does not hide an earlier error code.
            self.goaway_recv_reason = (g.error_code, g.debug_data.clone());
        }
        for id in self.streams.local_above(last) {
            if let Ok((_, s)) = self.streams.apply(id, Input::RecvReset) {
                s.clear_output();
                self.events.push_back(Event::StreamReset {
                    stream: id,
                    error: StreamError::Reset {
                        code: ErrorCode::REFUSED_STREAM,
                        initiator: Initiator::Remote,
                    },
                });
            }
            self.maybe_remove(id);
        }
        self.events.push_back(Event::GoAway {
            code: g.error_code,
            last_stream_id: last,
            debug_data: g.debug_data,
        });
        // Whatever the code, streams up to `last` may still complete (RFC 9113 §6.8) and an
        // unknown code triggers nothing special (§7); the sender closes the connection.
        self.check_drained();
        Ok(())
    }

    fn on_window_update(&mut self, w: WindowUpdate, now: Instant) -> Result {
        // Only small increments are budgeted: an update crediting at least an eighth of the
        // peer's initial stream window (up to 1 KiB) pays for the data it lets us send,
        // however often a fast receiver sends them; dribbling a few bytes at a time is what
        // makes us cut tiny DATA frames.
        let small = (self.remote.initial_window_size / 8).clamp(1, SMALL_WINDOW_UPDATE);
        if w.increment < small && !self.budgets.window_updates.record(now) {
            return Err(ConnectionError::Limit(LimitExceeded::WindowUpdateFlood));
        }
        let id = w.stream_id;
        if id.is_zero() {
            self.send_window
                .increase(w.increment)
                .map_err(|_| violation(ProtocolViolation::WindowOverflow))?;
            self.events.push_back(Event::WindowUpdated {
                stream: id,
                increment: w.increment,
            });
            self.streams.reschedule_all(self.send_window.available());
            return Ok(());
        }
        let Some(pending) = self.streams.get(id).map(|s| s.has_output()) else {
            return self.on_frame_without_stream(id, Input::RecvWindowUpdate, 0, now);
        };
        match self.recv_transition(id, Input::RecvWindowUpdate, 0, now)? {
            // Our END_STREAM may be queued behind data the window must still let out.
            Some(fx) if fx.ignore && !pending => return Ok(()),
            Some(_) => {}
            None => return Ok(()),
        }
        let overflow = self
            .streams
            .get_mut(id)
            .is_some_and(|s| s.send_window.increase(w.increment).is_err());
        if overflow {
            return self.stream_error(id, ProtocolViolation::WindowOverflow, now);
        }
        self.events.push_back(Event::WindowUpdated {
            stream: id,
            increment: w.increment,
        });
        self.streams.schedule(id, self.send_window.available());
        Ok(())
    }
}
