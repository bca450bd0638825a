//! Flood budgets and the bounded memory of recently closed streams, all driven by `now`
//! arguments (this crate never reads the clock). Only [`RateLimit`], the configuration value,
//! is public; the counters behind it are the connection's own.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use h2kit_frame::StreamId;

use crate::state::CloseCause;

/// "At most `max` events per `per`": a flood budget as a configuration value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateLimit {
    /// Events allowed per period.
    pub max: u32,
    /// The period.
    pub per: Duration,
}

impl RateLimit {
    /// No limit: every event is within the budget.
    pub const UNLIMITED: RateLimit = RateLimit {
        max: u32::MAX,
        per: Duration::from_secs(1),
    };

    /// `max` events per `per`.
    pub const fn new(max: u32, per: Duration) -> Self {
        RateLimit { max, per }
    }
}

/// A sliding-window counter enforcing a [`RateLimit`].
///
/// It keeps the count of the current fixed period and of the previous one, and estimates the
/// events in the sliding period ending now as `current + previous × (unelapsed share)`. Memory is
/// constant; precision is within one period's share, which is ample for flood detection.
#[derive(Clone, Debug)]
pub(crate) struct Budget {
    limit: RateLimit,
    period_start: Option<Instant>,
    current: u32,
    previous: u32,
}

impl Budget {
    /// A budget enforcing `limit`.
    pub(crate) fn new(limit: RateLimit) -> Self {
        Budget {
            limit,
            period_start: None,
            current: 0,
            previous: 0,
        }
    }

    fn roll(&mut self, now: Instant) -> Duration {
        let per = self.limit.per.max(Duration::from_nanos(1));
        let start = *self.period_start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        if elapsed >= per * 2 {
            self.previous = 0;
            self.current = 0;
            self.period_start = Some(now);
            Duration::ZERO
        } else if elapsed >= per {
            self.previous = self.current;
            self.current = 0;
            self.period_start = Some(start + per);
            elapsed - per
        } else {
            elapsed
        }
    }

    /// The estimated number of events in the sliding period ending at `now`.
    pub(crate) fn estimate(&mut self, now: Instant) -> u64 {
        let into = self.roll(now);
        let per = self.limit.per.max(Duration::from_nanos(1)).as_nanos();
        let remaining = per.saturating_sub(into.as_nanos());
        let weighted = (u128::from(self.previous) * remaining / per) as u64;
        weighted + u64::from(self.current)
    }

    /// Records one event at `now`. Returns `false` when the budget is exceeded (the event is
    /// still counted, so a flood stays detected).
    pub(crate) fn record(&mut self, now: Instant) -> bool {
        if self.limit.max == u32::MAX {
            return true;
        }
        let within = self.estimate(now) < u64::from(self.limit.max);
        self.current = self.current.saturating_add(1);
        within
    }
}

/// How a stream we remember ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ClosedStream {
    /// When it closed.
    pub(crate) at: Instant,
    /// How it closed.
    pub(crate) cause: CloseCause,
}

/// A bounded memory of recently closed streams.
///
/// Late frames on a stream we reset are ignored (RFC 9113 §5.1) only while we remember it: for
/// at most `retention` and for at most `capacity` streams; the oldest are forgotten first. Memory
/// is O(capacity) whatever the peer does.
///
/// Every stream that closes is remembered, while a lookup happens only for a frame on a stream
/// no longer open, so remembering is a push onto two rings and a lookup scans the ids, newest
/// first (a few dozen instructions for the default 128, and the peer's late frames are
/// budgeted by `Limits::unknown_stream_frames`). An id closed twice is remembered twice; the
/// newer close is the one found.
#[derive(Clone, Debug)]
pub(crate) struct RecentlyClosed {
    capacity: usize,
    retention: Duration,
    /// Ids in the order they closed, oldest first (kept apart from `info` so a lookup scans
    /// four octets per stream).
    ids: VecDeque<u32>,
    /// How each stream of `ids` closed, at the same position.
    info: VecDeque<ClosedStream>,
}

impl RecentlyClosed {
    /// A memory of at most `capacity` streams, each kept for at most `retention`.
    pub(crate) fn new(capacity: usize, retention: Duration) -> Self {
        RecentlyClosed {
            capacity,
            retention,
            ids: VecDeque::new(),
            info: VecDeque::new(),
        }
    }

    /// Remembers that `id` closed at `now` because of `cause`.
    #[inline]
    ///
    /// Memory is bounded by the count; streams past their retention are forgotten when
    /// [`get`](Self::get) looks (a close is not worth the clock arithmetic).
    pub(crate) fn insert(&mut self, id: StreamId, cause: CloseCause, now: Instant) {
        if self.capacity == 0 {
            return;
        }
        if self.ids.len() >= self.capacity {
            self.ids.pop_front();
            self.info.pop_front();
        }
        self.ids.push_back(id.get());
        self.info.push_back(ClosedStream { at: now, cause });
    }

    /// How `id` closed, if it is still remembered at `now` (the newest close if it closed
    /// more than once).
    pub(crate) fn get(&mut self, id: StreamId, now: Instant) -> Option<ClosedStream> {
        self.expire(now);
        let raw = id.get();
        let (older, newer) = self.ids.as_slices();
        let at = match newer.iter().rposition(|&x| x == raw) {
            Some(i) => older.len() + i,
            None => older.iter().rposition(|&x| x == raw)?,
        };
        self.info.get(at).copied()
    }

