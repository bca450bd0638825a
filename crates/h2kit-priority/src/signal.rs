//! Priority signals: RFC 7540 dependencies and RFC 9218 urgency/incremental.

use core::fmt;

use sfv::{BareItem, ListEntry, Parser, RefBareItem, RefDictSerializer};

/// The default weight of a stream (RFC 7540 §5.3.5).
pub const DEFAULT_WEIGHT: u16 = 16;

/// An RFC 7540 §5.3 priority: the parent stream, the weight and the exclusive flag, as carried
/// by a HEADERS frame with the PRIORITY flag or by a PRIORITY frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TreePriority {
    /// The stream this one depends on; 0 means the root.
    pub depends_on: u32,
    /// The weight, `1..=256` (the wire carries `weight - 1` in one byte).
    pub weight: u16,
    /// Whether this stream becomes the sole child of `depends_on`, adopting its other children.
    pub exclusive: bool,
}

impl TreePriority {
    /// The default priority: depends on the root, weight 16, not exclusive (RFC 7540 §5.3.5).
    pub const DEFAULT: Self = Self {
        depends_on: 0,
        weight: DEFAULT_WEIGHT,
        exclusive: false,
    };

    /// Builds a priority from the wire fields: `weight_byte` is the frame's weight field, so
    /// the weight is `weight_byte + 1` and is always valid.
    pub fn from_wire(depends_on: u32, weight_byte: u8, exclusive: bool) -> Self {
        Self {
            depends_on,
            weight: u16::from(weight_byte) + 1,
            exclusive,
        }
    }
}

impl Default for TreePriority {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// An RFC 9218 §4.1 urgency, `0..=7`; lower is more urgent, 3 is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Urgency(u8);

impl Urgency {
    /// The most urgent level, 0.
    pub const HIGHEST: Self = Self(0);
    /// The default level, 3.
    pub const DEFAULT: Self = Self(3);
    /// The least urgent level, 7 (meant for background work).
    pub const LOWEST: Self = Self(7);

    /// Returns the urgency `value`, or `None` when it is outside `0..=7`.
    pub const fn new(value: u8) -> Option<Self> {
        if value <= 7 { Some(Self(value)) } else { None }
    }

    /// The numeric level, `0..=7`.
    pub const fn value(self) -> u8 {
        self.0
    }
}

impl Default for Urgency {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for Urgency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The RFC 9218 priority parameters: urgency (`u`) and incremental (`i`).
///
/// Parse it from the `priority` header field value or a PRIORITY_UPDATE frame's Priority Field
/// Value with [`parse`](Self::parse), and write it with
/// [`write_field_value`](Self::write_field_value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ExtensiblePriority {
    /// How urgent the response is.
    pub urgency: Urgency,
    /// Whether the client can use the response piece by piece (so it may be interleaved).
    pub incremental: bool,
}

impl ExtensiblePriority {
    /// `u=3`, not incremental: the RFC 9218 defaults.
    pub const DEFAULT: Self = Self {
        urgency: Urgency::DEFAULT,
        incremental: false,
    };

    /// Parses a Priority Field Value (an RFC 8941 dictionary), as found in the `priority`
    /// header field or a PRIORITY_UPDATE frame.
    ///
    /// Never fails, as RFC 9218 §4 asks: unknown keys are ignored, a `u` that is not an
    /// integer in `0..=7` or an `i` that is not a boolean is ignored (the default is used),
    /// and a value that is not a valid dictionary at all gives the defaults. When the header
    /// field has several lines, join them with `", "` first (RFC 9110 §5.3).
    pub fn parse(field_value: &[u8]) -> Self {
        let mut out = Self::DEFAULT;
        let Ok(dict) = Parser::parse_dictionary(field_value) else {
            return out;
        };
        if let Some(ListEntry::Item(item)) = dict.get("u") {
            if let BareItem::Integer(u) = item.bare_item {
                if let Some(urgency) = u8::try_from(u).ok().and_then(Urgency::new) {
                    out.urgency = urgency;
                }
            }
        }
        if let Some(ListEntry::Item(item)) = dict.get("i") {
            if let BareItem::Boolean(i) = item.bare_item {
                out.incremental = i;
            }
        }
        out
    }

