//! Connection configuration: our SETTINGS, limits against hostile peers, validation switches
//! and flow-control strategies. Every default is safe to expose to the Internet; the reasons
//! are in [`crate::manual`].

use std::sync::Arc;
use std::time::Duration;

use h2kit_frame::SettingId;
use h2kit_priority::{ExtensibleScheduler, PriorityTree, RoundRobin, Scheduler};

use crate::flow::{
    DEFAULT_CONNECTION_WINDOW_CAP, DEFAULT_STREAM_WINDOW_CAP, DEFAULT_WINDOW, MAX_WINDOW,
    WindowStrategy,
};
use crate::headers::HeaderValidation;
use crate::limits::RateLimit;

/// Our default SETTINGS_INITIAL_WINDOW_SIZE: 1 MiB (see
/// [`SettingsValues::initial_window_size`]).
pub const DEFAULT_INITIAL_STREAM_WINDOW: u32 = 1 << 20;

/// Our default initial connection receive window: 2 MiB (see
/// [`Config::connection_window_size`]).
pub const DEFAULT_INITIAL_CONNECTION_WINDOW: u32 = 2 << 20;

/// SETTINGS values (RFC 9113 §6.5.2, RFC 8441 §3, RFC 9218 §2.1): ours ([`LocalSettings`])
/// or the peer's ([`PeerSettings`]).
///
/// [`SettingsValues::RFC_DEFAULTS`] are the values in effect before any SETTINGS frame;
/// [`Default`] gives the values a connection announces unless configured otherwise (safe to
/// expose to the Internet, see [`crate::manual`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SettingsValues {
    /// SETTINGS_HEADER_TABLE_SIZE: the HPACK table the sender's decoder keeps. RFC default and
    /// our default 4,096.
    pub header_table_size: u32,
    /// SETTINGS_ENABLE_PUSH (meaningful from a client; a server always sends 0 or omits it).
    /// RFC default true; our default false: push is rarely useful and costs memory.
    pub enable_push: bool,
    /// SETTINGS_MAX_CONCURRENT_STREAMS the receiver may open. RFC default unlimited; our
    /// default 100.
    pub max_concurrent_streams: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE of each stream the receiver sends on. RFC default 65,535;
    /// our default 1 MiB, as Go's and hyper's servers announce (Go's client 4 MiB, Chrome
    /// 6 MiB). Auto-tuned windows (see [`Config::stream_window`]) grow from there, raising
    /// this setting for new streams once they have ([`Config::grow_initial_window`]); but
    /// the receiver of an upload learns the round trip only one round trip after the body
    /// started, so the first two round trips of a body carry this much: with 64 KiB a
    /// 100 Mbit/s, 100 ms upload lost 0.2 s. It costs no memory bound of its own: half the
    /// connection window ([`Config::connection_window_size`]), which bounds all streams
    /// together.
    pub initial_window_size: u32,
    /// SETTINGS_MAX_FRAME_SIZE: the largest frame payload the sender accepts. RFC default and
    /// our default 16,384 (the protocol minimum).
    pub max_frame_size: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE the sender accepts (advisory). RFC default unlimited;
    /// our default 65,536.
    pub max_header_list_size: u32,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441; from servers): extended CONNECT may be
    /// sent to the sender. Default false.
    pub enable_connect_protocol: bool,
    /// SETTINGS_NO_RFC7540_PRIORITIES (RFC 9218). RFC default false; our default true: we
    /// schedule by RFC 9218 urgency and incremental flags.
    pub no_rfc7540_priorities: bool,
}

/// The SETTINGS we send. They take effect when the peer acknowledges them.
pub type LocalSettings = SettingsValues;

/// The peer's SETTINGS as currently in effect ([`SettingsValues::RFC_DEFAULTS`] until it
/// sends them).
pub type PeerSettings = SettingsValues;

impl SettingsValues {
    /// The values in effect before any SETTINGS frame (RFC 9113 §6.5.2, RFC 8441 §3,
    /// RFC 9218 §2.1).
    pub const RFC_DEFAULTS: SettingsValues = SettingsValues {
        header_table_size: 4_096,
        enable_push: true,
        max_concurrent_streams: u32::MAX,
        initial_window_size: DEFAULT_WINDOW,
        max_frame_size: 16_384,
        max_header_list_size: u32::MAX,
        enable_connect_protocol: false,
        no_rfc7540_priorities: false,
    };

