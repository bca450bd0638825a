//! Flow control (RFC 9113 §5.2, §6.9): windows and the policies that reopen them.
//!
//! [`Window`] is the arithmetic: it can go negative when SETTINGS_INITIAL_WINDOW_SIZE shrinks
//! (§6.9.2) and refuses to exceed 2^31 - 1 with a typed [`FlowError`] that knows its scope.
//!
//! [`WindowPolicy`] decides when the receive side sends WINDOW_UPDATE, in the spirit of python
//! hyper's `BaseFlowControlManager.increase_window_size(frame_size)`: the connection tells it
//! about every flow-controlled frame received and every byte the application releases, and it
//! answers with the increment to announce. One instance manages the connection window and one
//! each stream window. Built-ins: [`Threshold`] (python h2's automatic mode), [`Manual`], and
//! [`Bdp`] (grows the window to the bandwidth-delay product, told RTT samples from PING acks).

use core::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use h2kit_frame::StreamId;

use crate::error::{PeerError, ProtocolViolation};

/// The largest window, 2^31 - 1 (§6.9.1).
pub const MAX_WINDOW: u32 = 0x7fff_ffff;
/// The initial window of every stream and of the connection before SETTINGS (§6.9.2).
pub const DEFAULT_WINDOW: u32 = 65_535;

/// A flow-control window violation, before its scope is decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowError {
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

impl FlowError {
    /// The peer caused this on `stream` (a WINDOW_UPDATE or DATA frame): a stream error for a
    /// stream window, a connection error for stream 0 (§6.9.1).
    pub fn peer_error(self, stream: StreamId) -> PeerError {
        let v = match self {
            FlowError::Overflow => ProtocolViolation::WindowOverflow,
            FlowError::Exceeded { .. } => ProtocolViolation::FlowControlExceeded,
        };
        if stream.is_zero() {
            PeerError::Connection(v)
        } else {
            PeerError::Stream(v)
        }
    }

    /// The peer caused this by changing SETTINGS_INITIAL_WINDOW_SIZE: always a connection
    /// error (§6.9.2).
    pub fn settings_error(self) -> PeerError {
        PeerError::Connection(ProtocolViolation::WindowOverflow)
    }
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
pub struct Window(i32);

impl Window {
    /// A window of `size` bytes.
    pub fn new(size: u32) -> Result<Self, FlowError> {
        if size > MAX_WINDOW {
            return Err(FlowError::Overflow);
        }
        Ok(Window(size as i32))
    }

    /// A window of `size` bytes, clamped to [`MAX_WINDOW`].
    pub const fn saturating(size: u32) -> Self {
        if size > MAX_WINDOW {
            Window(MAX_WINDOW as i32)
        } else {
            Window(size as i32)
        }
    }

    /// The signed size.
    pub const fn get(self) -> i32 {
        self.0
    }

    /// The bytes that may be sent now (0 when the window is negative).
    pub fn available(self) -> u32 {
        self.0.max(0) as u32
    }

    /// Opens the window by `increment` (a WINDOW_UPDATE).
    pub fn increase(&mut self, increment: u32) -> Result<(), FlowError> {
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
    pub fn consume(&mut self, len: u32) -> Result<(), FlowError> {
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
    pub fn apply_initial_change(&mut self, old: u32, new: u32) -> Result<(), FlowError> {
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

    /// A round-trip time measured by a PING acknowledgement.
    fn on_rtt_sample(&mut self, rtt: Duration) {
        let _ = rtt;
    }

    /// The window this policy keeps open: what we advertise initially.
    fn target(&self) -> u32;
}

/// python h2's automatic flow control: released bytes are coalesced and announced once half
/// the window has been released, or sooner when the window is fully closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Threshold {
    target: u32,
    owed: u64,
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
            self.owed += u64::from(new_target - self.target);
            self.target = new_target;
        }
    }

    fn flush(&mut self, window: i32, force: bool) -> u32 {
        if self.owed == 0 {
            return 0;
        }
        let room = (i64::from(self.target) - i64::from(window)).max(0) as u64;
        let small = u64::from((self.target / 4).min(1024));
        let due =
            force || self.owed >= u64::from(self.target / 2) || (window <= 0 && self.owed > small);
        if !due {
            return 0;
        }
        let inc = self.owed.min(room).min(u64::from(MAX_WINDOW)) as u32;
        self.owed -= u64::from(inc);
        inc
    }
}

impl WindowPolicy for Threshold {
    fn on_received(&mut self, _len: u32, _status: &WindowStatus) -> u32 {
        0
    }