    /// Appends the Priority Field Value to `out`, leaving out parameters that have their
    /// default value (so the default priority writes nothing).
    pub fn write_field_value(&self, out: &mut String) {
        let mut ser = Some(RefDictSerializer::new(out));
        if self.urgency != Urgency::DEFAULT {
            let value = RefBareItem::Integer(i64::from(self.urgency.value()));
            // Cannot fail: "u" is a valid key and small integers are valid items.
            ser = ser.and_then(|s| s.bare_item_member("u", &value).ok());
        }
        if self.incremental {
            // Cannot fail: "i" is a valid key; `true` is written as the bare key.
            let _ = ser.and_then(|s| s.bare_item_member("i", &RefBareItem::Boolean(true)).ok());
        }
    }

    /// Returns the Priority Field Value as a new string (see
    /// [`write_field_value`](Self::write_field_value)).
    pub fn to_field_value(&self) -> String {
        let mut out = String::new();
        self.write_field_value(&mut out);
        out
    }
}

/// A PRIORITY_UPDATE frame payload (RFC 9218 §7.1): the prioritized stream and its new
/// priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PriorityUpdate {
    /// The Prioritized Stream ID (31 bits; the reserved bit is dropped).
    pub element_id: u32,
    /// The priority parsed from the Priority Field Value.
    pub priority: ExtensiblePriority,
}

/// A PRIORITY_UPDATE payload shorter than its 4-byte Prioritized Stream ID: a connection
/// error of type `FRAME_SIZE_ERROR` (RFC 9218 §7.1, RFC 9113 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShortPriorityUpdate {
    /// The payload length received.
    pub len: usize,
}

impl fmt::Display for ShortPriorityUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PRIORITY_UPDATE payload of {} bytes is shorter than 4",
            self.len
        )
    }
}

impl std::error::Error for ShortPriorityUpdate {}

impl PriorityUpdate {
    /// Parses a PRIORITY_UPDATE payload. Only a payload shorter than 4 bytes is an error; a
    /// bad field value gives the default priority, as for the header field.
    pub fn parse(payload: &[u8]) -> Result<Self, ShortPriorityUpdate> {
        let Some((id, value)) = payload.split_first_chunk::<4>() else {
            return Err(ShortPriorityUpdate { len: payload.len() });
        };
        Ok(Self {
            element_id: u32::from_be_bytes(*id) & 0x7fff_ffff,
            priority: ExtensiblePriority::parse(value),
        })
    }

    /// Appends the payload (stream id, then the field value) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.element_id & 0x7fff_ffff).to_be_bytes());
        out.extend_from_slice(self.priority.to_field_value().as_bytes());
    }
}

/// The priority information the connection core hands to a [`Scheduler`](crate::Scheduler):
/// either kind, both, or neither.
///
/// The core fills in what the peer sent: `tree` from a HEADERS frame with the PRIORITY flag
/// or a PRIORITY frame, `extensible` from the `priority` header field or a PRIORITY_UPDATE
/// frame. Each scheduler reads the part it understands and ignores the other. On
/// [`Scheduler::insert`](crate::Scheduler::insert) a missing part means "the default"; on
/// [`Scheduler::update`](crate::Scheduler::update) it means "unchanged".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PrioritySignal {
    /// An RFC 7540 dependency, weight and exclusive flag.
    pub tree: Option<TreePriority>,
    /// RFC 9218 urgency and incremental.
    pub extensible: Option<ExtensiblePriority>,
}

impl PrioritySignal {
    /// No priority information.
    pub const NONE: Self = Self {
        tree: None,
        extensible: None,
    };

    /// Only an RFC 7540 priority.
    pub const fn tree(priority: TreePriority) -> Self {
        Self {
            tree: Some(priority),
            extensible: None,
        }
    }

    /// Only an RFC 9218 priority.
    pub const fn extensible(priority: ExtensiblePriority) -> Self {
        Self {
            tree: None,
            extensible: Some(priority),
        }
    }
}

impl From<TreePriority> for PrioritySignal {
    fn from(p: TreePriority) -> Self {
        Self::tree(p)
    }
}

