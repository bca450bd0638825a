//! The scripted peer: bytes out for what a test sends, assertions on the bytes that come back.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use h2kit_frame::{
    DEFAULT_MAX_FRAME_SIZE, ErrorCode, Frame, FrameDecoder, FrameHeader, FrameType, SettingId,
    Settings, StreamId,
};
use h2kit_hpack::{Decoder, Encoder, HeaderField};

use crate::frames::{self, CLIENT_MAGIC, FrameSpec, SettingsBuilder};
use crate::received::ReceivedFrame;

/// Which side of the connection a [`ScriptedPeer`] plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The client: its preface starts with the magic octets; it talks to a server.
    Client,
    /// The server: it checks the client magic at the start of what it receives.
    Server,
}

/// A HEADERS or PUSH_PROMISE waiting for CONTINUATION frames.
#[derive(Debug)]
struct OpenBlock {
    header: FrameHeader,
    payload: Bytes,
    frame: Frame,
    stream_id: StreamId,
    block: BytesMut,
    continuations: usize,
}

/// A pure HTTP/2 peer driven by a test: [`send`](Self::send) turns frame specs into bytes
/// ([`take_output`](Self::take_output)) for the connection under test, and
/// [`feed`](Self::feed) takes the bytes the connection wrote, which
/// [`expect`](Self::expect) and [`next_frame`](Self::next_frame) then check frame by frame.
/// No I/O, no clock, and no knowledge of the connection's API.
///
/// The peer has its own HPACK [`Encoder`] (header lists are encoded at send time, so HPACK
/// state carries across blocks) and [`Decoder`] (received blocks are decoded as they
/// arrive, CONTINUATION frames assembled).
///
/// It keeps the protocol state a real peer needs to stay in step, and nothing more:
/// - Received SETTINGS: HEADER_TABLE_SIZE goes to its HPACK encoder, MAX_FRAME_SIZE limits
///   the frames it splits field blocks into; all values are kept in
///   [`remote_settings`](Self::remote_settings).
/// - SETTINGS it sends: when the matching ACK arrives, HEADER_TABLE_SIZE goes to its HPACK
///   decoder and MAX_FRAME_SIZE to its frame decoder (frames above the size in force are a
///   panic, as is every frame h2kit-frame rejects, a broken CONTINUATION sequence, an
///   undecodable header block, or a bad client magic).
///
/// It answers nothing on its own: [`auto_ack_settings`](Self::auto_ack_settings) and
/// [`auto_pong`](Self::auto_pong) turn on the two automatic replies. It checks no stream
/// states or windows: tests decide what is sent, valid or not.
///
/// Assertions panic (this is test code) with the expected and the received frame and a list
/// of differences; `#[track_caller]` points the panic at the test's line.
#[derive(Debug)]
pub struct ScriptedPeer {
    role: Role,
    output: BytesMut,
    input: BytesMut,
    frame_decoder: FrameDecoder,
    encoder: Encoder,
    decoder: Decoder,
    /// Client magic octets checked so far (server role).
    magic_seen: usize,
    open_block: Option<OpenBlock>,
    received: VecDeque<ReceivedFrame>,
    frames_received: usize,
    remote_settings: Settings,
    /// SETTINGS sent and not yet acknowledged, oldest first.
    unacked: VecDeque<Settings>,
    auto_ack_settings: bool,
    auto_pong: bool,
    ignored: Vec<FrameSpec>,
}

impl ScriptedPeer {
    /// A peer acting as the client towards the connection under test (a server).
    pub fn client() -> Self {
        Self::new(Role::Client)
    }

    /// A peer acting as the server towards the connection under test (a client).
    pub fn server() -> Self {
        Self::new(Role::Server)
    }

    /// A peer of this role.
    pub fn new(role: Role) -> Self {
        let mut decoder = Decoder::new();
        // The peer only observes; limits are the connection's business.
        decoder.set_max_header_list_size(usize::MAX);
        decoder.set_max_field_size(usize::MAX);
        Self {
            role,
            output: BytesMut::new(),
            input: BytesMut::new(),
            frame_decoder: FrameDecoder::new(),
            encoder: Encoder::new(),
            decoder,
            magic_seen: if role == Role::Server {
                0
            } else {
                CLIENT_MAGIC.len()
            },
            open_block: None,
            received: VecDeque::new(),
            frames_received: 0,
            remote_settings: Settings::new(),
            unacked: VecDeque::new(),
            auto_ack_settings: false,
            auto_pong: false,
            ignored: Vec::new(),
        }
    }

