//! Flow control (RFC 9113 §5.2, §6.9): windows and the policies that reopen them.
//!
//! The public part is what a user configures and observes: the [`WindowStrategy`] of
//! [`Config`](crate::Config), the [`WindowPolicy`] trait with its built-ins for a policy of
//! one's own, and [`WindowStats`]. The window arithmetic (a signed window that can go negative
//! when SETTINGS_INITIAL_WINDOW_SIZE shrinks, §6.9.2, and refuses to exceed 2^31 - 1 with a
//! typed error that knows its scope) and the receive-side bookkeeping around a policy are the
//! connection's own and stay private.
//!
//! [`WindowPolicy`] decides when the receive side sends WINDOW_UPDATE, in the spirit of python
//! hyper's `BaseFlowControlManager.increase_window_size(frame_size)`: the connection tells it
//! about every flow-controlled frame received and every byte the application releases, and it
//! answers with the increment to announce. One instance manages the connection window and one
//! each stream window. Built-ins: [`Threshold`] (python h2's automatic mode, a fixed window),
//! [`Manual`], and [`Bdp`] (grows the window towards the bandwidth-delay product, told RTT
//! samples from PINGs the connection sends while data flows; the default, up to
//! [`DEFAULT_STREAM_WINDOW_CAP`] per stream and [`DEFAULT_CONNECTION_WINDOW_CAP`] per
//! connection).

use core::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The largest window, 2^31 - 1 (§6.9.1).
pub const MAX_WINDOW: u32 = 0x7fff_ffff;
/// The initial window of every stream and of the connection before SETTINGS (§6.9.2).
pub const DEFAULT_WINDOW: u32 = 65_535;

/// A flow-control window violation, before its scope is decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FlowError {
    /// The window would exceed 2^31 - 1.
    Overflow,
    /// More bytes than the window allows.
    Exceeded {
        /// Bytes asked for.
        requested: u64,
        /// Bytes the window allowed.
        available: u64,
    },
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlowError::Overflow => f.write_str("flow-control window above 2^31-1"),
            FlowError::Exceeded {
                requested,
                available,
            } => write!(f, "{requested} bytes exceed the window of {available}"),
        }
    }
}

impl core::error::Error for FlowError {}

/// One flow-control window. Negative after SETTINGS_INITIAL_WINDOW_SIZE shrinks it below what
/// is in flight; never above [`MAX_WINDOW`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Window(i32);

impl Window {
    /// A window of `size` bytes, clamped to [`MAX_WINDOW`].
    pub(crate) const fn saturating(size: u32) -> Self {
        if size > MAX_WINDOW {
            Window(MAX_WINDOW as i32)
        } else {
            Window(size as i32)
        }
    }

    /// The signed size.
    pub(crate) const fn get(self) -> i32 {
        self.0
    }

    /// The bytes that may be sent now (0 when the window is negative).
    pub(crate) fn available(self) -> u32 {
        self.0.max(0) as u32
    }

    /// Opens the window by `increment` (a WINDOW_UPDATE).
    pub(crate) fn increase(&mut self, increment: u32) -> Result<(), FlowError> {
        let next = i64::from(self.0) + i64::from(increment);
        if next > i64::from(MAX_WINDOW) {
            return Err(FlowError::Overflow);
        }
        self.0 = next as i32;
        Ok(())
    }

    /// Uses `len` bytes of the window (a DATA frame, payload and padding). A frame with no
    /// flow-controlled bytes always fits, even in a negative window: RFC 9113 §6.9.1 lets an
    /// empty DATA frame with END_STREAM go out when no window is available.
    pub(crate) fn consume(&mut self, len: u32) -> Result<(), FlowError> {
        if len > 0 && i64::from(len) > i64::from(self.0) {
            return Err(FlowError::Exceeded {
                requested: u64::from(len),
                available: u64::from(self.available()),
            });
        }
        self.0 -= len as i32;
        Ok(())
    }

    /// Applies a change of SETTINGS_INITIAL_WINDOW_SIZE from `old` to `new` (§6.9.2): the
    /// window moves by the difference and may become negative.
    pub(crate) fn apply_initial_change(&mut self, old: u32, new: u32) -> Result<(), FlowError> {
        let next = i64::from(self.0) + i64::from(new) - i64::from(old);
        if next > i64::from(MAX_WINDOW) || next < -i64::from(MAX_WINDOW) {
            return Err(FlowError::Overflow);
        }
        self.0 = next as i32;
        Ok(())
    }
}

impl fmt::Debug for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Window({})", self.0)
    }
}

/// The largest window an auto-tuned stream window grows to by default: 16 MiB.
///
/// Enough for one stream to fill 1 Gbit/s over a 100 ms round trip (a bandwidth-delay product
/// of 12.5 MB, plus the eighth of the window that waits to be announced, see [`Threshold`]).
/// Go's HTTP/2 client announces 4 MiB per stream and Chrome 6 MiB, which hold one stream to
/// about 335 and 500 Mbit/s at 100 ms; curl raises each stream to 10 MiB (about 840 Mbit/s);
/// hyper's adaptive window and gRPC's BDP estimator stop at 16 MiB, as we do. A window is a
/// promise, not a buffer: it grows only while the application keeps up with what arrives
/// (see [`Bdp`]), so a body nobody reads holds no more than the window it had then.
pub const DEFAULT_STREAM_WINDOW_CAP: u32 = 16 << 20;

