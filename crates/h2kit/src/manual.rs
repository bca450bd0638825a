//! The attacks h2kit defends against, and why each default is what it is.
//!
//! This module has no code. Every limit lives in [`Limits`](crate::config::Limits) or
//! [`LocalSettings`](crate::config::LocalSettings), and every limit that trips produces a
//! typed [`LimitExceeded`](crate::LimitExceeded) so the application can log which one.
//! Rate budgets ([`RateLimit`](crate::limits::RateLimit)) are sliding-window counters of constant
//! size, driven by the `now` the driver passes in.
//!
//! # Principle
//!
//! Nothing the peer sends may make us hold memory or do work without bound. For each kind of
//! frame we ask: what does it cost us, what does it cost the peer, and what does a legitimate
//! peer plausibly need? Defaults sit one or two orders of magnitude above the last and far below
//! what an attack needs to hurt.
//!
//! # Rapid Reset (CVE-2023-44487)
//!
//! The peer opens a stream with HEADERS and immediately cancels it with RST_STREAM. Each
//! stream costs us header decoding, an application callback and perhaps backend work, but never
//! counts against SETTINGS_MAX_CONCURRENT_STREAMS for long, so the concurrency limit does not
//! help. A variant (sometimes called "MadeYouReset") makes *us* reset streams by sending
//! something invalid on them.
//!
//! Defence: `limits.resets` counts streams reset by the peer *and* streams we reset because of
//! the peer; beyond 1,000 per 10 s the connection ends with GOAWAY ENHANCE_YOUR_CALM. Browsers
//! cancel every stream of a page when users navigate away, up to SETTINGS_MAX_CONCURRENT_STREAMS
//! (100) at once, so a user clicking through several pages in a few seconds must stay within
//! the budget (200 did not); an attack needs tens of thousands per second to matter.
//! `limits.max_pending_accept` (100) additionally caps streams waiting for the application,
//! refusing extra ones with REFUSED_STREAM (which a client may safely retry).
//!
//! # CONTINUATION flood (2024, VU#421644)
//!
//! HEADERS without END_HEADERS, followed by an endless run of CONTINUATION frames. An
//! implementation that buffers the block until END_HEADERS runs out of memory; one that decodes
//! each frame burns CPU on HPACK/Huffman without ever producing a request it could reject.
//!
//! Defence: `limits.max_header_block_bytes` (96 KiB, 1.5 × the 64 KiB header list limit, since
//! HPACK rarely expands and a legitimate block of a maximal list compresses well below it) and
//! `limits.max_continuation_frames` (32: at the minimum frame size of 16 KiB that is already
//! 512 KiB; real clients need one or two) are checked **as each frame arrives**, and the
//! connection ends with ENHANCE_YOUR_CALM. It must be the connection, not the stream: a block we
//! do not decode leaves HPACK state out of sync.
//!
//! # HPACK bomb
//!
//! A small encoded block that references a large dynamic-table entry many times, expanding to
//! megabytes of header list.
//!
//! Defence: SETTINGS_MAX_HEADER_LIST_SIZE (64 KiB, four times what browsers send in practice
//! with large cookies) is enforced on the *decoded* size while decoding, not after; a block
//! over it is still decoded to keep HPACK in sync, but its fields are dropped and the stream is
//! reset. SETTINGS_HEADER_TABLE_SIZE stays at the RFC default of 4 KiB. In the other direction
//! `limits.max_encoder_table_size` (4 KiB) stops a peer that advertises a 4 GiB table from
//! making our encoder keep one.
//!
//! # SETTINGS, PING, empty DATA, WINDOW_UPDATE and PRIORITY floods (CVE-2019-9511 … 9518)
//!
//! Each of these frames is cheap to send and makes us do work or queue a reply: a SETTINGS or
//! PING needs an ACK, PRIORITY reshapes a dependency tree, an empty DATA frame does nothing at
//! all but costs a wakeup, a WINDOW_UPDATE of a few bytes makes us cut DATA frames of a few
//! bytes. A flood is work a conforming peer would not cause, not a count of legal frames, so
//! each budget counts only what a conforming peer does rarely:
//!
//! - PING: not counted by default. A PING costs one 17-byte ACK, and bandwidth estimators
//!   send PINGs while data flows: gRPC's BDP pings one per round trip, thousands a second on
//!   a fast link (ours at most one per 100 ms, see the receive windows below). What a flood costs us is the ACKs the peer
//!   leaves unread, bounded by the reply queue below (nghttp2 judges it the same way).
//!   `limits.pings` can still set a rate.
//! - SETTINGS: 30 per 10 s (peers send one or two per connection, a BDP estimator a few
//!   more); each may change every stream's window, so it is counted.
//! - empty DATA without END_STREAM: 100 per 10 s (streams ended by an empty DATA frame carry
//!   END_STREAM and are not counted).
//! - WINDOW_UPDATE: only *small* ones, crediting under 1 KiB (or an eighth of the peer's
//!   initial window, if smaller): 10,000 per 10 s. An update of a useful size pays for the data
//!   it lets us send; Go's client sends one per 32 KiB read on every stream and connection,
//!   tens of thousands a second on loopback, which a fixed count of all updates cut off.
//! - PRIORITY and PRIORITY_UPDATE: 1,000 per 10 s (Firefox sends a handful per connection,
//!   browsers re-prioritise a few times per page).
//! - Frames on unknown or forgotten streams: 1,000 per 10 s, since each may cost us an
//!   RST_STREAM reply. WINDOW_UPDATE, RST_STREAM and PRIORITY on a closed stream are not
//!   counted: RFC 9113 §5.1 and §6.9 let a peer send them after a stream closed (a client
//!   returns window for data it reads after our END_STREAM), and we answer them with nothing.
//!
//! Every limit that ends the connection sends GOAWAY ENHANCE_YOUR_CALM first, with the limit
//! named in the debug data.
//!
//! # Peers that do not read (reply queue)
//!
//! A peer that sends PINGs (or frames that make us reset streams) but never reads our replies
//! makes a naïve implementation queue ACKs forever (python h2's output buffer is unbounded).
//!
//! Defence: output is generated lazily by `poll_transmit`, so the core never holds more than
//! one frame's worth of encoded output beyond what the driver asked for; control replies wait in
//! a queue of `limits.max_control_queue` (128) entries, and when it is full the connection ends
//! with ENHANCE_YOUR_CALM. 128 is far more than the replies one round trip of a legitimate peer
//! produces.
//!
//! # Closed streams
//!
//! After we reset a stream the peer may legitimately still send frames on it (RFC 9113 §5.1),
//! which we must ignore rather than treat as errors. Remembering every closed stream forever is
//! a memory leak a peer can drive; forgetting at once turns the peer's in-flight frames into
//! errors. `limits.max_closed_streams` (128) and `limits.closed_stream_retention` (10 s, many
//! round trips on any real network) bound the memory; frames on streams no longer remembered
//! count against the unknown-stream budget.
//!
//! # Zero-window stall (slow read)
//!
//! The peer opens its flow-control window to zero (or SETTINGS_INITIAL_WINDOW_SIZE 0) and
//! never reopens it, so responses sit in our buffers forever, or requests hold a slot forever.
//!
//! Defence: data queued by the application is held per stream up to
//! `limits.max_send_buffer_per_stream` (1 MiB) and then refused with a
//! [`UsageError::SendBufferFull`](crate::UsageError::SendBufferFull) the application can wait
//! on, so memory is bounded by streams × buffer. `limits.send_stall_timeout` (30 s) bounds
//! the time: data that has waited that long for the *stream's* window is dropped and the
//! stream reset with RST_STREAM ENHANCE_YOUR_CALM (reported as a stream error
//! [`LimitExceeded::SendStall`](crate::LimitExceeded::SendStall)); data that has waited that
//! long for the *connection's* window (every stream window it waits on being open) ends the
//! connection with GOAWAY ENHANCE_YOUR_CALM. Any WINDOW_UPDATE that lets data out starts the
//! wait again, and streams with nothing queued never stall, so a slow reader, a paused
//! download read a little at a time or a long poll is not cut off; a peer that reads nothing
//! at all for 30 s while we have data for it is not a reader we can serve. Browsers open
//! windows of megabytes and update them as the page reads. The stall is the peer's own doing
//! (a priority scheduler holding a stream back for others is not a stall), which is why the
//! code is ENHANCE_YOUR_CALM, as for the unread reply queue above.
//!
//! A peer that stops reading the *socket* instead leaves its windows open and our writes
//! blocked; the core cannot see that (it never does I/O), so the driver bounds what it
//! buffers for such a connection: h2kit-server grants response bodies credit from one
//! budget per connection (64 KiB by default, its `Builder::connection_send_budget`; output the
//! socket would not take counts against it, and it never exceeds the connection's send
//! window by more than 16 KiB), so a flood of large responses nobody reads holds at most
//! that much data, and it closes a socket that accepts none of its output for
//! `send_stall_timeout`.
//!
//! `limits.idle_timeout` (5 minutes) closes connections with no frames received and no
//! streams open.
//!
//! # Connections that never ask
//!
//! A peer that opens connections and then sends nothing, or the preface and SETTINGS and
//! nothing more (a Slowloris of HTTP/2), costs a connection's memory each without any frame
//! that trips a limit; PINGs would even keep the idle timeout from firing.
//! `limits.first_request_timeout` (30 s) closes a server connection whose peer opened no
//! stream within that time of its start with GOAWAY NO_ERROR
//! ([`ConnectionError::FirstRequestTimeout`](crate::ConnectionError::FirstRequestTimeout)).
//! Browsers open connections they predict a page will need and send the request within
//! seconds. The time before the preface arrives is covered too, since the timer starts with
//! the connection; h2kit-server additionally bounds the TLS handshake and the h2c preface
//! with its `handshake_timeout` (10 s).

