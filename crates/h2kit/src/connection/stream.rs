//! Per-stream state held by the connection, and the borrowed stream view.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use h2kit_frame::{ErrorCode, StreamId};
use h2kit_priority::PrioritySignal;

use crate::error::UsageError;
use crate::flow::{RecvFlow, Window};
use crate::headers::Field;
use crate::state::StreamState;

use super::Connection;

/// Queued DATA: a payload slice and the padding each of its frames carries.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub(crate) data: Bytes,
    pub(crate) pad: Option<u8>,
}

impl Chunk {
    /// Flow-controlled bytes a frame of this chunk costs beyond its payload.
    pub(crate) fn overhead(&self) -> u32 {
        self.pad.map_or(0, |p| u32::from(p) + 1)
    }
}

/// A stream's queued DATA, oldest first. Most responses queue one chunk, so the first is
/// held inline and only a second one allocates; the queue of the others is boxed, so that a
/// stream with at most one chunk queued (most streams) carries one pointer for it, not a
/// `VecDeque`.
#[derive(Debug, Default)]
pub(crate) struct ChunkQueue {
    first: Option<Chunk>,
    // Boxed on purpose: one pointer in every stream instead of a `VecDeque` (see above).
    #[allow(clippy::box_collection)]
    rest: Option<Box<VecDeque<Chunk>>>,
}

impl ChunkQueue {
    pub(crate) fn push_back(&mut self, chunk: Chunk) {
        if self.first.is_none() {
            // `rest` is empty whenever `first` is (pop_front refills `first`).
            self.first = Some(chunk);
        } else {
            self.rest.get_or_insert_default().push_back(chunk);
        }
    }

    pub(crate) fn pop_front(&mut self) -> Option<Chunk> {
        let front = self.first.take();
        self.first = self.rest.as_mut().and_then(|r| r.pop_front());
        front
    }

    pub(crate) fn front(&self) -> Option<&Chunk> {
        self.first.as_ref()
    }

    pub(crate) fn front_mut(&mut self) -> Option<&mut Chunk> {
        self.first.as_mut()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Chunk> {
        self.first
            .iter()
            .chain(self.rest.iter().flat_map(|r| r.iter()))
    }

    pub(crate) fn clear(&mut self) {
        self.first = None;
        self.rest = None;
    }
}

/// Where a message is in its framing (RFC 9113 §8.1), for one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// No field section yet.
    Headers,
    /// One or more 1xx responses, no final one yet.
    Informational,
    /// The final header section is done; DATA and trailers may follow.
    Body,
    /// The message ended.
    Done,
}

#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) state: StreamState,
    /// We opened (or promised) it.
    pub(crate) local: bool,
    pub(crate) send_window: Window,
    pub(crate) recv: RecvFlow,
    pub(crate) queue: ChunkQueue,
    pub(crate) queued: usize,
    /// END_STREAM is to follow the queued data (with the trailers if any).
    pub(crate) end_queued: bool,
    pub(crate) end_written: bool,
    /// Boxed: trailers are rare, and every stream would otherwise carry 16 more bytes (a
    /// server holding 100 streams for a peer that reads nothing holds 100 of these).
    #[allow(clippy::box_collection)]
    pub(crate) trailers: Option<Box<Vec<Field>>>,
    pub(crate) scheduled: bool,
    pub(crate) priority: PrioritySignal,
    pub(crate) recv_phase: Phase,
    pub(crate) send_phase: Phase,
    pub(crate) content_length: Option<u64>,
    pub(crate) received: u64,
    /// The request was HEAD (client side): the response has no body.
    pub(crate) head: bool,
    /// The response must have no body whatever its content-length says (HEAD, 204, 304).
    pub(crate) no_body: bool,
    /// Since when queued data has waited for the stream's own send window (see
    /// `Limits::send_stall_timeout`).
    pub(crate) stalled_since: Option<Instant>,
}

/// The flow-control window that holds back a stream's next DATA frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WindowWait {
    /// The stream's own send window.
    Stream,
    /// The connection's send window (the stream's is open).
    Connection,
}

impl Stream {
    pub(crate) fn new(local: bool, send_window: Window, recv: RecvFlow) -> Self {
        Stream {
            state: StreamState::Idle,
            local,
            send_window,
            recv,
            queue: ChunkQueue::default(),
            queued: 0,
            end_queued: false,
            end_written: false,
            trailers: None,
            scheduled: false,
            priority: PrioritySignal::NONE,
            recv_phase: Phase::Headers,
            send_phase: Phase::Headers,
            content_length: None,
            received: 0,
            head: false,
            no_body: false,
            stalled_since: None,
        }
    }

    /// Which window, if any, keeps the stream's queued data from being written.
    pub(crate) fn window_wait(&self, conn_window: u32) -> Option<WindowWait> {
        let c = self.queue.iter().find(|c| !c.data.is_empty())?;
        if self.send_window.available() <= c.overhead() {
            Some(WindowWait::Stream)
        } else if conn_window <= c.overhead() {
            Some(WindowWait::Connection)
        } else {
            None
        }
    }