/// The largest window an auto-tuned connection window grows to by default: 32 MiB.
///
/// Twice [`DEFAULT_STREAM_WINDOW_CAP`], so that one stream at its cap never waits for the
/// connection and two can run at full speed. Chrome keeps 15 MiB per connection (2.5 times
/// its stream window), curl 10 MiB, Go 1 GiB. This is also the bound on what a connection
/// buffers for bodies the application has not read: the peer can never send more than the
/// connection window, and the window reopens only as the application releases data.
pub const DEFAULT_CONNECTION_WINDOW_CAP: u32 = 32 << 20;

/// What a [`WindowPolicy`] is told with each call.
#[derive(Clone, Copy, Debug)]
pub struct WindowStatus {
    /// The window the peer still has (what we advertised minus what arrived).
    pub window: i32,
    /// Bytes that arrived but the application has not released yet.
    pub unreleased: u64,
    /// The time of the event.
    pub now: Instant,
}

/// Decides when and by how much to reopen a receive window.
///
/// The connection clamps every returned increment so that the window never exceeds
/// [`MAX_WINDOW`], and never sends an increment of 0.
pub trait WindowPolicy: Send + fmt::Debug {
    /// `len` flow-controlled bytes (payload and padding) arrived and were taken from the
    /// window. Returns the increment to announce now (usually 0: wait for the release).
    fn on_received(&mut self, len: u32, status: &WindowStatus) -> u32;

    /// The application released `len` bytes (`release_capacity` /
    /// python's `acknowledge_received_data`). Returns the increment to announce now.
    fn on_released(&mut self, len: u32, status: &WindowStatus) -> u32;

    /// A round-trip time measured by a PING acknowledgement (or, once, by the
    /// acknowledgement of our first SETTINGS).
    fn on_rtt_sample(&mut self, rtt: Duration) {
        let _ = rtt;
    }

    /// Whether this policy wants RTT samples now. While the window that DATA arrives on (or
    /// the connection's) says yes, the connection measures the round trip with a PING of its
    /// own, at most one outstanding and at most one per round trip (and per 100 ms). The
    /// default is no: a policy that does not use RTT samples costs no PINGs.
    fn wants_rtt(&self) -> bool {
        false
    }

    /// Our SETTINGS_INITIAL_WINDOW_SIZE changed from `old` to `new` and the peer acknowledged
    /// it: a stream window has already moved by the difference (RFC 9113 §6.9.2), the peer
    /// having been credited (or debited) without a WINDOW_UPDATE. The default does nothing.
    fn on_initial_window_change(&mut self, old: u32, new: u32) {
        let _ = (old, new);
    }

    /// The window this policy keeps open: what we advertise initially.
    fn target(&self) -> u32;
}

/// Below this target, released bytes are announced once half the window is released; above
/// it, once an eighth is (but at least this much). See [`Threshold`].
const FINE_UPDATES_ABOVE: u32 = 128 * 1024;

/// python h2's automatic flow control: released bytes are coalesced and announced once half
/// the window has been released, or sooner when the window is fully closed.
///
/// For windows above 128 KiB the step is an eighth of the window (at least 64 KiB), as a
/// large window is kept for a long round trip: announcing only every half window would leave
/// the sender with half of it for a while, so a 16 MiB window would carry no more than
/// 8 MiB per round trip. Small windows announce exactly as python h2 does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Threshold {
    target: u32,
    /// Released bytes not announced yet; negative when a change of our
    /// SETTINGS_INITIAL_WINDOW_SIZE credited the peer ahead of the releases.
    owed: i64,
}

impl Threshold {
    /// A policy keeping `target` bytes open.
    pub fn new(target: u32) -> Self {
        Threshold {
            target: target.min(MAX_WINDOW),
            owed: 0,
        }
    }

    fn grow(&mut self, new_target: u32) {
        let new_target = new_target.min(MAX_WINDOW);
        if new_target > self.target {
            self.owed += i64::from(new_target - self.target);
            self.target = new_target;
        }
    }

    /// The released bytes that make an announcement due.
    fn step(&self) -> u64 {
        let half = u64::from(self.target / 2);
        if self.target <= FINE_UPDATES_ABOVE {
            half
        } else {
            half.min(u64::from(self.target / 8).max(u64::from(FINE_UPDATES_ABOVE / 2)))
        }
    }

    /// Moves the target to `new_target` after the window moved by `delta` on its own (a
    /// change of SETTINGS_INITIAL_WINDOW_SIZE): what the peer was credited beyond the move
    /// of the target is taken from what is owed.
    fn retarget(&mut self, new_target: u32, delta: i64) {
        let new_target = new_target.min(MAX_WINDOW);
        self.owed += i64::from(new_target) - i64::from(self.target) - delta;
        self.target = new_target;
    }