    /// Forgets streams older than the retention time.
    #[inline]
    pub(crate) fn expire(&mut self, now: Instant) {
        while let Some(front) = self.info.front() {
            // Most checks end here.
            if now.saturating_duration_since(front.at) < self.retention {
                break;
            }
            self.ids.pop_front();
            self.info.pop_front();
        }
    }

    /// The time the oldest remembered stream will be forgotten (for `poll_timeout`).
    #[cfg(test)]
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.info.front().map(|c| c.at + self.retention)
    }

    /// Releases spare capacity (all of it when nothing is remembered).
    pub(crate) fn shrink_to_fit(&mut self) {
        self.ids.shrink_to_fit();
        self.info.shrink_to_fit();
    }

    /// The number of closes remembered.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no stream is remembered.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_allows_up_to_max_per_period() {
        let t0 = Instant::now();
        let mut b = Budget::new(RateLimit::new(3, Duration::from_secs(1)));
        assert!(b.record(t0));
        assert!(b.record(t0));
        assert!(b.record(t0));
        assert!(!b.record(t0), "fourth event in the same second");
        // Two periods later everything is forgotten.
        let t2 = t0 + Duration::from_secs(2);
        assert!(b.record(t2));
        assert_eq!(b.estimate(t2), 1);
    }

    #[test]
    fn budget_slides_rather_than_resetting_at_boundaries() {
        let t0 = Instant::now();
        let mut b = Budget::new(RateLimit::new(10, Duration::from_secs(1)));
        for _ in 0..10 {
            assert!(b.record(t0));
        }
        // Just after the boundary, most of the previous period still counts, so a burst right
        // before the boundary and one right after it cannot add up to twice the limit.
        let t = t0 + Duration::from_millis(1100);
        assert_eq!(b.estimate(t), 9); // 10 × 0.9 of the period remaining
        assert!(b.record(t));
        assert!(!b.record(t));
        // Later in the period the previous burst weighs less.
        let t = t0 + Duration::from_millis(1900);
        assert!(b.estimate(t) <= 3);
        assert!(b.record(t));
    }

    #[test]
    fn budget_memory_is_constant_under_flood() {
        let t0 = Instant::now();
        let mut b = Budget::new(RateLimit::new(100, Duration::from_secs(10)));
        let mut refused = 0;
        for i in 0..10_000u64 {
            if !b.record(t0 + Duration::from_micros(i)) {
                refused += 1;
            }
        }
        assert_eq!(refused, 10_000 - 100);
        assert_eq!(core::mem::size_of::<Budget>(), core::mem::size_of_val(&b));
    }

    #[test]
    fn zero_period_does_not_divide_by_zero() {
        let t0 = Instant::now();
        let mut b = Budget::new(RateLimit::new(1, Duration::ZERO));
        assert!(b.record(t0));
        assert!(b.record(t0 + Duration::from_nanos(5)));
        let mut none = Budget::new(RateLimit::new(0, Duration::from_secs(1)));
        assert!(!none.record(t0));
    }

    #[test]
    fn recently_closed_is_bounded_by_count() {
        let t0 = Instant::now();
        let mut m = RecentlyClosed::new(3, Duration::from_secs(60));
        for i in 0..10u32 {
            m.insert(StreamId::new(2 * i + 1), CloseCause::ResetSent, t0);
        }
        assert_eq!(m.len(), 3);
        assert!(m.get(StreamId::new(1), t0).is_none());
        assert_eq!(
            m.get(StreamId::new(19), t0).map(|c| c.cause),
            Some(CloseCause::ResetSent)
        );
    }

    #[test]
    fn recently_closed_is_bounded_by_time() {
        let t0 = Instant::now();
        let mut m = RecentlyClosed::new(100, Duration::from_secs(5));
        m.insert(StreamId::new(1), CloseCause::ResetSent, t0);
        m.insert(
            StreamId::new(3),
            CloseCause::EndStream,
            t0 + Duration::from_secs(3),
        );
        assert_eq!(m.next_expiry(), Some(t0 + Duration::from_secs(5)));
        let t = t0 + Duration::from_secs(6);
        assert!(m.get(StreamId::new(1), t).is_none());
        assert!(m.get(StreamId::new(3), t).is_some());
        assert!(
            m.get(StreamId::new(3), t0 + Duration::from_secs(8))
                .is_none()
        );
        assert!(m.is_empty());
    }

    #[test]
    fn a_second_close_is_the_one_found() {
        let t0 = Instant::now();
        let mut m = RecentlyClosed::new(3, Duration::from_secs(5));
        m.insert(StreamId::new(1), CloseCause::EndStream, t0);
        m.insert(StreamId::new(3), CloseCause::EndStream, t0);
        m.insert(StreamId::new(1), CloseCause::ResetSent, t0);
        assert_eq!(
            m.get(StreamId::new(1), t0).map(|c| c.cause),
            Some(CloseCause::ResetSent)
        );
        assert_eq!(
            m.get(StreamId::new(3), t0).map(|c| c.cause),
            Some(CloseCause::EndStream)
        );
        // Across the ring's wrap: the newest entries sit at the front of the buffer.
        for i in 0..7u32 {
            m.insert(StreamId::new(11 + 2 * i), CloseCause::ResetReceived, t0);
            assert_eq!(
                m.get(StreamId::new(11 + 2 * i), t0).map(|c| c.cause),
                Some(CloseCause::ResetReceived)
            );
            assert_eq!(m.len(), 3);
        }
        assert!(m.get(StreamId::new(1), t0).is_none());
        let mut zero = RecentlyClosed::new(0, Duration::from_secs(5));
        zero.insert(StreamId::new(1), CloseCause::EndStream, t0);
        assert!(zero.is_empty());
    }
}