    /// Whether output (data, trailers or END_STREAM) is waiting to be written.
    pub(crate) fn has_output(&self) -> bool {
        self.queued > 0 || !self.queue.is_empty() || (self.end_queued && !self.end_written)
    }

    /// Whether the stream can write its next frame given the connection window.
    pub(crate) fn can_write(&self, conn_window: u32) -> bool {
        match self.queue.iter().find(|c| !c.data.is_empty()) {
            Some(c) => self.send_window.available().min(conn_window) > c.overhead(),
            None => self.end_queued && !self.end_written,
        }
    }

    /// Drops everything queued (after a reset).
    pub(crate) fn clear_output(&mut self) {
        self.queue.clear();
        self.queued = 0;
        self.trailers = None;
        self.end_queued = false;
    }
}

/// A borrowed view of one stream: its state and the commands that act on it.
///
/// Obtained from [`Connection::stream`]; it borrows the connection for as long as it lives, so
/// there is no shared handle or lock (STYLE §2).
#[derive(Debug)]
pub struct StreamMut<'a> {
    pub(crate) conn: &'a mut Connection,
    pub(crate) id: StreamId,
}

impl StreamMut<'_> {
    /// The stream id.
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// The stream's state (RFC 9113 §5.1) as far as the commands issued so far are concerned.
    pub fn state(&self) -> StreamState {
        self.conn.stream_state(self.id)
    }

    /// What we may still send on the stream now: the smaller of its window and the
    /// connection's (0 when negative).
    pub fn send_capacity(&self) -> u32 {
        self.conn.send_capacity(self.id)
    }

    /// The stream's receive window: what the peer may still send on it.
    pub fn recv_window(&self) -> i32 {
        self.conn.recv_window(self.id).unwrap_or(0)
    }

    /// The `content-length` of the message received on the stream, when it had a valid one
    /// (checked against the DATA that arrives: a mismatch is a stream error). A receiver can
    /// size a buffer for the whole body from it.
    pub fn content_length(&self) -> Option<u64> {
        self.conn
            .streams
            .get(self.id)
            .and_then(|s| s.content_length)
    }

    /// Bytes queued on the stream and not yet written.
    pub fn queued(&self) -> usize {
        self.conn.streams.get(self.id).map_or(0, |s| s.queued)
    }

    /// Whether anything of ours is still queued on the stream and not yet written: data,
    /// trailers, or the END_STREAM flag. A server that wants to reset a stream once its
    /// response is out (RST_STREAM NO_ERROR to stop an upload it will not read, RFC 9113
    /// §8.1) waits for this to turn false: [`reset`](Self::reset) drops what is queued.
    pub fn has_output(&self) -> bool {
        self.conn
            .streams
            .get(self.id)
            .is_some_and(|s| s.has_output())
    }

    /// Queues `data`; `end_stream` ends our side after it. See [`Connection::send_data`].
    pub fn send_data(&mut self, data: Bytes, end_stream: bool) -> Result<(), UsageError> {
        self.conn.send_data(self.id, data, end_stream)
    }

    /// Ends our side of the stream (an empty DATA frame with END_STREAM after what is queued).
    pub fn finish(&mut self) -> Result<(), UsageError> {
        self.conn.send_data(self.id, Bytes::new(), true)
    }

    /// Queues trailers, which end the stream. See [`Connection::send_trailers`].
    pub fn send_trailers(&mut self, trailers: Vec<Field>) -> Result<(), UsageError> {
        self.conn.send_trailers(self.id, trailers)
    }

    /// Resets the stream. See [`Connection::reset`].
    pub fn reset(&mut self, code: ErrorCode) -> Result<(), UsageError> {
        self.conn.reset(self.id, code)
    }

    /// Gives back receive capacity. See [`Connection::release_capacity`].
    pub fn release_capacity(&mut self, len: u32) {
        self.conn.release_capacity(self.id, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(b: &'static [u8]) -> Chunk {
        Chunk {
            data: Bytes::from_static(b),
            pad: None,
        }
    }

    #[test]
    fn chunk_queue_keeps_order_across_the_inline_slot() {
        let mut q = ChunkQueue::default();
        assert!(q.is_empty() && q.pop_front().is_none());
        q.push_back(chunk(b"a"));
        q.push_back(chunk(b"b"));
        q.push_back(chunk(b"c"));
        let seen: Vec<&[u8]> = q.iter().map(|c| &c.data[..]).collect();
        assert_eq!(seen, [&b"a"[..], b"b", b"c"]);
        assert_eq!(
            q.pop_front().map(|c| c.data),
            Some(Bytes::from_static(b"a"))
        );
        q.push_back(chunk(b"d"));
        if let Some(front) = q.front_mut() {
            front.data = Bytes::from_static(b"B");
        }
        let rest: Vec<Bytes> = std::iter::from_fn(|| q.pop_front().map(|c| c.data)).collect();
        assert_eq!(rest, [&b"B"[..], b"c", b"d"]);
        assert!(q.is_empty() && q.front().is_none());
        q.push_back(chunk(b"e"));
        q.clear();
        assert!(q.is_empty());
    }
}