impl From<ExtensiblePriority> for PrioritySignal {
    fn from(p: ExtensiblePriority) -> Self {
        Self::extensible(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(u: u8, i: bool) -> ExtensiblePriority {
        ExtensiblePriority {
            urgency: Urgency::new(u).unwrap(),
            incremental: i,
        }
    }

    #[test]
    fn parses_urgency_and_incremental() {
        assert_eq!(ExtensiblePriority::parse(b"u=5, i"), p(5, true));
        assert_eq!(ExtensiblePriority::parse(b"i=?0, u=0"), p(0, false));
        assert_eq!(ExtensiblePriority::parse(b"u=7"), p(7, false));
        assert_eq!(ExtensiblePriority::parse(b"i"), p(3, true));
        assert_eq!(ExtensiblePriority::parse(b""), ExtensiblePriority::DEFAULT);
    }

    #[test]
    fn unknown_keys_are_ignored() {
        assert_eq!(
            ExtensiblePriority::parse(b"foo=bar, u=1, x=(1 2)"),
            p(1, false)
        );
    }

    #[test]
    fn bad_values_fall_back_to_defaults() {
        // Out of range, wrong types: each parameter falls back on its own.
        assert_eq!(ExtensiblePriority::parse(b"u=8, i"), p(3, true));
        assert_eq!(ExtensiblePriority::parse(b"u=-1"), p(3, false));
        assert_eq!(ExtensiblePriority::parse(b"u=1.0, i=?1"), p(3, true));
        assert_eq!(ExtensiblePriority::parse(b"u=2, i=1"), p(2, false));
        assert_eq!(ExtensiblePriority::parse(b"u=\"1\""), p(3, false));
        assert_eq!(ExtensiblePriority::parse(b"u=(1), i=(?1)"), p(3, false));
        // Not a dictionary at all: the whole value is ignored.
        assert_eq!(
            ExtensiblePriority::parse(b"u=1,,,i"),
            ExtensiblePriority::DEFAULT
        );
        assert_eq!(
            ExtensiblePriority::parse(b"\xff\x00"),
            ExtensiblePriority::DEFAULT
        );
        assert_eq!(
            ExtensiblePriority::parse(b"u=99999999999999999999"),
            ExtensiblePriority::DEFAULT
        );
    }

    #[test]
    fn last_duplicate_key_wins() {
        // RFC 8941 §4.2.2: a later member with the same key overwrites the earlier one.
        assert_eq!(ExtensiblePriority::parse(b"u=1, u=6"), p(6, false));
    }

    #[test]
    fn serialises_and_round_trips() {
        assert_eq!(ExtensiblePriority::DEFAULT.to_field_value(), "");
        assert_eq!(p(3, true).to_field_value(), "i");
        assert_eq!(p(0, false).to_field_value(), "u=0");
        assert_eq!(p(6, true).to_field_value(), "u=6, i");
        for u in 0..=7 {
            for i in [false, true] {
                let v = p(u, i);
                assert_eq!(ExtensiblePriority::parse(v.to_field_value().as_bytes()), v);
            }
        }
    }

    #[test]
    fn urgency_range() {
        assert_eq!(Urgency::new(8), None);
        assert_eq!(Urgency::new(0), Some(Urgency::HIGHEST));
        assert_eq!(Urgency::default().value(), 3);
    }

    #[test]
    fn priority_update_payload() {
        assert_eq!(
            PriorityUpdate::parse(b"\x00\x01"),
            Err(ShortPriorityUpdate { len: 2 })
        );
        let up = PriorityUpdate::parse(b"\x80\x00\x00\x05u=1, i").unwrap();
        assert_eq!(up.element_id, 5);
        assert_eq!(up.priority, p(1, true));
        let mut out = Vec::new();
        up.encode(&mut out);
        assert_eq!(out, b"\x00\x00\x00\x05u=1, i");
        assert_eq!(
            PriorityUpdate::parse(b"\x00\x00\x00\x07").unwrap().priority,
            ExtensiblePriority::DEFAULT
        );
    }

    #[test]
    fn tree_priority_from_wire() {
        assert_eq!(TreePriority::from_wire(3, 255, true).weight, 256);
        assert_eq!(TreePriority::from_wire(3, 0, false).weight, 1);
        assert_eq!(TreePriority::default().weight, DEFAULT_WEIGHT);
    }
}
