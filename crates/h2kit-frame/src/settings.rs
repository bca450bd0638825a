//! SETTINGS parameters (RFC 9113 §6.5).

use crate::error::FrameError;
use crate::header::{DEFAULT_MAX_FRAME_SIZE, MAX_FRAME_SIZE_LIMIT};
use crate::types::SettingId;

/// The largest flow-control window, 2^31-1 (RFC 9113 §6.9.1); also the largest
/// SETTINGS_INITIAL_WINDOW_SIZE.
pub const MAX_WINDOW_SIZE: u32 = (1 << 31) - 1;

/// The parameters of one SETTINGS frame, in wire order (RFC 9113 §6.5.1).
///
/// Order matters: the receiver applies them in sequence, so when an id repeats the last one
/// wins; the getters return that last value. Unknown ids are kept (they round-trip) and are
/// to be ignored by the receiver (RFC 9113 §6.5.2).
///
/// ```
/// use h2kit_frame::{SettingId, Settings};
///
/// let mut s = Settings::new();
/// s.push(SettingId::INITIAL_WINDOW_SIZE, 1 << 20);
/// s.push(SettingId::ENABLE_PUSH, 0);
/// assert_eq!(s.initial_window_size(), Some(1 << 20));
/// assert_eq!(s.enable_push(), Some(false));
/// assert!(s.validate().is_ok());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Settings {
    entries: Vec<(SettingId, u32)>,
}

impl Settings {
    /// No parameters (also what an empty SETTINGS frame carries).
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// Appends a parameter, keeping any earlier one with the same id (wire order).
    pub fn push(&mut self, id: SettingId, value: u32) {
        self.entries.push((id, value));
    }

    /// Sets a parameter: replaces every earlier entry with this id by one entry at the end.
    pub fn set(&mut self, id: SettingId, value: u32) {
        self.entries.retain(|(i, _)| *i != id);
        self.entries.push((id, value));
    }

    /// Builder form of [`set`](Self::set).
    #[must_use]
    pub fn with(mut self, id: SettingId, value: u32) -> Self {
        self.set(id, value);
        self
    }

    /// The value that takes effect for `id` (the last entry with it), if any.
    pub fn get(&self, id: SettingId) -> Option<u32> {
        self.entries
            .iter()
            .rev()
            .find(|(i, _)| *i == id)
            .map(|(_, v)| *v)
    }

    /// The entries in wire order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (SettingId, u32)> + '_ {
        self.entries.iter().copied()
    }

    /// The entries in wire order, as a slice.
    pub fn as_slice(&self) -> &[(SettingId, u32)] {
        &self.entries
    }

    /// Number of entries (duplicates counted).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Length of the SETTINGS payload these entries encode to (6 octets each).
    pub fn encoded_len(&self) -> usize {
        self.entries.len().saturating_mul(6)
    }

    /// Checks every entry against RFC 9113 §6.5.2 (and RFC 8441 §3, RFC 9218 §2.1); the first
    /// bad one is the error. The decoder runs this on every SETTINGS frame it receives.
    pub fn validate(&self) -> Result<(), FrameError> {
        self.entries
            .iter()
            .try_for_each(|&(id, value)| check_setting(id, value))
    }

    /// SETTINGS_HEADER_TABLE_SIZE.
    pub fn header_table_size(&self) -> Option<u32> {
        self.get(SettingId::HEADER_TABLE_SIZE)
    }

    /// SETTINGS_ENABLE_PUSH (`None` when absent or not 0/1).
    pub fn enable_push(&self) -> Option<bool> {
        self.get(SettingId::ENABLE_PUSH).and_then(as_bool)
    }

    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub fn max_concurrent_streams(&self) -> Option<u32> {
        self.get(SettingId::MAX_CONCURRENT_STREAMS)
    }

    /// SETTINGS_INITIAL_WINDOW_SIZE.
    pub fn initial_window_size(&self) -> Option<u32> {
        self.get(SettingId::INITIAL_WINDOW_SIZE)
    }

    /// SETTINGS_MAX_FRAME_SIZE.
    pub fn max_frame_size(&self) -> Option<u32> {
        self.get(SettingId::MAX_FRAME_SIZE)
    }

    /// SETTINGS_MAX_HEADER_LIST_SIZE.
    pub fn max_header_list_size(&self) -> Option<u32> {
        self.get(SettingId::MAX_HEADER_LIST_SIZE)
    }

    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441; `None` when absent or not 0/1).
    pub fn enable_connect_protocol(&self) -> Option<bool> {
        self.get(SettingId::ENABLE_CONNECT_PROTOCOL)
            .and_then(as_bool)
    }

    /// SETTINGS_NO_RFC7540_PRIORITIES (RFC 9218; `None` when absent or not 0/1).
    pub fn no_rfc7540_priorities(&self) -> Option<bool> {
        self.get(SettingId::NO_RFC7540_PRIORITIES).and_then(as_bool)
    }
}

impl FromIterator<(SettingId, u32)> for Settings {
    fn from_iter<I: IntoIterator<Item = (SettingId, u32)>>(iter: I) -> Self {
        Self {
            entries: iter.into_iter().collect(),
        }
    }
}

impl<'a> IntoIterator for &'a Settings {
    type Item = (SettingId, u32);
    type IntoIter = core::iter::Copied<core::slice::Iter<'a, (SettingId, u32)>>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().copied()
    }
}

fn as_bool(v: u32) -> Option<bool> {
    match v {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

/// Checks one parameter's value (RFC 9113 §6.5.2, RFC 8441 §3, RFC 9218 §2.1). Unknown ids and
/// ids without a range always pass.
pub fn check_setting(id: SettingId, value: u32) -> Result<(), FrameError> {
    match id {
        SettingId::ENABLE_PUSH if value > 1 => Err(FrameError::InvalidEnablePush { value }),
        SettingId::INITIAL_WINDOW_SIZE if value > MAX_WINDOW_SIZE => {
            Err(FrameError::InvalidInitialWindowSize { value })
        }
        SettingId::MAX_FRAME_SIZE
            if !(DEFAULT_MAX_FRAME_SIZE..=MAX_FRAME_SIZE_LIMIT).contains(&value) =>
        {
            Err(FrameError::InvalidMaxFrameSize { value })
        }
        SettingId::ENABLE_CONNECT_PROTOCOL if value > 1 => {
            Err(FrameError::InvalidEnableConnectProtocol { value })
        }
        SettingId::NO_RFC7540_PRIORITIES if value > 1 => {
            Err(FrameError::InvalidNoRfc7540Priorities { value })
        }
        _ => Ok(()),
    }
}