    /// Whether every value is within the range RFC 9113 §6.5.2 allows.
    pub fn is_valid(&self) -> bool {
        self.initial_window_size <= MAX_WINDOW
            && (16_384..=16_777_215).contains(&self.max_frame_size)
    }

    /// Every value with its identifier, in identifier order (booleans as 0 or 1).
    pub(crate) fn pairs(&self) -> [(SettingId, u32); 8] {
        [
            (SettingId::HEADER_TABLE_SIZE, self.header_table_size),
            (SettingId::ENABLE_PUSH, u32::from(self.enable_push)),
            (
                SettingId::MAX_CONCURRENT_STREAMS,
                self.max_concurrent_streams,
            ),
            (SettingId::INITIAL_WINDOW_SIZE, self.initial_window_size),
            (SettingId::MAX_FRAME_SIZE, self.max_frame_size),
            (SettingId::MAX_HEADER_LIST_SIZE, self.max_header_list_size),
            (
                SettingId::ENABLE_CONNECT_PROTOCOL,
                u32::from(self.enable_connect_protocol),
            ),
            (
                SettingId::NO_RFC7540_PRIORITIES,
                u32::from(self.no_rfc7540_priorities),
            ),
        ]
    }

    /// Sets the value of `id` (a boolean is true for 1) and returns the previous one (as
    /// [`pairs`](Self::pairs) gives it), or `None` for an identifier without a field here.
    pub(crate) fn set(&mut self, id: SettingId, value: u32) -> Option<u32> {
        let number = |field: &mut u32| core::mem::replace(field, value);
        let flag = |field: &mut bool| u32::from(core::mem::replace(field, value == 1));
        Some(match id {
            SettingId::HEADER_TABLE_SIZE => number(&mut self.header_table_size),
            SettingId::ENABLE_PUSH => flag(&mut self.enable_push),
            SettingId::MAX_CONCURRENT_STREAMS => number(&mut self.max_concurrent_streams),
            SettingId::INITIAL_WINDOW_SIZE => number(&mut self.initial_window_size),
            SettingId::MAX_FRAME_SIZE => number(&mut self.max_frame_size),
            SettingId::MAX_HEADER_LIST_SIZE => number(&mut self.max_header_list_size),
            SettingId::ENABLE_CONNECT_PROTOCOL => flag(&mut self.enable_connect_protocol),
            SettingId::NO_RFC7540_PRIORITIES => flag(&mut self.no_rfc7540_priorities),
            _ => return None,
        })
    }
}

impl Default for SettingsValues {
    /// What a connection announces unless configured otherwise: the RFC defaults with push
    /// off, 100 concurrent streams, 1 MiB stream windows, header lists up to 64 KiB and
    /// RFC 9218 priorities.
    fn default() -> Self {
        SettingsValues {
            enable_push: false,
            max_concurrent_streams: 100,
            initial_window_size: DEFAULT_INITIAL_STREAM_WINDOW,
            max_header_list_size: 64 * 1024,
            no_rfc7540_priorities: true,
            ..SettingsValues::RFC_DEFAULTS
        }
    }
}