    /// The role this peer plays.
    pub fn role(&self) -> Role {
        self.role
    }

    fn name(&self) -> &'static str {
        match self.role {
            Role::Client => "scripted client",
            Role::Server => "scripted server",
        }
    }

    /// Answer every received SETTINGS with a SETTINGS ACK as it arrives (off by default).
    pub fn auto_ack_settings(&mut self, on: bool) -> &mut Self {
        self.auto_ack_settings = on;
        self
    }

    /// Answer every received PING (without ACK) with a PING ACK as it arrives (off by
    /// default).
    pub fn auto_pong(&mut self, on: bool) -> &mut Self {
        self.auto_pong = on;
        self
    }

    // ----- sending -----

    /// Encodes a frame (or the preface) onto the output. Header lists are HPACK-encoded
    /// now, with this peer's encoder; field blocks larger than the connection's
    /// SETTINGS_MAX_FRAME_SIZE (or a builder's `split_block`) continue in CONTINUATION frames.
    /// Nothing is validated: malformed frames go out as described.
    ///
    /// # Panics
    ///
    /// For [`frames::any`] and payloads over 2^24-1 octets.
    #[track_caller]
    pub fn send(&mut self, spec: impl Into<FrameSpec>) -> &mut Self {
        let spec = spec.into();
        let max = self
            .remote_settings
            .max_frame_size()
            .unwrap_or(DEFAULT_MAX_FRAME_SIZE);
        crate::encode::write_spec(&spec, self.role, &mut self.encoder, max, &mut self.output);
        let sent_settings = match &spec {
            FrameSpec::Preface(p) => Some(&p.settings),
            FrameSpec::Settings(s) => Some(s),
            _ => None,
        };
        if let Some(s) = sent_settings.filter(|s| !s.ack) {
            self.unacked.push_back(to_settings(s));
        }
        self
    }

    /// Appends arbitrary octets to the output (a bad preface, half a frame, …).
    pub fn send_bytes(&mut self, octets: &[u8]) -> &mut Self {
        self.output.extend_from_slice(octets);
        self
    }

    /// Takes everything sent so far: the bytes for the connection under test.
    pub fn take_output(&mut self) -> Bytes {
        self.output.split().freeze()
    }

    /// Whether there are bytes waiting in the output.
    pub fn has_output(&self) -> bool {
        !self.output.is_empty()
    }

    /// Moves this peer's output into `other`'s input (two scripted peers talking).
    #[track_caller]
    pub fn flush_to(&mut self, other: &mut ScriptedPeer) {
        let out = self.take_output();
        other.feed(&out);
    }

    // ----- receiving -----

    /// Takes bytes the connection under test wrote, in any split. Complete frames are
    /// decoded at once (SETTINGS applied, automatic replies queued on the output); a frame
    /// cut short waits for the rest.
    ///
    /// # Panics
    ///
    /// On a bad client magic (server role), a frame h2kit-frame rejects, a frame over the
    /// SETTINGS_MAX_FRAME_SIZE in force, a broken CONTINUATION sequence, or a header block
    /// HPACK cannot decode.
    #[track_caller]
    pub fn feed(&mut self, mut bytes: &[u8]) -> &mut Self {
        if self.magic_seen < CLIENT_MAGIC.len() {
            let want = &CLIENT_MAGIC[self.magic_seen..];
            let n = want.len().min(bytes.len());
            let (got, rest) = bytes.split_at(n);
            if got != &want[..n] {
                panic!(
                    "{}: expected the client connection preface {}, octets {}.. were {}",
                    self.name(),
                    crate::describe::bytes(CLIENT_MAGIC),
                    self.magic_seen,
                    crate::describe::bytes(got)
                );
            }
            self.magic_seen += n;
            bytes = rest;
        }
        self.input.extend_from_slice(bytes);
        loop {
            match self.frame_decoder.decode_raw(&mut self.input) {
                Ok(Some((header, payload))) => self.on_frame(header, payload),
                Ok(None) => break,
                Err(e) => panic!(
                    "{}: the connection sent a bad frame (after {} good ones): {e}",
                    self.name(),
                    self.frames_received
                ),
            }
        }
        self
    }

    /// Feeds `bytes` in pieces of `piece` octets ([`split_into`](crate::split_into)).
    #[track_caller]
    pub fn feed_split(&mut self, bytes: &[u8], piece: usize) -> &mut Self {
        for p in crate::split_into(bytes, piece) {
            self.feed(p);
        }
        self
    }

    #[track_caller]
    fn on_frame(&mut self, header: FrameHeader, payload: Bytes) {
        let frame = match Frame::parse(header, payload.clone()) {
            Ok(f) => f,
            Err(e) => panic!(
                "{}: the connection sent a malformed {} frame (header {header:?}, payload {}): {e}",
                self.name(),
                header.frame_type,
                crate::describe::bytes(&payload)
            ),
        };
        let name = self.name();
        if let Some(open) = &mut self.open_block {
            match &frame {
                Frame::Continuation(c) if c.stream_id == open.stream_id => {
                    open.block.extend_from_slice(&c.fragment);
                    open.continuations += 1;
                    if c.end_headers {
                        if let Some(open) = self.open_block.take() {
                            let block = open.block.freeze();
                            self.finish_block(
                                open.header,
                                open.payload,
                                open.frame,
                                block,
                                open.continuations,
                            );
                        }
                    }
                    return;
                }
                _ => panic!(
                    "{}: RFC 9113 §6.10: the field block on stream {} is open, so only \
                     CONTINUATION on that stream may follow, but the connection sent {} \
                     on stream {}",
                    name, open.stream_id, header.frame_type, header.stream_id
                ),
            }
        }
        let block = match &frame {
            Frame::Headers(h) => Some((h.fragment.clone(), h.end_headers)),
            Frame::PushPromise(p) => Some((p.fragment.clone(), p.end_headers)),
            Frame::Continuation(c) => panic!(
                "{}: RFC 9113 §6.10: the connection sent CONTINUATION on stream {} with no \
                 open field block",
                self.name(),
                c.stream_id
            ),
            _ => None,
        };
        match block {
            Some((fragment, true)) => self.finish_block(header, payload, frame, fragment, 0),
            Some((fragment, false)) => {
                self.open_block = Some(OpenBlock {
                    header,
                    payload,
                    frame,
                    stream_id: header.stream_id,
                    block: BytesMut::from(&fragment[..]),
                    continuations: 0,
                });
            }
            None => {
                self.apply(&frame);
                self.push(header, payload, frame, None, None, 0);
            }
        }
    }

    #[track_caller]
    fn finish_block(
        &mut self,
        header: FrameHeader,
        payload: Bytes,
        frame: Frame,
        block: Bytes,
        continuations: usize,
    ) {
        let mut fields: Vec<HeaderField> = Vec::new();
        if let Err(e) = self.decoder.decode(&block, &mut fields) {
            panic!(
                "{}: the connection sent a {} on stream {} whose field block HPACK cannot \
                 decode: {e:?}; block {}",
                self.name(),
                header.frame_type,
                header.stream_id,
                crate::describe::bytes(&block)
            );
        }
        self.push(
            header,
            payload,
            frame,
            Some(block),
            Some(fields),
            continuations,
        );
    }

    fn push(
        &mut self,
        header: FrameHeader,
        payload: Bytes,
        frame: Frame,
        block: Option<Bytes>,
        fields: Option<Vec<HeaderField>>,
        continuations: usize,
    ) {
        self.frames_received += 1;
        self.received.push_back(ReceivedFrame {
            index: self.frames_received,
            header,
            payload,
            frame,
            block,
            fields,
            continuations,
        });
    }

    /// The peer-side effects of a frame, in arrival order.
    fn apply(&mut self, frame: &Frame) {
        match frame {
            Frame::Settings(s) => {
                for (id, value) in s.iter() {
                    self.remote_settings.set(id, value);
                    if id == SettingId::HEADER_TABLE_SIZE {
                        self.encoder
                            .set_max_table_size(usize::try_from(value).unwrap_or(usize::MAX));
                    }
                }
                if self.auto_ack_settings {
                    self.send(frames::settings_ack());
                }
            }
            Frame::SettingsAck => {
                if let Some(s) = self.unacked.pop_front() {
                    if let Some(size) = s.header_table_size() {
                        self.decoder
                            .set_max_table_size(usize::try_from(size).unwrap_or(usize::MAX));
                    }
                    if let Some(size) = s.max_frame_size() {
                        self.frame_decoder.set_max_frame_size(size);
                    }
                }
            }
            Frame::Ping(p) if !p.ack && self.auto_pong => {
                self.send(frames::ping(p.payload).ack());
            }
            _ => {}
        }
    }

    // ----- assertions -----

    fn is_ignored(&self, frame: &ReceivedFrame) -> bool {
        self.ignored
            .iter()
            .any(|spec| crate::expect::mismatches(spec, frame).is_empty())
    }

    /// Drops ignored frames from the front of the queue.
    fn drop_ignored(&mut self) {
        while self.received.front().is_some_and(|f| self.is_ignored(f)) {
            self.received.pop_front();
        }
    }

    /// The next received frame that is not ignored, if a whole one has arrived.
    pub fn next_frame(&mut self) -> Option<ReceivedFrame> {
        self.drop_ignored();
        self.received.pop_front()
    }

    /// Takes every received frame that is not ignored, oldest first (none when nothing has
    /// arrived): for assertions over a whole batch, such as "no GOAWAY among them".
    pub fn take_frames(&mut self) -> Vec<ReceivedFrame> {
        let frames = std::mem::take(&mut self.received);
        frames.into_iter().filter(|f| !self.is_ignored(f)).collect()
    }

    /// The next received frame that is not ignored, without taking it.
    pub fn peek(&mut self) -> Option<&ReceivedFrame> {
        self.drop_ignored();
        self.received.front()
    }

    /// Received frames waiting to be taken (ignored ones included).
    pub fn pending_frames(&self) -> usize {
        self.received.len()
    }

    /// Octets of an incomplete frame waiting for the rest.
    pub fn buffered_input(&self) -> usize {
        self.input.len()
    }

    /// Takes the next frame and asserts that it matches `spec` (see the table in
    /// [`frames`]); returns it for further checks.
    ///
    /// # Panics
    ///
    /// When nothing has arrived or the frame differs, with a description of both.
    #[track_caller]
    pub fn expect(&mut self, spec: impl Into<FrameSpec>) -> ReceivedFrame {
        let spec = spec.into();
        let Some(frame) = self.next_frame() else {
            panic!(
                "{}: expected {spec}\n  but no frame has arrived{}",
                self.name(),
                self.partial_note()
            );
        };
        let diff = crate::expect::mismatches(&spec, &frame);
        if !diff.is_empty() {
            panic!(
                "{}: frame #{} does not match\n  expected: {spec}\n  received: {frame}\n  \
                 differences:\n    - {}",
                self.name(),
                frame.index,
                diff.join("\n    - ")
            );
        }
        frame
    }

    /// Skips frames until one matches `spec`, and returns it.
    ///
    /// # Panics
    ///
    /// When no received frame matches; the message lists the frames skipped.
    #[track_caller]
    pub fn expect_eventually(&mut self, spec: impl Into<FrameSpec>) -> ReceivedFrame {
        let spec = spec.into();
        let mut skipped = Vec::new();
        while let Some(frame) = self.next_frame() {
            if frame.mismatches(&spec).is_empty() {
                return frame;
            }
            skipped.push(frame.to_string());
        }
        panic!(
            "{}: expected {spec} eventually, but it did not arrive; received instead:\n    {}{}",
            self.name(),
            if skipped.is_empty() {
                "(nothing)".to_owned()
            } else {
                skipped.join("\n    ")
            },
            self.partial_note()
        );
    }

    /// Asserts that no (unignored) frame is waiting.
    ///
    /// # Panics
    ///
    /// When one is, listing all of them.
    #[track_caller]
    pub fn expect_nothing(&mut self) {
        self.drop_ignored();
        if !self.received.is_empty() {
            let list: Vec<String> = self
                .received
                .iter()
                .filter(|f| !self.is_ignored(f))
                .map(ToString::to_string)
                .collect();
            panic!(
                "{}: expected no frame, but received:\n    {}",
                self.name(),
                list.join("\n    ")
            );
        }
    }

    /// Takes every waiting (unignored) frame, like [`take_frames`](Self::take_frames), and
    /// asserts that none matches `spec`, e.g. `expect_none(frames::any(FrameType::GOAWAY))`;
    /// returns the frames taken.
    ///
    /// # Panics
    ///
    /// When one matches, showing it.
    #[track_caller]
    pub fn expect_none(&mut self, spec: impl Into<FrameSpec>) -> Vec<ReceivedFrame> {
        let spec = spec.into();
        let frames = self.take_frames();
        if let Some(f) = frames.iter().find(|f| f.matches(&spec)) {
            panic!(
                "{}: expected no frame matching {spec}, but received {f}",
                self.name()
            );
        }
        frames
    }

    /// Expects a GOAWAY with this code (any last stream id, any debug data).
    #[track_caller]
    pub fn expect_goaway(&mut self, code: ErrorCode) -> ReceivedFrame {
        self.expect(frames::goaway(0, code).any_last_stream_id())
    }

    /// Expects an RST_STREAM on `stream_id` with this code.
    #[track_caller]
    pub fn expect_rst_stream(&mut self, stream_id: u32, code: ErrorCode) -> ReceivedFrame {
        self.expect(frames::rst_stream(stream_id, code))
    }

    /// Expects a SETTINGS ACK.
    #[track_caller]
    pub fn expect_settings_ack(&mut self) -> ReceivedFrame {
        self.expect(frames::settings_ack())
    }

    /// Expects a PING ACK echoing `payload`.
    #[track_caller]
    pub fn expect_ping_ack(&mut self, payload: [u8; 8]) -> ReceivedFrame {
        self.expect(frames::ping(payload).ack())
    }

    /// Takes frames from the front while `skip` says so; returns how many.
    pub fn skip_while(&mut self, mut skip: impl FnMut(&ReceivedFrame) -> bool) -> usize {
        let mut n = 0;
        while self.peek().is_some_and(&mut skip) {
            self.received.pop_front();
            n += 1;
        }
        n
    }

    /// Takes the next frame if it is a SETTINGS ACK; returns whether it did.
    pub fn skip_settings_ack(&mut self) -> bool {
        self.skip_while(|f| f.frame == Frame::SettingsAck) > 0
    }

    /// Takes the WINDOW_UPDATE frames at the front; returns how many.
    pub fn skip_window_updates(&mut self) -> usize {
        self.skip_while(|f| f.frame_type() == FrameType::WINDOW_UPDATE)
    }

    /// From now on, [`next_frame`](Self::next_frame), [`expect`](Self::expect) and the other
    /// assertions pass over received frames matching `spec`, e.g.
    /// `ignore(frames::any(FrameType::WINDOW_UPDATE))` or `ignore(frames::settings_ack())`.
    /// Ignored frames still take effect (SETTINGS are applied, automatic replies sent).
    pub fn ignore(&mut self, spec: impl Into<FrameSpec>) -> &mut Self {
        self.ignored.push(spec.into());
        self
    }

    /// Stops ignoring anything.
    pub fn clear_ignored(&mut self) -> &mut Self {
        self.ignored.clear();
        self
    }

    fn partial_note(&self) -> String {
        let mut note = String::new();
        if let Some(open) = &self.open_block {
            note.push_str(&format!(
                " (a field block on stream {} awaits CONTINUATION)",
                open.stream_id
            ));
        }
        if !self.input.is_empty() {
            note.push_str(&format!(
                " ({} octets of an incomplete frame are buffered)",
                self.input.len()
            ));
        }
        note
    }

    // ----- state -----

    /// Every SETTINGS value received so far, the latest per parameter.
    pub fn remote_settings(&self) -> &Settings {
        &self.remote_settings
    }

    /// SETTINGS this peer sent that have not been acknowledged yet.
    pub fn unacked_settings(&self) -> usize {
        self.unacked.len()
    }

    /// This peer's HPACK encoder (to inspect its table or change its Huffman policy).
    pub fn hpack_encoder(&mut self) -> &mut Encoder {
        &mut self.encoder
    }

    /// This peer's HPACK decoder (to inspect the table the connection's encoder built).
    pub fn hpack_decoder(&mut self) -> &mut Decoder {
        &mut self.decoder
    }
}

fn to_settings(s: &SettingsBuilder) -> Settings {
    s.params().iter().copied().collect()
}