    fn flush(&mut self, window: i32, force: bool) -> u32 {
        if self.owed <= 0 {
            return 0;
        }
        let owed = self.owed as u64;
        let room = (i64::from(self.target) - i64::from(window)).max(0) as u64;
        let small = u64::from((self.target / 4).min(1024));
        let due = force || owed >= self.step() || (window <= 0 && owed > small);
        if !due {
            return 0;
        }
        let inc = owed.min(room).min(u64::from(MAX_WINDOW)) as u32;
        self.owed -= i64::from(inc);
        inc
    }
}

impl WindowPolicy for Threshold {
    fn on_received(&mut self, _len: u32, _status: &WindowStatus) -> u32 {
        0
    }

    fn on_released(&mut self, len: u32, status: &WindowStatus) -> u32 {
        self.owed += i64::from(len);
        self.flush(status.window, false)
    }

    fn on_initial_window_change(&mut self, old: u32, new: u32) {
        let delta = i64::from(new) - i64::from(old);
        let target = (i64::from(self.target) + delta).clamp(0, i64::from(MAX_WINDOW)) as u32;
        self.retarget(target, delta);
    }

    fn target(&self) -> u32 {
        self.target
    }
}

/// Every released byte is announced at once, one WINDOW_UPDATE per release: the caller's
/// acknowledgements drive the window exactly (python h2's `increment_flow_control_window`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manual {
    target: u32,
}

impl Manual {
    /// A policy advertising `target` bytes initially.
    pub fn new(target: u32) -> Self {
        Manual {
            target: target.min(MAX_WINDOW),
        }
    }
}

impl WindowPolicy for Manual {
    fn on_received(&mut self, _len: u32, _status: &WindowStatus) -> u32 {
        0
    }

    fn on_released(&mut self, len: u32, _status: &WindowStatus) -> u32 {
        len
    }

    fn target(&self) -> u32 {
        self.target
    }
}

/// The most a [`Bdp`] window grows by in one step: from 65,535 octets to 2 MiB, which fills
/// 100 Mbit/s at 100 ms, in one round trip. Arrival times are no finer than the driver's
/// reads, so a window read at once looks infinitely fast; this bounds what such an estimate
/// costs.
const MAX_GROWTH: u128 = 32;

/// How long evidence of a window-limited sender stays good while the application catches up
/// (at least; two round trips when that is longer).
const GROWTH_EVIDENCE_TTL: Duration = Duration::from_millis(50);

/// Grows the window towards the bandwidth-delay product, up to `max` (the default for every
/// window, see [`Config`](crate::Config)).
///
/// It measures how many bytes arrive within one round trip (the smallest RTT measured: the
/// connection sends a PING while data flows and this policy is below its cap, see
/// [`WindowPolicy::wants_rtt`]). When 3/4 of the window arrives within one RTT, the window,
/// not the link, was what limited the sender, and the target grows:
///
/// * by the factor the arrivals show: if 3/4 of the window came in a quarter of the RTT, the
///   link carries four times more per round trip, so the target is multiplied by
///   `RTT / time taken` — between 2 (doubling, when the bytes were spread over the round
///   trip) and 32 (a window that arrived at once, as the first one of a transfer does);
/// * only once the application has caught up: the growth is applied when a release leaves at
///   most half the window unread, within two RTTs (at least 50 ms) of the evidence. An
///   application that does not read gets no growth, and a slow reader's window grows only to
///   what it reads per round trip, so what is buffered for it stays bounded.
///
/// The growth is announced at once (with the release that allowed it). Releases are coalesced
/// like [`Threshold`]. A sender that is not window-limited delivers at most 3/4 of a window
/// per RTT, so the target settles between 4/3 of the bandwidth-delay product and the cap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bdp {
    inner: Threshold,
    max: u32,
    /// The smallest RTT sample in microseconds; `NO_RTT` before the first. Every stream
    /// carries a policy, so it is kept small: 64 octets, as before it measured anything.
    rtt_us: u32,
    /// Octets of the current measurement.
    sample_bytes: u32,
    /// The target the arrivals justified (0: none), waiting for the application since
    /// `pending_at`.
    pending: u32,
    /// When the current measurement ends: one RTT after its first octet (a comparison per
    /// frame, no clock arithmetic but at its start).
    sample_end: Option<Instant>,
    pending_at: Option<Instant>,
}

/// `Bdp::rtt_us` before the first sample.
const NO_RTT: u32 = u32::MAX;

impl Bdp {
    /// A policy starting at `initial` bytes and growing up to `max`.
    pub fn new(initial: u32, max: u32) -> Self {
        Bdp {
            inner: Threshold::new(initial),
            max: max.clamp(initial.min(MAX_WINDOW), MAX_WINDOW),
            rtt_us: NO_RTT,
            sample_bytes: 0,
            pending: 0,
            sample_end: None,
            pending_at: None,
        }
    }