/// Limits against hostile peers. Each has a safe default and trips a typed error
/// ([`crate::LimitExceeded`]) with GOAWAY/RST_STREAM ENHANCE_YOUR_CALM unless said otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// CONTINUATION frames allowed after one HEADERS / PUSH_PROMISE. Default 32.
    pub max_continuation_frames: u32,
    /// Encoded bytes allowed in one field block (HEADERS + CONTINUATION), checked as each
    /// frame arrives so an oversized block is never buffered. Default 96 KiB.
    pub max_header_block_bytes: u32,
    /// Streams reset by the peer, or by us because of the peer, per period (Rapid Reset).
    /// Default 1,000 per 10 s: a browser leaving a page cancels up to
    /// SETTINGS_MAX_CONCURRENT_STREAMS streams at once, several pages in a row stay well
    /// within it, and an attack needs tens of thousands per second.
    pub resets: RateLimit,
    /// SETTINGS frames (not ACKs) per period. Default 30 per 10 s.
    pub settings: RateLimit,
    /// PING frames (not ACKs) per period. Default [`RateLimit::UNLIMITED`]: a PING flood is
    /// judged by the ACKs the peer leaves unread ([`Limits::max_control_queue`]), as
    /// nghttp2 does, since bandwidth estimators (gRPC's BDP pings, our own client's) send one
    /// PING per round trip while data flows, thousands a second on a fast link.
    pub pings: RateLimit,
    /// DATA frames with no payload and no END_STREAM per period. Default 100 per 10 s.
    pub empty_data: RateLimit,
    /// Small WINDOW_UPDATE frames per period: those crediting less than 1 KiB (or an eighth
    /// of the peer's own SETTINGS_INITIAL_WINDOW_SIZE, if that is smaller). Larger updates pay
    /// for the data they let us send and are never counted: a fast receiver sends one per
    /// 16–32 KiB read, tens of thousands a second. Default 10,000 per 10 s.
    pub window_updates: RateLimit,
    /// PRIORITY and PRIORITY_UPDATE frames per period. Default 1,000 per 10 s.
    pub priority: RateLimit,
    /// Frames on closed, forgotten or otherwise unknown streams per period, except
    /// WINDOW_UPDATE, RST_STREAM and PRIORITY, which RFC 9113 §5.1 lets a peer send after a
    /// stream closed and which we answer with nothing. Default 1,000 per 10 s.
    pub unknown_stream_frames: RateLimit,
    /// Control replies (PING and SETTINGS ACKs, RST_STREAM, WINDOW_UPDATE) waiting to be
    /// written; when the peer does not read them and this fills, the connection closes.
    /// Default 128.
    pub max_control_queue: usize,
    /// Closed stream ids remembered so that late frames are ignored. Default 128: more
    /// than the 100 streams a peer may have open at once under the default
    /// SETTINGS_MAX_CONCURRENT_STREAMS, so a whole round of them is remembered. Each costs
    /// 28 bytes; a frame on a stream that is no longer open scans the ids remembered, so a
    /// much larger memory makes the peer's late frames dearer.
    pub max_closed_streams: usize,
    /// How long a closed stream id is remembered. Default 10 s.
    pub closed_stream_retention: Duration,
    /// Streams opened by the peer whose first event the application has not taken yet.
    /// New streams beyond it are refused with REFUSED_STREAM. The limit in force is never
    /// below our SETTINGS_MAX_CONCURRENT_STREAMS, so raising that setting alone is enough to
    /// accept that many streams arriving in one read. Default 100.
    pub max_pending_accept: usize,
    /// The largest HPACK table our encoder keeps, whatever SETTINGS_HEADER_TABLE_SIZE the
    /// peer advertises. Default 4,096.
    pub max_encoder_table_size: u32,
    /// Close the connection (GOAWAY NO_ERROR) after this long without any frame received and
    /// with no open stream. Default 5 minutes; `None` disables.
    pub idle_timeout: Option<Duration>,
    /// Close a server connection (GOAWAY NO_ERROR) on which the peer has opened no stream
    /// this long after the connection started: it counts from the first time the driver
    /// passes in, so it also covers a peer that never completes the preface. Clients ignore
    /// it. Default 30 s; `None` disables.
    pub first_request_timeout: Option<Duration>,
    /// Reset a stream (RST_STREAM ENHANCE_YOUR_CALM) whose data has waited this long for the
    /// peer to open the stream's send window, and close the connection (GOAWAY
    /// ENHANCE_YOUR_CALM) when data has waited this long for the connection's send window.
    /// Any WINDOW_UPDATE that lets data out starts the wait again. Default 30 s; `None`
    /// disables.
    pub send_stall_timeout: Option<Duration>,
    /// Send a PING after this long without any frame received. Default `None` (off).
    pub keep_alive_interval: Option<Duration>,
    /// Close the connection if a keep-alive PING is not acknowledged within this. Default 20 s.
    pub keep_alive_timeout: Duration,
    /// Close with SETTINGS_TIMEOUT if our SETTINGS are not acknowledged within this.
    /// Default 10 s.
    pub settings_ack_timeout: Duration,
    /// Bytes the application may queue on one stream beyond what the windows allow.
    /// Default 1 MiB.
    pub max_send_buffer_per_stream: usize,
    /// SETTINGS / PING frames of ours that may await acknowledgement at once. Default 8.
    pub max_pending_local: usize,
    /// After the peer's GOAWAY, once no stream is left, how long we keep answering PING and
    /// SETTINGS while waiting for the peer to close the transport (the GOAWAY's sender
    /// closes it, RFC 9113 §5.4.1, §6.8) before we end the connection ourselves.
    /// Default 1 s.
    pub goaway_linger: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        let ten = Duration::from_secs(10);
        Limits {
            max_continuation_frames: 32,
            max_header_block_bytes: 96 * 1024,
            resets: RateLimit::new(1_000, ten),
            settings: RateLimit::new(30, ten),
            pings: RateLimit::UNLIMITED,
            empty_data: RateLimit::new(100, ten),
            window_updates: RateLimit::new(10_000, ten),
            priority: RateLimit::new(1_000, ten),
            unknown_stream_frames: RateLimit::new(1_000, ten),
            max_control_queue: 128,
            max_closed_streams: 128,
            closed_stream_retention: ten,
            max_pending_accept: 100,
            max_encoder_table_size: 4_096,
            idle_timeout: Some(Duration::from_secs(300)),
            first_request_timeout: Some(Duration::from_secs(30)),
            send_stall_timeout: Some(Duration::from_secs(30)),
            keep_alive_interval: None,
            keep_alive_timeout: Duration::from_secs(20),
            settings_ack_timeout: ten,
            max_send_buffer_per_stream: 1 << 20,
            max_pending_local: 8,
            goaway_linger: Duration::from_secs(1),
        }
    }
}

