//! The stream table: streams kept in a `Vec` of slots, found by id through a map of
//! indexes.
//!
//! A hash map of the streams themselves sized its slots by the stream (224 bytes), and with
//! streams opening and closing it grows to twice its live count before it rehashes in
//! place: 100 concurrent streams held 256 slots, about 57 KiB per connection. Here the map's
//! slots are 8 bytes and the streams sit in a `Vec` as long as the most that were open at
//! once, about half the memory. A closed stream's slot is dropped in place and used again by
//! the next stream, so removal moves nothing.

use std::collections::hash_map::Entry;

use h2kit_frame::StreamId;

use super::stream::Stream;
use crate::StreamIdMap;

/// Streams by id.
#[derive(Default)]
pub(super) struct StreamTable {
    /// Where each stream is in `slots`.
    index: StreamIdMap<u32>,
    /// The streams with their ids; `None` for a free slot.
    slots: Vec<Option<(StreamId, Stream)>>,
    /// The free slots, the last freed last.
    free: Vec<u32>,
}

impl StreamTable {
    #[inline]
    pub(super) fn get(&self, id: &StreamId) -> Option<&Stream> {
        let &i = self.index.get(id)?;
        self.slots.get(i as usize)?.as_ref().map(|(_, s)| s)
    }

    #[inline]
    pub(super) fn get_mut(&mut self, id: &StreamId) -> Option<&mut Stream> {
        let &i = self.index.get(id)?;
        self.slots.get_mut(i as usize)?.as_mut().map(|(_, s)| s)
    }

    #[inline]
    pub(super) fn contains_key(&self, id: &StreamId) -> bool {
        self.index.contains_key(id)
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    #[inline]
    pub(super) fn values(&self) -> impl Iterator<Item = &Stream> {
        self.slots
            .iter()
            .filter_map(|slot| slot.as_ref().map(|(_, s)| s))
    }

    #[inline]
    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut Stream> {
        self.slots
            .iter_mut()
            .filter_map(|slot| slot.as_mut().map(|(_, s)| s))
    }

    /// Every stream with its id.
    #[inline]
    pub(super) fn iter(&self) -> impl Iterator<Item = (&StreamId, &Stream)> {
        self.slots
            .iter()
            .filter_map(|slot| slot.as_ref().map(|(id, s)| (id, s)))
    }

    /// Every stream with its id, to change.
    #[inline]
    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (&StreamId, &mut Stream)> {
        self.slots
            .iter_mut()
            .filter_map(|slot| slot.as_mut().map(|(id, s)| (&*id, s)))
    }

    /// Puts `s` in as stream `id`, replacing a stream of that id if there is one.
    #[inline]
    pub(super) fn insert(&mut self, id: StreamId, s: Stream) {
        match self.index.entry(id) {
            Entry::Occupied(e) => {
                if let Some(slot) = self.slots.get_mut(*e.get() as usize) {
                    *slot = Some((id, s));
                }
            }
            Entry::Vacant(e) => {
                let i = match self.free.pop() {
                    Some(i) => {
                        if let Some(slot) = self.slots.get_mut(i as usize) {
                            *slot = Some((id, s));
                        }
                        i
                    }
                    None => {
                        // A connection holds far fewer than 2^32 streams at once.
                        self.slots.push(Some((id, s)));
                        (self.slots.len() - 1) as u32
                    }
                };
                e.insert(i);
            }
        }
    }

    /// Drops stream `id` if `take` returns something for it, and returns that: one lookup,
    /// and the stream is dropped where it is.
    #[inline]
    pub(super) fn remove_if<R>(
        &mut self,
        id: &StreamId,
        take: impl FnOnce(&Stream) -> Option<R>,
    ) -> Option<R> {
        let &i = self.index.get(id)?;
        let slot = self.slots.get_mut(i as usize)?;
        let r = take(&slot.as_ref()?.1)?;
        *slot = None;
        self.index.remove(id);
        self.free.push(i);
        Some(r)
    }

    /// Room held for streams (0 when nothing is left to release).
    pub(super) fn capacity(&self) -> usize {
        self.index.capacity().max(self.slots.capacity())
    }

    /// Releases spare capacity: all of it once no stream is left.
    pub(super) fn shrink_to_fit(&mut self) {
        if self.index.is_empty() {
            self.slots.clear();
            self.free.clear();
        }
        self.index.shrink_to_fit();
        self.slots.shrink_to_fit();
        self.free.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use crate::flow::{RecvFlow, Window};

    /// A stream told apart by its send window.
    fn stream(window: u32) -> Stream {
        let policy = Config::default().stream_window.build(65_535);
        Stream::new(
            false,
            Window::saturating(window),
            RecvFlow::new(65_535, policy),
        )
    }

    fn id(n: u32) -> StreamId {
        StreamId::new(n)
    }

    #[test]
    fn finds_every_stream_after_removals_from_anywhere() {
        let mut t = StreamTable::default();
        for n in (1..=41).step_by(2) {
            t.insert(id(n), stream(n));
        }
        // From the middle, the front and the back.
        for n in [21, 1, 41, 7] {
            let window = t.remove_if(&id(n), |s| Some(s.send_window.available()));
            assert_eq!(window, Some(n));
            assert_eq!(t.remove_if(&id(n), |_| Some(())), None);
            assert!(!t.contains_key(&id(n)));
        }
        // Kept when `take` says no.
        assert_eq!(t.remove_if(&id(3), |_| None::<()>), None);
        assert!(t.contains_key(&id(3)));
        assert_eq!(t.len(), 17);
        for n in (1..=41).step_by(2).filter(|n| ![21, 1, 41, 7].contains(n)) {
            let s = t.get(&id(n)).expect("still there");
            assert_eq!(s.send_window.available(), n);
        }
        let mut seen: Vec<u32> = t.iter_mut().map(|(id, _)| id.get()).collect();
        seen.sort_unstable();
        assert_eq!(seen.len(), 17);
        assert!(seen.windows(2).all(|w| w[0] < w[1]));
        // Replacing keeps one entry.
        t.insert(id(3), stream(99));
        assert_eq!(t.len(), 17);
        assert_eq!(t.get(&id(3)).map(|s| s.send_window.available()), Some(99));
        // The freed slots are used again: four were free.
        let slots = t.slots.len();
        for n in [101, 103, 105, 107] {
            t.insert(id(n), stream(n));
        }
        assert_eq!(t.slots.len(), slots);
        assert_eq!(
            t.get(&id(105)).map(|s| s.send_window.available()),
            Some(105)
        );
        let ids: Vec<StreamId> = t.iter().map(|(id, _)| *id).collect();
        for id in ids {
            assert!(t.remove_if(&id, |_| Some(())).is_some());
        }
        assert!(t.is_empty());
        assert_eq!(t.values().count(), 0);
        t.shrink_to_fit();
        assert_eq!(t.capacity(), 0);
    }
}