    /// The smallest RTT sample (to the microsecond): queueing on a busy link only adds to a
    /// round trip, so the smallest is the path's own.
    pub fn rtt(&self) -> Option<Duration> {
        (self.rtt_us != NO_RTT).then(|| Duration::from_micros(u64::from(self.rtt_us)))
    }

    /// The largest window this policy grows to.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// About a whole window arrived within one round trip, the measurement that ends at
    /// `end` having started one `rtt` before it: the window limited the sender. Notes the
    /// growth the arrival rate justifies. Out of line: at most once per round trip, and the
    /// per-frame path stays small.
    #[cold]
    #[inline(never)]
    fn window_limited(&mut self, end: Instant, now: Instant, rtt: Duration) {
        let target = u64::from(self.inner.target);
        let left = end.saturating_duration_since(now);
        let took = rtt.saturating_sub(left).as_nanos().max(1);
        let factor = (rtt.as_nanos() / took).clamp(2, MAX_GROWTH) as u64;
        let grown = target.saturating_mul(factor).min(u64::from(self.max)) as u32;
        self.pending = self.pending.max(grown);
        self.pending_at = Some(now);
        self.sample_end = None;
        self.sample_bytes = 0;
    }
}

impl WindowPolicy for Bdp {
    fn on_received(&mut self, len: u32, status: &WindowStatus) -> u32 {
        if self.rtt_us == NO_RTT || self.inner.target >= self.max {
            return 0;
        }
        let rtt = Duration::from_micros(u64::from(self.rtt_us));
        let now = status.now;
        let end = match self.sample_end {
            Some(end) if now <= end => end,
            _ => {
                self.sample_bytes = 0;
                *self.sample_end.insert(now + rtt)
            }
        };
        self.sample_bytes = self.sample_bytes.saturating_add(len);
        if u64::from(self.sample_bytes) * 4 >= u64::from(self.inner.target) * 3 {
            self.window_limited(end, now, rtt);
        }
        0
    }

    fn on_released(&mut self, len: u32, status: &WindowStatus) -> u32 {
        self.inner.owed += i64::from(len);
        if self.pending > 0 {
            let rtt = Duration::from_micros(u64::from(self.rtt_us));
            let ttl = (rtt * 2).max(GROWTH_EVIDENCE_TTL);
            let at = self.pending_at.unwrap_or(status.now);
            if status.now.saturating_duration_since(at) > ttl {
                self.pending = 0;
            } else if status.unreleased <= u64::from(self.inner.target / 2) {
                let grown = core::mem::take(&mut self.pending);
                self.inner.grow(grown);
                // Announce the growth now: waiting for the next step would stall the sender.
                return self.inner.flush(status.window, true);
            }
        }
        self.inner.flush(status.window, false)
    }

    fn on_rtt_sample(&mut self, rtt: Duration) {
        let us = u32::try_from(rtt.as_micros())
            .unwrap_or(NO_RTT - 1)
            .min(NO_RTT - 1);
        self.rtt_us = self.rtt_us.min(us);
    }

    fn wants_rtt(&self) -> bool {
        self.inner.target < self.max
    }

    fn on_initial_window_change(&mut self, old: u32, new: u32) {
        // Streams opened before the change start from the new size too; a window that had
        // grown beyond it keeps its size.
        self.max = self.max.max(new.min(MAX_WINDOW));
        let target = self.inner.target.max(new);
        self.inner.retarget(target, i64::from(new) - i64::from(old));
    }

    fn target(&self) -> u32 {
        self.inner.target
    }
}

/// Builds a custom [`WindowPolicy`] for a window whose initial target is the argument.
pub type PolicyFactory = Arc<dyn Fn(u32) -> Box<dyn WindowPolicy> + Send + Sync>;

/// Which [`WindowPolicy`] the connection builds for each window (a configuration value).
///
/// The window's initial size comes from the configuration (SETTINGS_INITIAL_WINDOW_SIZE for
/// streams, [`Config::connection_window_size`](crate::Config::connection_window_size) for the
/// connection); a fixed window is [`WindowStrategy::Threshold`] with that size.
#[derive(Clone)]
pub enum WindowStrategy {
    /// [`Threshold`]: python h2's automatic mode, a fixed window.
    Threshold,
    /// [`Manual`].
    Manual,
    /// [`Bdp`], growing up to `max` bytes: auto-tuned. The default of
    /// [`Config`](crate::Config), with [`DEFAULT_STREAM_WINDOW_CAP`] for streams and
    /// [`DEFAULT_CONNECTION_WINDOW_CAP`] for the connection.
    Bdp {
        /// The largest window the policy may grow to.
        max: u32,
    },
    /// A policy of the caller's, built per window.
    Custom(PolicyFactory),
}

impl Default for WindowStrategy {
    /// Auto-tuned up to [`DEFAULT_STREAM_WINDOW_CAP`] (the stream default).
    fn default() -> Self {
        WindowStrategy::Bdp {
            max: DEFAULT_STREAM_WINDOW_CAP,
        }
    }
}