    fn on_released(&mut self, len: u32, status: &WindowStatus) -> u32 {
        self.owed += u64::from(len);
        self.flush(status.window, false)
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

/// Grows the window towards the bandwidth-delay product.
///
/// It measures how many bytes arrive within one round trip (RTT samples come from PING
/// acknowledgements). When about a whole window (3/4 of it) arrives within one RTT, the window
/// was what limited the sender, so the target doubles, up to `max`. Releases are coalesced like
/// [`Threshold`], and the growth is added to the next increment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bdp {
    inner: Threshold,
    max: u32,
    rtt: Option<Duration>,
    sample_start: Option<Instant>,
    sample_bytes: u64,
}

impl Bdp {
    /// A policy starting at `initial` bytes and growing up to `max`.
    pub fn new(initial: u32, max: u32) -> Self {
        Bdp {
            inner: Threshold::new(initial),
            max: max.clamp(initial.min(MAX_WINDOW), MAX_WINDOW),
            rtt: None,
            sample_start: None,
            sample_bytes: 0,
        }
    }

    /// The latest RTT sample.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }
}

impl WindowPolicy for Bdp {
    fn on_received(&mut self, len: u32, status: &WindowStatus) -> u32 {
        let Some(rtt) = self.rtt else { return 0 };
        let start = *self.sample_start.get_or_insert(status.now);
        if status.now.saturating_duration_since(start) > rtt {
            self.sample_start = Some(status.now);
            self.sample_bytes = u64::from(len);
        } else {
            self.sample_bytes += u64::from(len);
        }
        let target = u64::from(self.inner.target);
        if self.sample_bytes * 4 >= target * 3 && self.inner.target < self.max {
            let grown = self.inner.target.saturating_mul(2).min(self.max);
            self.inner.grow(grown);
            self.sample_start = Some(status.now);
            self.sample_bytes = 0;
            // Announce the growth now: waiting for the next release would stall the sender.
            return self.inner.flush(status.window, true);
        }
        0
    }

    fn on_released(&mut self, len: u32, status: &WindowStatus) -> u32 {
        self.inner.on_released(len, status)
    }

    fn on_rtt_sample(&mut self, rtt: Duration) {
        self.rtt = Some(rtt);
    }