/// A function building a scheduler for each new connection (see [`SchedulerKind::Custom`]).
pub type SchedulerFactory = dyn Fn() -> Box<dyn Scheduler + Send> + Send + Sync;

/// Which scheduler chooses the stream whose DATA goes out next: one of the three of
/// h2kit-priority, or any other implementing its [`Scheduler`] trait.
#[derive(Clone, Default)]
pub enum SchedulerKind {
    /// RFC 9218 urgency and incremental (`priority` header, PRIORITY_UPDATE):
    /// [`ExtensibleScheduler`]. The default.
    #[default]
    Extensible,
    /// The RFC 7540 dependency tree (HEADERS priority, PRIORITY frames): [`PriorityTree`].
    Tree,
    /// Plain round robin, ignoring every signal: [`RoundRobin`].
    RoundRobin,
    /// Any scheduler, the application's own included: the function builds one for each
    /// connection (see [`SchedulerKind::custom`]).
    Custom(Arc<SchedulerFactory>),
}

impl SchedulerKind {
    /// A scheduler of the application's: `make` builds one for each connection.
    ///
    /// ```
    /// use h2kit::{Config, SchedulerKind};
    /// use h2kit_priority::RoundRobin;
    ///
    /// let config = Config {
    ///     scheduler: SchedulerKind::custom(|| RoundRobin::with_max_streams(1_000)),
    ///     ..Config::default()
    /// };
    /// # let _ = h2kit::Connection::server(config);
    /// ```
    pub fn custom<S, F>(make: F) -> Self
    where
        S: Scheduler + Send + 'static,
        F: Fn() -> S + Send + Sync + 'static,
    {
        SchedulerKind::Custom(Arc::new(move || Box::new(make())))
    }

    /// Builds the scheduler for a new connection.
    pub fn build(&self) -> Box<dyn Scheduler + Send> {
        match self {
            SchedulerKind::Extensible => Box::new(ExtensibleScheduler::with_max_streams(1 << 20)),
            SchedulerKind::Tree => Box::new(PriorityTree::with_max_streams(1 << 16)),
            SchedulerKind::RoundRobin => Box::new(RoundRobin::with_max_streams(1 << 20)),
            SchedulerKind::Custom(make) => make(),
        }
    }
}

impl core::fmt::Debug for SchedulerKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SchedulerKind::Extensible => "Extensible",
            SchedulerKind::Tree => "Tree",
            SchedulerKind::RoundRobin => "RoundRobin",
            SchedulerKind::Custom(_) => "Custom(..)",
        })
    }
}