impl fmt::Debug for WindowStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowStrategy::Threshold => f.write_str("Threshold"),
            WindowStrategy::Manual => f.write_str("Manual"),
            WindowStrategy::Bdp { max } => f.debug_struct("Bdp").field("max", max).finish(),
            WindowStrategy::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

impl WindowStrategy {
    /// Builds the policy for one window whose initial size is `target`.
    pub(crate) fn build(&self, target: u32) -> WindowManager {
        WindowManager(match self {
            WindowStrategy::Threshold => Managed::Threshold(Threshold::new(target)),
            WindowStrategy::Manual => Managed::Manual(Manual::new(target)),
            WindowStrategy::Bdp { max } => Managed::Bdp(Bdp::new(target, *max)),
            WindowStrategy::Custom(factory) => Managed::Custom(factory(target)),
        })
    }
}

#[derive(Debug)]
enum Managed {
    Threshold(Threshold),
    Manual(Manual),
    Bdp(Bdp),
    Custom(Box<dyn WindowPolicy>),
}

/// A built policy: the built-ins without a heap allocation, or a boxed custom one.
#[derive(Debug)]
pub(crate) struct WindowManager(Managed);

impl WindowManager {
    fn policy(&mut self) -> &mut dyn WindowPolicy {
        match &mut self.0 {
            Managed::Threshold(p) => p,
            Managed::Manual(p) => p,
            Managed::Bdp(p) => p,
            Managed::Custom(p) => p.as_mut(),
        }
    }

    /// Raises a growing policy's target to at least `target` (within its cap) and returns
    /// the growth to announce; fixed and custom policies stay as they are. The connection
    /// window follows its largest stream this way, so that it never holds back a stream
    /// that grew.
    fn follow(&mut self, target: u32, window: i32) -> u32 {
        match &mut self.0 {
            Managed::Bdp(p) if target > p.inner.target => {
                p.inner.grow(target.min(p.max));
                p.inner.flush(window, true)
            }
            _ => 0,
        }
    }

    fn policy_ref(&self) -> &dyn WindowPolicy {
        match &self.0 {
            Managed::Threshold(p) => p,
            Managed::Manual(p) => p,
            Managed::Bdp(p) => p,
            Managed::Custom(p) => p.as_ref(),
        }
    }
}

impl WindowPolicy for WindowManager {
    fn on_received(&mut self, len: u32, status: &WindowStatus) -> u32 {
        self.policy().on_received(len, status)
    }

    fn on_released(&mut self, len: u32, status: &WindowStatus) -> u32 {
        self.policy().on_released(len, status)
    }

    fn on_rtt_sample(&mut self, rtt: Duration) {
        self.policy().on_rtt_sample(rtt)
    }

    fn wants_rtt(&self) -> bool {
        self.policy_ref().wants_rtt()
    }

    fn on_initial_window_change(&mut self, old: u32, new: u32) {
        self.policy().on_initial_window_change(old, new)
    }

    fn target(&self) -> u32 {
        self.policy_ref().target()
    }
}

/// A snapshot of a connection's flow control (see
/// [`Connection::window_stats`](crate::Connection::window_stats)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowStats {
    /// Our SETTINGS_INITIAL_WINDOW_SIZE in effect (acknowledged by the peer): where our new
    /// stream windows start. Auto-tuning raises it once streams have grown.
    pub local_initial_window: u32,
    /// The peer's SETTINGS_INITIAL_WINDOW_SIZE: where our send windows start.
    pub peer_initial_window: u32,
    /// The connection receive window we keep open (its policy's target).
    pub connection_recv_target: u32,
    /// What we may still send on the connection (may be negative, RFC 9113 §6.9.2).
    pub connection_send_window: i32,
    /// The largest target any stream receive window reached on this connection.
    pub largest_stream_recv_target: u32,
    /// The latest round-trip time measured by a PING.
    pub rtt: Option<Duration>,
    /// The smallest round-trip time measured (PINGs and our first SETTINGS).
    pub min_rtt: Option<Duration>,
}

/// The receive side of one window: what the peer may still send, what the application holds,
/// and the policy deciding WINDOW_UPDATEs.
#[derive(Debug)]
pub(crate) struct RecvFlow {
    window: Window,
    unreleased: u64,
    policy: WindowManager,
}

impl RecvFlow {
    /// A receive window advertising `initial` bytes, reopened by `policy`.
    pub(crate) fn new(initial: u32, policy: WindowManager) -> Self {
        RecvFlow {
            window: Window(initial.min(MAX_WINDOW) as i32),
            unreleased: 0,
            policy,
        }
    }

    /// The window the peer still has.
    pub(crate) fn window(&self) -> Window {
        self.window
    }

    /// Bytes received and not yet released by the application.
    #[cfg(test)]
    pub(crate) fn unreleased(&self) -> u64 {
        self.unreleased
    }

    /// The policy's target window.
    pub(crate) fn target(&self) -> u32 {
        self.policy.target()
    }

