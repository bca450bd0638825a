//! The connection's streams: the map, the ids used and recently closed, the concurrency
//! counts, early priority signals, and the scheduler that orders their DATA.
//!
//! [`Streams`] keeps these consistent with each other: every transition goes through
//! [`Streams::apply`] (or [`Streams::open`]) so the active counts follow the state machine,
//! and every stream leaves through [`Streams::remove_if_done`], which takes it out of the
//! scheduler and remembers how it closed.

use std::collections::VecDeque;
use std::time::Instant;

use h2kit_frame::StreamId;
use h2kit_priority::{ExtensiblePriority, PrioritySignal, Scheduler};

use super::Role;
use super::stream::{Stream, WindowWait};
use super::table::StreamTable;
use crate::config::Limits;
use crate::error::UsageError;
use crate::limits::RecentlyClosed;
use crate::state::{CloseCause, Effects, Input, StreamState, TransitionError};

/// How many ranges of peer stream ids skipped by a higher one are remembered.
const MAX_SKIPPED_RANGES: usize = 16;

/// The streams of one connection and everything that must stay consistent with them.
pub(super) struct Streams {
    map: StreamTable,
    closed: RecentlyClosed,
    /// Streams closed before the connection saw a time (`tick`): stamped at the first one.
    closed_unstamped: Vec<(StreamId, CloseCause)>,
    now: Option<Instant>,
    role: Role,
    next_local: u32,
    max_remote: u32,
    /// Ranges of peer stream ids skipped when it opened a higher one (newest last, bounded):
    /// HEADERS on them is an unexpected stream identifier (RFC 9113 §5.1.1).
    skipped_remote: VecDeque<(u32, u32)>,
    /// The highest peer stream id we accepted (the last stream id of our GOAWAY).
    last_processed: u32,
    active: Active,
    /// PRIORITY_UPDATE frames for streams not opened yet (RFC 9218 §7.1), oldest first,
    /// bounded by our SETTINGS_MAX_CONCURRENT_STREAMS.
    early_priority: VecDeque<(u32, ExtensiblePriority)>,
    scheduler: Box<dyn Scheduler + Send>,
    /// At or before the earliest `Stream::stalled_since` (stalls that ended are forgotten
    /// only when `take_stalled` looks).
    stall_hint: Option<Instant>,
    /// Since when queued data has waited for the connection's send window, with every
    /// stream window it waits on open (see `Limits::send_stall_timeout`).
    conn_stalled_since: Option<Instant>,
}

impl Streams {
    pub(super) fn new(role: Role, limits: &Limits, scheduler: Box<dyn Scheduler + Send>) -> Self {
        Streams {
            map: StreamTable::default(),
            closed: RecentlyClosed::new(limits.max_closed_streams, limits.closed_stream_retention),
            closed_unstamped: Vec::new(),
            now: None,
            role,
            next_local: if role == Role::Client { 1 } else { 2 },
            max_remote: 0,
            skipped_remote: VecDeque::new(),
            last_processed: 0,
            active: Active::default(),
            early_priority: VecDeque::new(),
            scheduler,
            stall_hint: None,
            conn_stalled_since: None,
        }
    }

    /// The connection's clock moved to `now`: closes remembered before it are stamped.
    #[inline]
    pub(super) fn tick(&mut self, now: Instant) {
        self.now = Some(now);
        for (id, cause) in self.closed_unstamped.drain(..) {
            self.closed.insert(id, cause, now);
        }
    }

    // ------------------------------------------------------------ the map

    #[inline]
    pub(super) fn get(&self, id: StreamId) -> Option<&Stream> {
        self.map.get(&id)
    }

    #[inline]
    pub(super) fn get_mut(&mut self, id: StreamId) -> Option<&mut Stream> {
        self.map.get_mut(&id)
    }