/// Everything a connection is configured with.
#[derive(Clone, Debug)]
pub struct Config {
    /// Our SETTINGS.
    pub settings: LocalSettings,
    /// Limits against hostile peers.
    pub limits: Limits,
    /// Checks on field sections we send (before HPACK encoding).
    pub validate_send: HeaderValidation,
    /// Checks on field sections we receive (after HPACK decoding).
    pub validate_recv: HeaderValidation,
    /// How each stream's receive window is reopened. Default: auto-tuned,
    /// [`WindowStrategy::Bdp`] up to [`DEFAULT_STREAM_WINDOW_CAP`] (16 MiB), starting at
    /// SETTINGS_INITIAL_WINDOW_SIZE. [`WindowStrategy::Threshold`] keeps a fixed window.
    pub stream_window: WindowStrategy,
    /// How the connection's receive window is reopened. Default: auto-tuned,
    /// [`WindowStrategy::Bdp`] up to [`DEFAULT_CONNECTION_WINDOW_CAP`] (32 MiB), which also
    /// bounds what the connection buffers for bodies the application does not read.
    pub connection_window: WindowStrategy,
    /// The connection receive window we start with (announced with a WINDOW_UPDATE on
    /// stream 0 at start when above 65,535). Default 2 MiB, twice the stream window, so one
    /// stream whose body is not read leaves room for the others (Chrome keeps 2.5 times,
    /// hyper's client 2.5 times, Go's server 1 time). It bounds what the connection buffers
    /// for bodies the application has not read until the window grows.
    pub connection_window_size: u32,
    /// Once a stream receive window has grown to at least twice our
    /// SETTINGS_INITIAL_WINDOW_SIZE, announce the grown size as our new
    /// SETTINGS_INITIAL_WINDOW_SIZE, so that new streams start near the bandwidth-delay
    /// product instead of growing again (gRPC does the same with its BDP estimate). Streams
    /// open at that moment are credited the difference (RFC 9113 §6.9.2), which their policy
    /// takes back from later releases. At most one SETTINGS per doubling. Default true.
    pub grow_initial_window: bool,
    /// The scheduler ordering DATA frames of concurrent streams: a built-in one or the
    /// application's own ([`SchedulerKind::custom`]). Default [`SchedulerKind::Extensible`].
    pub scheduler: SchedulerKind,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            settings: LocalSettings::default(),
            limits: Limits::default(),
            validate_send: HeaderValidation::STRICT,
            validate_recv: HeaderValidation::STRICT,
            stream_window: WindowStrategy::Bdp {
                max: DEFAULT_STREAM_WINDOW_CAP,
            },
            connection_window: WindowStrategy::Bdp {
                max: DEFAULT_CONNECTION_WINDOW_CAP,
            },
            connection_window_size: DEFAULT_INITIAL_CONNECTION_WINDOW,
            grow_initial_window: true,
            scheduler: SchedulerKind::Extensible,
        }
    }
}

impl Config {
    /// The default configuration.
    pub fn new() -> Self {
        Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_values() {
        let c = Config::new();
        assert_eq!(c.settings.max_concurrent_streams, 100);
        assert_eq!(c.settings.max_header_list_size, 65_536);
        assert_eq!(c.settings.initial_window_size, 1 << 20);
        assert!(c.settings.is_valid());
        assert!(!c.settings.enable_push);
        assert_eq!(c.limits.resets.max, 1_000);
        assert_eq!(c.limits.pings, RateLimit::UNLIMITED);
        assert_eq!(c.limits.max_control_queue, 128);
        assert_eq!(c.limits.idle_timeout, Some(Duration::from_secs(300)));
        assert_eq!(c.connection_window_size, 2 << 20);
        assert!(c.limits.max_header_block_bytes >= c.settings.max_header_list_size);
        assert_eq!(c.validate_recv, HeaderValidation::STRICT);
    }

    #[test]
    fn settings_pairs_and_set_agree() {
        let mut s = SettingsValues::RFC_DEFAULTS;
        for (id, value) in LocalSettings::default().pairs() {
            assert!(s.set(id, value).is_some());
        }
        assert_eq!(s, LocalSettings::default());
        assert_eq!(s.set(SettingId(0x99), 1), None);
    }

    #[test]
    fn invalid_settings_are_detected() {
        let mut s = LocalSettings {
            max_frame_size: 1_000,
            ..Default::default()
        };
        assert!(!s.is_valid());
        s.max_frame_size = 16_384;
        s.initial_window_size = MAX_WINDOW + 1;
        assert!(!s.is_valid());
    }
}