    /// `len` flow-controlled bytes arrived. Err if they exceed the window (the caller scopes
    /// it as a stream or connection error). Ok holds the increment to announce now, if any.
    pub(crate) fn on_data(&mut self, len: u32, now: Instant) -> Result<u32, FlowError> {
        self.window.consume(len)?;
        self.unreleased += u64::from(len);
        let status = self.status(now);
        let inc = self.policy.on_received(len, &status);
        Ok(self.clamp_and_apply(inc))
    }

    /// The application released `len` bytes (at most what it holds). Returns the increment
    /// to announce now, if any.
    pub(crate) fn release(&mut self, len: u32, now: Instant) -> u32 {
        let len = (u64::from(len).min(self.unreleased)) as u32;
        if len == 0 {
            return 0;
        }
        self.unreleased -= u64::from(len);
        let status = self.status(now);
        let inc = self.policy.on_released(len, &status);
        self.clamp_and_apply(inc)
    }

    /// Bytes that arrived on a stream we no longer track (reset or unknown): they count
    /// against this (connection) window and are released at once.
    pub(crate) fn on_discarded(&mut self, len: u32, now: Instant) -> Result<u32, FlowError> {
        let first = self.on_data(len, now)?;
        let second = self.release(len, now);
        Ok(first.saturating_add(second))
    }

    /// Forwards an RTT sample to the policy.
    pub(crate) fn on_rtt_sample(&mut self, rtt: Duration) {
        self.policy.on_rtt_sample(rtt)
    }

    /// Announces `inc` bytes directly, bypassing the policy (an explicit WINDOW_UPDATE by the
    /// application). Err if the window would overflow.
    pub(crate) fn increase(&mut self, inc: u32) -> Result<(), FlowError> {
        self.window.increase(inc)
    }

    /// Raises the target of a growing policy ([`Bdp`]) to at least `target`, within its cap;
    /// returns the increment to announce now, if any.
    pub(crate) fn follow(&mut self, target: u32) -> u32 {
        let inc = self.policy.follow(target, self.window.get());
        self.clamp_and_apply(inc)
    }

    /// Whether the policy wants RTT samples now (see [`WindowPolicy::wants_rtt`]).
    pub(crate) fn wants_rtt(&self) -> bool {
        self.policy.wants_rtt()
    }

    /// Applies a change of our SETTINGS_INITIAL_WINDOW_SIZE once the peer acknowledged it,
    /// and tells the policy.
    pub(crate) fn apply_initial_change(&mut self, old: u32, new: u32) -> Result<(), FlowError> {
        self.window.apply_initial_change(old, new)?;
        self.policy.on_initial_window_change(old, new);
        Ok(())
    }

    fn status(&self, now: Instant) -> WindowStatus {
        WindowStatus {
            window: self.window.get(),
            unreleased: self.unreleased,
            now,
        }
    }