    #[inline]
    pub(super) fn contains(&self, id: StreamId) -> bool {
        self.map.contains_key(&id)
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    #[inline]
    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut Stream> {
        self.map.values_mut()
    }

    /// How many streams have data, trailers or END_STREAM still queued.
    pub(super) fn with_output(&self) -> usize {
        self.map.values().filter(|s| s.has_output()).count()
    }

    /// Whether any stream has output queued.
    pub(super) fn any_output(&self) -> bool {
        self.map.values().any(Stream::has_output)
    }

    /// Drops every stream's queued output (the connection ended).
    pub(super) fn clear_output(&mut self) {
        for s in self.map.values_mut() {
            s.clear_output();
        }
    }

    /// How many closed stream ids are remembered.
    pub(super) fn closed_len(&self) -> usize {
        self.closed.len()
    }

    /// Room in the map (see `Connection::shrink_if_idle`).
    pub(super) fn capacity(&self) -> usize {
        self.map.capacity()
    }

    /// Releases spare capacity of the map and the closed-stream memory.
    pub(super) fn shrink_to_fit(&mut self) {
        self.map.shrink_to_fit();
        self.closed.shrink_to_fit();
    }

    // ------------------------------------------------------------ ids

    /// Whether `id` is of the kind we open (odd for a client, even for a server).
    #[inline]
    pub(super) fn is_local_id(&self, id: StreamId) -> bool {
        match self.role {
            Role::Client => id.is_client_initiated(),
            Role::Server => id.is_server_initiated(),
        }
    }

    /// Whether `id` was ever used (opened, reserved or skipped), by its side's counter.
    #[inline]
    fn id_used(&self, id: StreamId) -> bool {
        if self.is_local_id(id) {
            id.get() < self.next_local
        } else {
            id.get() <= self.max_remote
        }
    }

    /// The id the next stream we open will use.
    pub(super) fn next_local(&self) -> StreamId {
        StreamId::new(self.next_local)
    }

    /// The id the next stream we open will use, unless ids ran out.
    #[inline]
    pub(super) fn next_local_id(&self) -> Result<StreamId, UsageError> {
        if self.next_local > StreamId::MAX.get() {
            return Err(UsageError::StreamIdsExhausted);
        }
        Ok(StreamId::new(self.next_local))
    }

    /// The highest stream id the peer used.
    #[inline]
    pub(super) fn max_remote(&self) -> StreamId {
        StreamId::new(self.max_remote)
    }

    /// The highest stream id of the peer's that we accepted.
    #[inline]
    pub(super) fn last_processed(&self) -> StreamId {
        StreamId::new(self.last_processed)
    }

    /// The peer used `id` to open a stream: it and the ids it skipped are no longer idle
    /// (RFC 9113 §5.1.1). Memory is bounded: the oldest skipped ranges are forgotten.
    #[inline(always)]
    pub(super) fn note_remote_id(&mut self, id: StreamId) {
        let first = if self.max_remote == 0 {
            if id.is_client_initiated() { 1 } else { 2 }
        } else {
            self.max_remote + 2
        };
        if id.get() > first {
            if self.skipped_remote.len() >= MAX_SKIPPED_RANGES {
                self.skipped_remote.pop_front();
            }
            self.skipped_remote.push_back((first, id.get() - 2));
        }
        self.max_remote = id.get();
    }

    /// The peer promised `promised`: whether it is a new server stream id (then it is used).
    pub(super) fn note_promised_id(&mut self, promised: StreamId) -> bool {
        if !promised.is_server_initiated() || promised.get() <= self.max_remote {
            return false;
        }
        self.max_remote = promised.get();
        true
    }

    /// Whether the peer skipped `id` when it opened a higher one and never used it, as far as
    /// we remember.
    pub(super) fn never_opened(&mut self, id: StreamId, now: Instant) -> bool {
        let raw = id.get();
        self.skipped_remote
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&raw))
            && self.closed.get(id, now).is_none()
    }

    /// The state of stream `id` as the application sees it (closed when unknown and below the
    /// highest id used, idle above).
    pub(super) fn state(&self, id: StreamId) -> StreamState {
        if let Some(s) = self.get(id) {
            return s.state;
        }
        if self.id_used(id) {
            StreamState::Closed(CloseCause::EndStream)
        } else {
            StreamState::Idle
        }
    }

    /// The state of a stream that is not in the map, for received frames.
    ///
    /// A closed stream we no longer remember is treated as one we reset: its late frames are
    /// ignored (and counted against the unknown-stream budget) rather than answered, since we
    /// cannot tell whether the peer sent them before our RST_STREAM or END_STREAM reached it.
    ///
    /// Every caller has found `id` absent from the map. Only used ids are ever remembered as
    /// closed (every close follows the id's use), so an idle id, such as each new request's,
    /// needs no lookup.
    #[inline]
    pub(super) fn recv_state(&mut self, id: StreamId, now: Instant) -> StreamState {
        if !self.id_used(id) {
            return StreamState::Idle;
        }
        match self.closed.get(id, now) {
            Some(c) => StreamState::Closed(c.cause),
            None => StreamState::Closed(CloseCause::ResetSent),
        }
    }

    // ------------------------------------------------------------ transitions

    /// Opens stream `id` with `s` and applies `input` to it: one insert, no lookup. A local
    /// id moves the next local id on; a remote one becomes the last processed.
    #[inline(always)]
    pub(super) fn open(
        &mut self,
        id: StreamId,
        mut s: Stream,
        input: Input,
    ) -> Result<Effects, TransitionError> {
        let fx = step(&mut self.active, &mut s, input)?;
        if !s.local {
            self.last_processed = id.get();
        }
        self.insert(id, s);
        Ok(fx)
    }

    /// Reserves stream `id` for a push promise (ours when `s.local`).
    #[inline(always)]
    pub(super) fn reserve(&mut self, id: StreamId, mut s: Stream) {
        s.state = if s.local {
            StreamState::ReservedLocal
        } else {
            StreamState::ReservedRemote
        };
        self.insert(id, s);
    }

    #[inline(always)]
    fn insert(&mut self, id: StreamId, s: Stream) {
        if s.local {
            self.next_local = self.next_local.max(id.get() + 2);
        }
        self.map.insert(id, s);
    }

    /// Applies `input` to a stream in the map, keeping the concurrency counts; returns the
    /// stream for what follows.
    #[inline(always)]
    pub(super) fn apply(
        &mut self,
        id: StreamId,
        input: Input,
    ) -> Result<(Effects, &mut Stream), TransitionError> {
        let s = self
            .map
            .get_mut(&id)
            .ok_or(TransitionError::Usage(UsageError::UnknownStream))?;
        let fx = step(&mut self.active, s, input)?;
        Ok((fx, s))
    }

    /// [`apply`](Self::apply) for a command: `check` looks at the stream first (one lookup
    /// for both); a refused check or transition changes nothing.
    #[inline(always)]
    pub(super) fn apply_checked(
        &mut self,
        id: StreamId,
        input: Input,
        check: impl FnOnce(&Stream) -> Result<(), UsageError>,
    ) -> Result<(Effects, &mut Stream), UsageError> {
        let s = self.map.get_mut(&id).ok_or(UsageError::UnknownStream)?;
        check(s)?;
        let fx = step(&mut self.active, s, input).map_err(TransitionError::into_usage)?;
        Ok((fx, s))
    }

    /// Removes stream `id` if it is closed and nothing of it remains to be written; true if it
    /// was removed.
    #[inline]
    pub(super) fn remove_if_done(&mut self, id: StreamId) -> bool {
        // Its close cause and whether the scheduler holds it, if it is done.
        let done = |s: &Stream| match s.state {
            StreamState::Closed(cause @ CloseCause::EndStream) if !s.has_output() => {
                Some((cause, s.scheduled))
            }
            StreamState::Closed(cause @ (CloseCause::ResetSent | CloseCause::ResetReceived)) => {
                Some((cause, s.scheduled))
            }
            _ => None,
        };
        let Some((cause, scheduled)) = self.map.remove_if(&id, done) else {
            return false;
        };
        if scheduled {
            let _ = self.scheduler.remove(id.get());
        }
        self.remember_closed(id, cause);
        true
    }

    /// Remembers that `id`, never in the map, is closed as if we had reset it (refused, or
    /// opened after our GOAWAY): the peer's late frames on it are ignored.
    pub(super) fn remember_reset(&mut self, id: StreamId) {
        self.remember_closed(id, CloseCause::ResetSent);
    }

    fn remember_closed(&mut self, id: StreamId, cause: CloseCause) {
        match self.now {
            Some(now) => self.closed.insert(id, cause, now),
            None => self.closed_unstamped.push((id, cause)),
        }
    }

    /// Streams we opened with an id above `last`, lowest first (refused by the peer's GOAWAY).
    pub(super) fn local_above(&self, last: StreamId) -> Vec<StreamId> {
        let mut ids: Vec<StreamId> = self
            .map
            .iter()
            .filter(|(id, s)| s.local && **id > last)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    // ------------------------------------------------------------ counts

    /// Active (open or half-closed) streams we opened.
    #[inline]
    pub(super) fn active_local(&self) -> u32 {
        self.active.local
    }

    /// Active streams the peer opened.
    #[inline]
    pub(super) fn active_remote(&self) -> u32 {
        self.active.remote
    }

    /// Whether no stream is active.
    #[inline]
    pub(super) fn none_active(&self) -> bool {
        self.active.local + self.active.remote == 0
    }

    /// The streams of one side (`local`: ours) that count against its peer's
    /// SETTINGS_MAX_CONCURRENT_STREAMS `max` (RFC 9113 §5.1.2): the active ones and those
    /// closed by an END_STREAM still queued (the peer still sees them half-closed). The result
    /// is exact whenever it matters, that is when it reaches `max`.
    #[inline(always)]
    pub(super) fn concurrent(&self, local: bool, max: u32) -> u32 {
        let active = if local {
            self.active.local
        } else {
            self.active.remote
        };
        if active >= max || (self.map.len() as u32) < max {
            // The map holds every stream with queued output: no scan needed.
            return active;
        }
        let unflushed = self
            .map
            .values()
            .filter(|s| s.local == local && s.state.is_closed() && s.has_output())
            .count() as u32;
        active.saturating_add(unflushed)
    }

    // ------------------------------------------------------------ priorities and scheduling

    /// Applies a priority signal to stream `id` (the parts it carries); false if the stream
    /// is not in the map.
    pub(super) fn set_priority(&mut self, id: StreamId, signal: PrioritySignal) -> bool {
        let Some(s) = self.map.get_mut(&id) else {
            return false;
        };
        if signal.tree.is_some() {
            s.priority.tree = signal.tree;
        }
        if signal.extensible.is_some() {
            s.priority.extensible = signal.extensible;
        }
        if s.scheduled {
            let _ = self.scheduler.update(id.get(), signal);
        }
        true
    }

    /// Keeps a PRIORITY_UPDATE for a stream the peer has not opened yet, for when it does
    /// (RFC 9218 §7.1); at most `cap` are kept, the oldest forgotten first.
    pub(super) fn note_early_priority(
        &mut self,
        id: StreamId,
        priority: ExtensiblePriority,
        cap: usize,
    ) {
        if id.get() <= self.max_remote || self.is_local_id(id) {
            return;
        }
        self.early_priority.retain(|(s, _)| *s != id.get());
        while self.early_priority.len() >= cap {
            self.early_priority.pop_front();
        }
        self.early_priority.push_back((id.get(), priority));
    }

    /// The PRIORITY_UPDATE the peer sent for `id` before opening it, if any.
    #[inline(always)]
    pub(super) fn take_early_priority(&mut self, id: StreamId) -> Option<ExtensiblePriority> {
        let pos = self
            .early_priority
            .iter()
            .position(|(s, _)| *s == id.get())?;
        self.early_priority.remove(pos).map(|(_, p)| p)
    }

    /// How many streams the scheduler holds.
    #[inline]
    pub(super) fn scheduled(&self) -> usize {
        self.scheduler.len()
    }

    /// The stream the scheduler picks for the next DATA frame.
    #[inline]
    pub(super) fn next_scheduled(&mut self) -> Option<StreamId> {
        self.scheduler.next().map(StreamId::new)
    }

    /// Takes `id`, which is no longer in the map, out of the scheduler.
    pub(super) fn unschedule(&mut self, id: StreamId) {
        let _ = self.scheduler.remove(id.get());
    }

    /// Puts stream `id` into (or out of) the scheduler according to its output and windows
    /// (`conn_window`: the connection send window).
    #[inline]
    pub(super) fn schedule(&mut self, id: StreamId, conn_window: u32) {
        let Some(s) = self.map.get_mut(&id) else {
            return;
        };
        let want = s.has_output() && !s.state.is_closed() || s.has_output() && s.end_queued;
        if !want {
            s.stalled_since = None;
            if s.scheduled {
                let _ = self.scheduler.remove(id.get());
                s.scheduled = false;
            }
            return;
        }
        if !s.scheduled {
            // Usually new to the scheduler; an RFC 7540 tree may already hold it as a parent.
            let r = match self.scheduler.insert(id.get(), s.priority) {
                Err(h2kit_priority::PriorityError::Duplicate(_)) => {
                    self.scheduler.update(id.get(), s.priority)
                }
                r => r,
            };
            if r.is_err() {
                return;
            }
            s.scheduled = true;
        }
        match s.window_wait(conn_window) {
            Some(WindowWait::Stream) => {
                if s.stalled_since.is_none() {
                    s.stalled_since = self.now;
                    self.stall_hint = earliest(self.stall_hint, self.now);
                }
            }
            Some(WindowWait::Connection) => {
                s.stalled_since = None;
                if self.conn_stalled_since.is_none() {
                    self.conn_stalled_since = self.now;
                }
            }
            None => s.stalled_since = None,
        }
        let _ = if s.can_write(conn_window) {
            self.scheduler.unblock(id.get())
        } else {
            self.scheduler.block(id.get())
        };
    }

    /// Since when data has waited for a send window, if it has: the earliest stream stall
    /// or the connection's (possibly earlier than a stall still going on, never later).
    pub(super) fn stalled_since(&self) -> Option<Instant> {
        earliest(self.stall_hint, self.conn_stalled_since)
    }

    /// Since when data has waited for the connection's send window, if it still does.
    /// Forgets a wait that ended (no stream waits on that window any more).
    pub(super) fn connection_stalled_since(&mut self, conn_window: u32) -> Option<Instant> {
        let since = self.conn_stalled_since?;
        let waiting = self
            .map
            .values()
            .any(|s| s.window_wait(conn_window) == Some(WindowWait::Connection));
        if !waiting {
            self.conn_stalled_since = None;
            return None;
        }
        Some(since)
    }

    /// The streams whose data has waited for their own send window since a time for which
    /// `due` is true, no longer marked stalled; stalls that ended are forgotten.
    pub(super) fn take_stalled(
        &mut self,
        conn_window: u32,
        due: impl Fn(Instant) -> bool,
    ) -> Vec<StreamId> {
        let mut stalled = Vec::new();
        let mut hint = None;
        for (&id, s) in self.map.iter_mut() {
            let Some(since) = s.stalled_since else {
                continue;
            };
            if s.window_wait(conn_window) != Some(WindowWait::Stream) {
                s.stalled_since = None;
            } else if due(since) {
                s.stalled_since = None;
                stalled.push(id);
            } else {
                hint = earliest(hint, Some(since));
            }
        }
        self.stall_hint = hint;
        stalled
    }

    /// [`schedule`](Self::schedule) for every stream that is or might be scheduled (a window
    /// changed for all of them).
    pub(super) fn reschedule_all(&mut self, conn_window: u32) {
        if conn_window > 0 {
            // The connection window opened: any wait for it starts again.
            self.conn_stalled_since = None;
        }
        let ids: Vec<StreamId> = self
            .map
            .iter()
            .filter(|(_, s)| s.scheduled || s.has_output())
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.schedule(id, conn_window);
        }
    }
}

/// The earlier of two optional times.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Active (open or half-closed) streams of each side: the counts SETTINGS_MAX_CONCURRENT_STREAMS
/// limits (RFC 9113 §5.1.2).
#[derive(Debug, Default)]
struct Active {
    /// Streams we opened.
    local: u32,
    /// Streams the peer opened.
    remote: u32,
}

/// Applies `input` to `s` and keeps `active` in step with the transition.
#[inline(always)]
fn step(active: &mut Active, s: &mut Stream, input: Input) -> Result<Effects, TransitionError> {
    let (next, fx) = s.state.on(input)?;
    s.state = next;
    let count = if s.local {
        &mut active.local
    } else {
        &mut active.remote
    };
    if fx.activated {
        *count += 1;
    }
    if fx.deactivated {
        *count = count.saturating_sub(1);
    }
    Ok(fx)
}
