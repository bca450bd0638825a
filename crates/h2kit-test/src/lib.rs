//! Test support for h2kit (unpublished): a frame-builder DSL and a scripted HTTP/2 peer.
//!
//! - [`frames`]: one builder per frame type with defaults and fluent modifiers —
//!   `frames::headers(1).request("GET", "/").end_stream()`, `frames::data(1, b"x").padded(10)`,
//!   `frames::settings().initial_window_size(0)`, `frames::goaway(3, code).debug(b"bye")`,
//!   `frames::raw(type, flags, id, payload)` for anything malformed. Each turns into a
//!   [`FrameSpec`] that can be sent or expected; as an expectation it compares only what the
//!   test wrote down (the table in [`frames`] says exactly what).
//! - [`ScriptedPeer`]: a pure peer for tests against one connection. It has no I/O and knows
//!   nothing of the connection's API: the test moves bytes between them.
//!   [`send`](ScriptedPeer::send) encodes frames (header lists with the peer's own, stateful
//!   HPACK encoder) into [`take_output`](ScriptedPeer::take_output);
//!   [`feed`](ScriptedPeer::feed) decodes what the connection wrote (CONTINUATION assembled,
//!   header blocks decoded with the peer's own HPACK decoder), and
//!   [`expect`](ScriptedPeer::expect) / [`next_frame`](ScriptedPeer::next_frame) check it,
//!   panicking with expected, received and the differences on mismatch.
//! - [`Pair`]: a client and a server `h2kit::Connection` in memory on a virtual clock, with
//!   one-way latency, a byte cap per step (partial reads), timers, [`Pair::drive`] /
//!   [`Pair::drive_bounded`] (livelock and stall detection) and [`Pair::intercept`] to inspect,
//!   drop or replace frames in either direction.
//!   [`Pair::eof_on_close`] closes a side's transport once it has closed;
//!   [`Pair::transfer`] moves one direction only, to order deliveries.
//! - [`Harness`]: one `h2kit::Connection` under test wired to a [`ScriptedPeer`]:
//!   [`Harness::send`] hands what the peer sends straight to the connection and returns the
//!   result of its `recv`, [`Harness::flush`] feeds what the connection writes to the peer
//!   for its assertions; events are collected, the clock is virtual.
//! - [`fields`]: header lists for the connection's commands (`fields::get("/")`,
//!   `fields::status(200)`), the same the frame builders' `request` and `response` write.
//! - [`split_into`] and [`for_each_split`]: run a scenario with input in 1-, 7- and
//!   16384-octet pieces (STYLE §13).
//!
//! ```text
//!   test ──send(spec)──▶ ScriptedPeer ──take_output()──▶ bytes ──▶ connection under test
//!   test ◀──expect(spec)── ScriptedPeer ◀──feed(bytes)── bytes ◀── connection under test
//! ```
//!
//! # Example
//!
//! Two scripted peers talking to each other (in a real test one side is a `Connection`):
//!
//! ```
//! use h2kit_test::{ErrorCode, ScriptedPeer, frames};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut client = ScriptedPeer::client();
//! let mut server = ScriptedPeer::server();
//! server.auto_ack_settings(true);
//!
//! client
//!     .send(frames::preface().settings(frames::settings().enable_push(false)))
//!     .send(frames::headers(1).request("GET", "/").field("accept", "*/*").end_stream());
//! server.feed(&client.take_output()); // checks the client magic, decodes, acks SETTINGS
//! server.expect(frames::preface()); // any SETTINGS
//! let request = server.expect(frames::headers(1).request("GET", "/").end_stream());
//! assert_eq!(request.field("accept"), Some(&b"*/*"[..]));
//!
//! server
//!     .send(frames::preface())
//!     .send(frames::headers(1).response(200).field("content-type", "text/plain"))
//!     .send(frames::data(1, b"hello").padded(4).end_stream())
//!     .send(frames::goaway(1, ErrorCode::NO_ERROR).debug(b"done"));
//! client.feed(&server.take_output());
//! client.expect(frames::settings_ack()); // the automatic answer came first
//! client.expect(frames::settings());
//! client.expect(frames::headers(1).response(200)); // other fields may follow
//! let body = client.next_frame().ok_or("no DATA")?;
//! assert!(body.matches(frames::data(1, b"hello").end_stream()));
//! client.expect_goaway(ErrorCode::NO_ERROR);
//! client.expect_nothing();
//! # Ok(())
//! # }
//! ```

mod describe;
mod encode;
mod expect;
pub mod fields;
pub mod frames;
mod harness;
mod pair;
mod peer;
mod received;
mod split;

pub use frames::FrameSpec;
pub use harness::Harness;
pub use pair::{DRIVE_LIMIT, Direction, DriveError, PACKET, Pair, Side, Verdict};
pub use peer::{Role, ScriptedPeer};
pub use received::ReceivedFrame;
pub use split::{SPLIT_SIZES, for_each_split, split_into};

pub use h2kit_frame::{ErrorCode, Flags, Frame, FrameType, SettingId, StreamId};
pub use h2kit_hpack::HeaderField;

/// The DATA payload a side received on stream `id`, in order, among `events`, and whether one
/// of those DATA frames carried END_STREAM.
pub fn body_of(events: &[h2kit::Event], id: h2kit::StreamId) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut ended = false;
    for event in events {
        if let h2kit::Event::Data {
            stream,
            data,
            end_stream,
            ..
        } = event
        {
            if *stream == id {
                out.extend_from_slice(data);
                ended |= *end_stream;
            }
        }
    }
    (out, ended)
}

#[cfg(test)]
mod tests;