    fn target(&self) -> u32 {
        self.inner.target
    }
}

/// Builds a custom [`WindowPolicy`] for a window whose initial target is the argument.
pub type PolicyFactory = Arc<dyn Fn(u32) -> Box<dyn WindowPolicy> + Send + Sync>;

/// Which [`WindowPolicy`] the connection builds for each window (a configuration value).
#[derive(Clone, Default)]
pub enum WindowStrategy {
    /// [`Threshold`]: python h2's automatic mode (the default).
    #[default]
    Threshold,
    /// [`Manual`].
    Manual,
    /// [`Bdp`], growing up to `max` bytes.
    Bdp {
        /// The largest window the policy may grow to.
        max: u32,
    },
    /// A policy of the caller's, built per window.
    Custom(PolicyFactory),
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
    pub fn build(&self, target: u32) -> WindowManager {
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
pub struct WindowManager(Managed);

impl WindowManager {
    fn policy(&mut self) -> &mut dyn WindowPolicy {
        match &mut self.0 {
            Managed::Threshold(p) => p,
            Managed::Manual(p) => p,
            Managed::Bdp(p) => p,
            Managed::Custom(p) => p.as_mut(),
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

    fn target(&self) -> u32 {
        match &self.0 {
            Managed::Threshold(p) => p.target(),
            Managed::Manual(p) => p.target(),
            Managed::Bdp(p) => p.target(),
            Managed::Custom(p) => p.target(),
        }
    }
}

/// The receive side of one window: what the peer may still send, what the application holds,
/// and the policy deciding WINDOW_UPDATEs.
#[derive(Debug)]
pub struct RecvFlow {
    window: Window,
    unreleased: u64,
    policy: WindowManager,
}

impl RecvFlow {
    /// A receive window advertising `initial` bytes, reopened by `policy`.
    pub fn new(initial: u32, policy: WindowManager) -> Self {
        RecvFlow {
            window: Window(initial.min(MAX_WINDOW) as i32),
            unreleased: 0,
            policy,
        }
    }

    /// The window the peer still has.
    pub fn window(&self) -> Window {
        self.window
    }

    /// Bytes received and not yet released by the application.
    pub fn unreleased(&self) -> u64 {
        self.unreleased
    }

    /// The policy's target window.
    pub fn target(&self) -> u32 {
        self.policy.target()
    }

    /// `len` flow-controlled bytes arrived. Err if they exceed the window (the caller scopes
    /// it with [`FlowError::peer_error`]). Ok holds the increment to announce now, if any.
    pub fn on_data(&mut self, len: u32, now: Instant) -> Result<u32, FlowError> {
        self.window.consume(len)?;
        self.unreleased += u64::from(len);
        let status = self.status(now);
        let inc = self.policy.on_received(len, &status);
        Ok(self.clamp_and_apply(inc))
    }

    /// The application released `len` bytes (at most what it holds). Returns the increment
    /// to announce now, if any.
    pub fn release(&mut self, len: u32, now: Instant) -> u32 {
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
    pub fn on_discarded(&mut self, len: u32, now: Instant) -> Result<u32, FlowError> {
        let first = self.on_data(len, now)?;
        let second = self.release(len, now);
        Ok(first.saturating_add(second))
    }

    /// Forwards an RTT sample to the policy.
    pub fn on_rtt_sample(&mut self, rtt: Duration) {
        self.policy.on_rtt_sample(rtt)
    }

    /// Announces `inc` bytes directly, bypassing the policy (an explicit WINDOW_UPDATE by the
    /// application). Err if the window would overflow.
    pub fn increase(&mut self, inc: u32) -> Result<(), FlowError> {
        self.window.increase(inc)
    }

    /// Applies a change of our SETTINGS_INITIAL_WINDOW_SIZE once the peer acknowledged it.
    pub fn apply_initial_change(&mut self, old: u32, new: u32) -> Result<(), FlowError> {
        self.window.apply_initial_change(old, new)
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
        let mut w = Window::new(DEFAULT_WINDOW).unwrap();
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
        assert_eq!(Window::new(MAX_WINDOW + 1), Err(FlowError::Overflow));
    }

    #[test]
    fn initial_window_change_can_go_negative() {
        let mut w = Window::new(DEFAULT_WINDOW).unwrap();
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
        let mut w = Window::new(MAX_WINDOW).unwrap();
        w.apply_initial_change(0, MAX_WINDOW).unwrap_err();
        let mut w = Window::new(0).unwrap();
        w.apply_initial_change(MAX_WINDOW, 0).unwrap();
        assert_eq!(w.get(), -i32::MAX);
    }

    #[test]
    fn flow_errors_take_the_right_scope() {
        use crate::error::PeerError;
        assert_eq!(
            FlowError::Overflow.peer_error(StreamId::new(3)),
            PeerError::Stream(ProtocolViolation::WindowOverflow)
        );
        assert_eq!(
            FlowError::Overflow.peer_error(StreamId::ZERO),
            PeerError::Connection(ProtocolViolation::WindowOverflow)
        );
        assert_eq!(
            FlowError::Overflow.settings_error(),
            PeerError::Connection(ProtocolViolation::WindowOverflow)
        );
        let e = FlowError::Exceeded {
            requested: 2,
            available: 1,
        };
        assert_eq!(
            e.peer_error(StreamId::new(1)).code(),
            h2kit_frame::ErrorCode::FLOW_CONTROL_ERROR
        );
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
    fn bdp_grows_when_a_window_arrives_within_one_rtt() {
        let t0 = Instant::now();
        let mut p = Bdp::new(65_535, 1 << 20);
        // No RTT sample yet: no growth.
        assert_eq!(p.on_received(65_535, &status(0, t0)), 0);
        assert_eq!(p.target(), 65_535);
        p.on_rtt_sample(Duration::from_millis(100));
        // Slow arrival (spread over more than an RTT): no growth.
        assert_eq!(p.on_received(30_000, &status(30_000, t0)), 0);
        let t1 = t0 + Duration::from_millis(150);
        assert_eq!(p.on_received(30_000, &status(0, t1)), 0);
        assert_eq!(p.target(), 65_535);
        // A window's worth within one RTT: doubles, and the growth is announced at once.
        let t2 = t1 + Duration::from_millis(50);
        let inc = p.on_received(30_000, &status(0, t2));
        assert_eq!(p.target(), 131_070);
        assert_eq!(inc, 65_535);
        // Growth stops at max.
        let mut t = t2;
        for _ in 0..10 {
            t += Duration::from_millis(1);
            p.on_received(p.target(), &status(0, t));
        }
        assert_eq!(p.target(), 1 << 20);
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