    fn clamp_and_apply(&mut self, inc: u32) -> u32 {
        let room = (i64::from(MAX_WINDOW) - i64::from(self.window.get())).max(0) as u32;
        let inc = inc.min(room);
        if inc > 0 {
            // Cannot fail: clamped to the room left.
            let _ = self.window.increase(inc);
        }
        inc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_arithmetic_and_overflow() {
        let mut w = Window::saturating(DEFAULT_WINDOW);
        w.consume(65_535).unwrap();
        assert_eq!(w.available(), 0);
        assert_eq!(
            w.consume(1),
            Err(FlowError::Exceeded {
                requested: 1,
                available: 0
            })
        );
        w.increase(MAX_WINDOW).unwrap();
        assert_eq!(w.get(), i32::MAX);
        assert_eq!(w.increase(1), Err(FlowError::Overflow));
        assert_eq!(
            w.get(),
            i32::MAX,
            "a failed increase leaves the window alone"
        );
        assert_eq!(Window::saturating(MAX_WINDOW + 1).get(), i32::MAX);
    }

    #[test]
    fn initial_window_change_can_go_negative() {
        let mut w = Window::saturating(DEFAULT_WINDOW);
        w.consume(60_000).unwrap();
        w.apply_initial_change(DEFAULT_WINDOW, 0).unwrap();
        assert_eq!(w.get(), 5_535 - 65_535);
        assert_eq!(w.available(), 0);
        assert!(w.consume(1).is_err());
        // An empty DATA frame (END_STREAM) still fits in a negative window.
        assert_eq!(w.consume(0), Ok(()));
        assert_eq!(w.get(), 5_535 - 65_535);
        w.increase(70_000).unwrap();
        assert_eq!(w.get(), 5_535 - 65_535 + 70_000);
        let mut w = Window::saturating(MAX_WINDOW);
        w.apply_initial_change(0, MAX_WINDOW).unwrap_err();
        let mut w = Window::saturating(0);
        w.apply_initial_change(MAX_WINDOW, 0).unwrap();
        assert_eq!(w.get(), -i32::MAX);
    }

    fn status(window: i32, now: Instant) -> WindowStatus {
        WindowStatus {
            window,
            unreleased: 0,
            now,
        }
    }

    #[test]
    fn threshold_coalesces_until_half_the_window() {
        let now = Instant::now();
        let mut p = Threshold::new(65_535);
        assert_eq!(p.on_released(10_000, &status(55_535, now)), 0);
        assert_eq!(p.on_released(20_000, &status(35_535, now)), 0);
        // 32,768 >= 65,535 / 2.
        assert_eq!(p.on_released(2_768, &status(32_767, now)), 32_768);
        assert_eq!(p.on_released(1, &status(65_534, now)), 0);
    }

    #[test]
    fn threshold_reopens_a_closed_window_early() {
        let now = Instant::now();
        let mut p = Threshold::new(65_535);
        assert_eq!(p.on_received(65_535, &status(0, now)), 0);
        assert_eq!(p.on_released(1_000, &status(0, now)), 0);
        assert_eq!(p.on_released(25, &status(0, now)), 1_025);
    }

    #[test]
    fn manual_announces_every_release() {
        let now = Instant::now();
        let mut p = Manual::new(100);
        assert_eq!(p.on_received(10, &status(90, now)), 0);
        assert_eq!(p.on_released(7, &status(90, now)), 7);
    }

    #[test]
    fn threshold_announces_large_windows_by_the_eighth() {
        let now = Instant::now();
        let mut p = Threshold::new(16 << 20);
        assert_eq!(p.on_released((2 << 20) - 1, &status(14 << 20, now)), 0);
        assert_eq!(p.on_released(1, &status(14 << 20, now)), 2 << 20);
        // 256 KiB: an eighth would be 32 KiB, the step is at least 64 KiB.
        let mut p = Threshold::new(256 << 10);
        assert_eq!(p.on_released(65_535, &status(100_000, now)), 0);
        assert_eq!(p.on_released(1, &status(100_000, now)), 65_536);
    }

    #[test]
    fn threshold_follows_a_change_of_the_initial_window() {
        let now = Instant::now();
        let mut f = RecvFlow::new(65_535, WindowStrategy::Threshold.build(65_535));
        f.on_data(65_535, now).unwrap();
        f.apply_initial_change(65_535, 1 << 20).unwrap();
        assert_eq!(f.target(), 1 << 20);
        assert_eq!(f.window().get(), (1 << 20) - 65_535);
        // The released bytes are owed as before, and announced by the new window's step.
        assert_eq!(f.release(65_535, now), 0);
        f.on_data(65_537, now).unwrap();
        assert_eq!(f.release(65_537, now), 131_072);
        assert_eq!(f.window().get(), 1 << 20);
    }

    /// A receive window with a Bdp policy that knows a 100 ms round trip.
    fn bdp_flow(initial: u32, max: u32) -> RecvFlow {
        let mut f = RecvFlow::new(initial, WindowStrategy::Bdp { max }.build(initial));
        f.on_rtt_sample(Duration::from_millis(100));
        f
    }

    #[test]
    fn bdp_needs_an_rtt_sample_and_asks_for_one() {
        let now = Instant::now();
        let mut f = RecvFlow::new(65_535, WindowStrategy::default().build(65_535));
        assert!(f.wants_rtt());
        f.on_data(65_535, now).unwrap();
        assert_eq!(f.release(65_535, now), 65_535);
        assert_eq!(f.target(), 65_535, "no growth without an RTT");
        assert!(!RecvFlow::new(100, WindowStrategy::Threshold.build(100)).wants_rtt());
    }

    #[test]
    fn bdp_grows_by_the_factor_the_arrivals_show() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // A whole window at once: the link carries far more, the target grows 32-fold and
        // the growth goes out with the release.
        let mut f = bdp_flow(65_535, 16 << 20);
        f.on_data(65_535, t0).unwrap();
        assert_eq!(f.target(), 65_535, "growth waits for the application");
        assert_eq!(f.release(65_535, t0 + ms(1)), 32 * 65_535);
        assert_eq!(f.target(), 32 * 65_535);
        assert_eq!(f.window().get(), 32 * 65_535);
        // 3/4 of the window over 60 ms of a 100 ms round trip: doubling.
        let mut f = bdp_flow(65_536, 16 << 20);
        for i in 0..3 {
            f.on_data(16_000, t0 + ms(20 * i)).unwrap();
            f.release(16_000, t0 + ms(20 * i));
        }
        assert_eq!(f.target(), 65_536);
        f.on_data(1_152, t0 + ms(60)).unwrap();
        f.release(1_152, t0 + ms(61));
        assert_eq!(f.target(), 131_072);
        // Half the window per round trip: the window is not what limits, no growth.
        let mut f = bdp_flow(65_536, 16 << 20);
        for i in 0..20 {
            let t = t0 + ms(25 * i);
            f.on_data(8_192, t).unwrap();
            f.release(8_192, t);
        }
        assert_eq!(f.target(), 65_536);
        assert!(f.wants_rtt());
    }

