//! The attacks h2kit defends against, and why each default is what it is.
//!
//! This module has no code. Every limit lives in [`Limits`](crate::config::Limits) or
//! [`LocalSettings`](crate::config::LocalSettings), and every limit that trips produces a
//! typed [`LimitExceeded`](crate::LimitExceeded) so the application can log which one.
//! Rate budgets are sliding-window counters ([`Budget`](crate::limits::Budget)) of constant
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
//! the peer; beyond 200 per 10 s the connection ends with GOAWAY ENHANCE_YOUR_CALM. Browsers
//! cancel streams when users navigate, which is tens per page at most; an attack needs tens of
//! thousands per second to matter. `limits.max_pending_accept` (100) additionally caps streams
//! waiting for the application, refusing extra ones with REFUSED_STREAM (which a client may
//! safely retry).
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
//! all but costs a wakeup. Defaults per 10 s: 30 SETTINGS (peers send one or two per
//! connection), 50 PINGs (keep-alive and BDP probes send one every few seconds), 100 empty DATA
//! frames (some implementations end streams with an empty DATA frame, but those carry
//! END_STREAM and are not counted), 10,000 WINDOW_UPDATEs (an eager receiver may send one per
//! DATA frame: at 16 KiB frames that is 160 MiB/s worth), 1,000 PRIORITY/PRIORITY_UPDATE
//! frames (Firefox sends a handful per connection). Frames on unknown or forgotten streams are
//! budgeted too (1,000 per 10 s), since each may cost us an RST_STREAM reply.
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
//! errors. `limits.max_closed_streams` (1,024) and `limits.closed_stream_retention` (10 s, many
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
//! on, so memory is bounded by streams × buffer; `limits.idle_timeout` (5 minutes) closes
//! connections with no frames received and no streams open. Timeouts on individual stalled
//! streams belong to the application, which knows how long a response may take.
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