//! # Receive windows: auto-tuned, with caps
//!
//! With the RFC's 64 KiB windows a receiver allows one window per round trip: 5 Mbit/s at
//! 100 ms, whatever the link (issue 12 measured `h2kit get` at 27 s for 16 MiB where curl
//! took 1.45 s). Every window is therefore auto-tuned by default
//! ([`Bdp`](crate::flow::Bdp)): it starts at the RFC's 65,535 octets for streams (small
//! requests need no more) and 1 MiB for the connection, and grows when about a whole window
//! (3/4) arrives within one round trip, which means the window and not the link limited the
//! sender. It grows by the factor the arrival rate shows (2 to 32 per step), so a long fat
//! link is filled within a few round trips, and it stops once the sender no longer uses 3/4
//! of the window per round trip, between 4/3 of the bandwidth-delay product and the cap.
//!
//! - **Round trips** come from the acknowledgement of our first SETTINGS and from PINGs the
//!   connection sends while DATA arrives: the first with the first DATA, then at most one
//!   outstanding and at most one per max(RTT, 100 ms), and none once the windows the DATA
//!   arrives on are at their caps or their policies do not use RTT samples
//!   ([`WindowPolicy::wants_rtt`](crate::flow::WindowPolicy::wants_rtt)). The smallest sample
//!   counts: queueing behind our own data on a busy link only adds to a round trip. A peer
//!   flooding PINGs, or acknowledging PINGs it guesses, cannot raise that rate: the estimator
//!   waits for its own PING and then for the interval.
//! - **Caps**: 16 MiB per stream ([`DEFAULT_STREAM_WINDOW_CAP`](crate::flow::DEFAULT_STREAM_WINDOW_CAP))
//!   and 32 MiB per connection
//!   ([`DEFAULT_CONNECTION_WINDOW_CAP`](crate::flow::DEFAULT_CONNECTION_WINDOW_CAP)). Go's
//!   client announces 4 MiB per stream and 1 GiB per connection, Chrome 6 MiB and 15 MiB,
//!   curl raises each stream to 10 MiB with a 10 MiB connection window; hyper's adaptive
//!   window and gRPC's BDP estimator stop at 16 MiB. Go's and Chrome's stream windows hold one
//!   stream below 500 Mbit/s at 100 ms; 16 MiB fills 1 Gbit/s at 100 ms (a product of
//!   12.5 MB). The connection cap is twice the stream cap, as Chrome keeps 2.5 times, so a
//!   stream at its cap never waits for the connection.
//! - **Announcements**: released octets are announced once half a small window, or an eighth
//!   of a window above 128 KiB (at least 64 KiB), is released, so a large window is never
//!   half unannounced for long. Once a stream has grown to twice our
//!   SETTINGS_INITIAL_WINDOW_SIZE, the grown size is announced in SETTINGS
//!   ([`Config::grow_initial_window`](crate::Config::grow_initial_window)), as gRPC does, so
//!   new streams start near the product: at most one SETTINGS per doubling, a handful per
//!   connection, well within anyone's SETTINGS budget.
//!
//! Windows are promises, not buffers. A window grows only when a release leaves at most half
//! of it unread, soon after the evidence: an application that does not read gets no growth,
//! and a slow reader's window grows only to what it reads per round trip. The window reopens
//! only as the application releases data, so what a connection buffers for bodies the
//! application has not read is at most its connection window: 1 MiB until it has grown, and
//! never more than the cap (32 MiB). A server with many connections that worries about that
//! bound lowers `connection_window` to `Bdp { max }` with a smaller `max`, or fixes the
//! windows with [`WindowStrategy::Threshold`](crate::flow::WindowStrategy::Threshold).
//!
//! In the other direction, a peer that shrinks SETTINGS_INITIAL_WINDOW_SIZE mid-transfer
//! drives our send windows negative (RFC 9113 §6.9.2): nothing is sent until its
//! WINDOW_UPDATEs bring them back above zero. A peer that never sends WINDOW_UPDATE gets one
//! window and then nothing, and after `limits.send_stall_timeout` the zero-window stall
//! above ends the stream or the connection.
//!
//! # SETTINGS acknowledgement
//!
//! A peer that never acknowledges our SETTINGS keeps us on the RFC defaults (including a 64 KiB
//! header list limit we might have lowered). After `limits.settings_ack_timeout` (10 s) the
//! connection closes with SETTINGS_TIMEOUT (RFC 9113 §6.5.3).
//!
//! # Concurrency
//!
//! SETTINGS_MAX_CONCURRENT_STREAMS defaults to 100, the value RFC 9113 recommends as the
//! minimum; HEADERS beyond it are refused with RST_STREAM REFUSED_STREAM (a stream error, so
//! the client can retry), not a connection error.