    #[test]
    fn bdp_stops_at_its_cap() {
        let mut t = Instant::now();
        let mut f = bdp_flow(65_535, 1 << 20);
        for _ in 0..10 {
            t += Duration::from_millis(100);
            let n = f.window().available();
            f.on_data(n, t).unwrap();
            f.release(n, t);
        }
        assert_eq!(f.target(), 1 << 20);
        assert_eq!(f.window().get(), 1 << 20);
        assert!(!f.wants_rtt(), "at its cap it needs no more PINGs");
    }

    #[test]
    fn bdp_does_not_grow_for_an_application_that_does_not_read() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut f = bdp_flow(65_535, 16 << 20);
        f.on_data(65_535, t0).unwrap();
        // Reading a little leaves more than half the window unread: no growth.
        assert_eq!(f.release(16_384, t0 + ms(10)), 16_384);
        assert_eq!(f.target(), 65_535);
        // Catching up after the evidence is stale (two RTTs) grows nothing either.
        assert_eq!(f.release(49_151, t0 + ms(300)), 49_151);
        assert_eq!(f.target(), 65_535);
        // A slow reader's window grows only to what it reads per round trip: the sender
        // refills what is read, 16 KiB per 100 ms here, a quarter of the window.
        let mut t = t0 + ms(300);
        for _ in 0..50 {
            t += ms(100);
            f.on_data(16_384, t).unwrap();
            f.release(16_384, t + ms(50));
        }
        assert_eq!(f.target(), 65_535);
    }

    #[test]
    fn bdp_keeps_a_grown_window_when_the_initial_window_rises() {
        let t0 = Instant::now();
        let mut f = bdp_flow(65_535, 16 << 20);
        f.on_data(65_535, t0).unwrap();
        f.release(65_535, t0);
        assert_eq!(f.target(), 2_097_120);
        // Our SETTINGS_INITIAL_WINDOW_SIZE follows to 524,280: the stream is credited the
        // difference at once, which the policy takes back from the next releases.
        f.apply_initial_change(65_535, 2_097_120).unwrap();
        assert_eq!(f.window().get(), 2_097_120 + 2_097_120 - 65_535);
        assert_eq!(f.target(), 2_097_120);
        let over = 2_097_120 - 65_535;
        let t1 = t0 + Duration::from_secs(1);
        let half = over / 2;
        f.on_data(half, t1).unwrap();
        assert_eq!(f.release(half, t1), 0, "the credit is paid back first");
        let t2 = t1 + Duration::from_millis(150);
        f.on_data(over - half, t2).unwrap();
        assert_eq!(f.release(over - half, t2), 0);
        assert_eq!(f.window().get(), 2_097_120);
        assert_eq!(f.target(), 2_097_120);
        // A stream still at the old size starts from the new one.
        let mut g = bdp_flow(65_535, 16 << 20);
        g.apply_initial_change(65_535, 2_097_120).unwrap();
        assert_eq!((g.target(), g.window().get()), (2_097_120, 2_097_120));
    }

    #[test]
    fn recv_flow_drives_a_policy_and_clamps() {
        let now = Instant::now();
        let mut f = RecvFlow::new(100, WindowStrategy::Threshold.build(100));
        assert_eq!(f.on_data(60, now), Ok(0));
        assert_eq!(f.window().get(), 40);
        assert_eq!(f.unreleased(), 60);
        assert_eq!(
            f.on_data(41, now),
            Err(FlowError::Exceeded {
                requested: 41,
                available: 40
            })
        );
        assert_eq!(
            f.release(1_000, now),
            60,
            "release is capped at what is held"
        );
        assert_eq!(f.window().get(), 100);
        assert_eq!(f.release(1, now), 0);
        let mut f = RecvFlow::new(MAX_WINDOW, WindowStrategy::Manual.build(MAX_WINDOW));
        f.on_data(10, now).unwrap();
        f.increase(5).unwrap();
        assert_eq!(
            f.release(10, now),
            5,
            "clamped so the window stays at 2^31-1"
        );
        assert_eq!(f.window().get(), i32::MAX);
    }

    #[test]
    fn discarded_data_is_released_immediately() {
        let now = Instant::now();
        let mut f = RecvFlow::new(100, WindowStrategy::Manual.build(100));
        assert_eq!(f.on_discarded(30, now), Ok(30));
        assert_eq!(f.window().get(), 100);
        assert_eq!(f.unreleased(), 0);
    }

    #[derive(Debug)]
    struct Eager;
    impl WindowPolicy for Eager {
        fn on_received(&mut self, len: u32, _: &WindowStatus) -> u32 {
            len
        }
        fn on_released(&mut self, _: u32, _: &WindowStatus) -> u32 {
            0
        }
        fn target(&self) -> u32 {
            1000
        }
    }

    #[test]
    fn custom_policies_plug_in() {
        let now = Instant::now();
        let strategy = WindowStrategy::Custom(Arc::new(|_| Box::new(Eager)));
        let mut f = RecvFlow::new(1000, strategy.build(1000));
        assert_eq!(f.target(), 1000);
        assert_eq!(f.on_data(300, now), Ok(300));
        assert_eq!(f.window().get(), 1000);
        assert_eq!(format!("{strategy:?}"), "Custom(..)");
    }
}
