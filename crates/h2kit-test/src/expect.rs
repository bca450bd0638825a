//! Comparing a [`FrameSpec`] with a [`ReceivedFrame`]: the rules of the table in
//! [`frames`](crate::frames).

use std::fmt::Debug;

use h2kit_frame::Frame;
use h2kit_hpack::{HeaderField, Representation};

use crate::describe::{bytes, field, fields, priority, settings_list};
use crate::frames::{BlockSpec, FrameSpec, SettingsBuilder};
use crate::received::ReceivedFrame;

/// Collects differences as readable lines.
struct Diff(Vec<String>);

impl Diff {
    fn eq<T: PartialEq + Debug>(&mut self, what: &str, expected: T, actual: T) {
        if expected != actual {
            self.0
                .push(format!("{what}: expected {expected:?}, got {actual:?}"));
        }
    }

    fn flag(&mut self, name: &str, expected: bool, actual: bool) {
        if expected != actual {
            let word = |b: bool| if b { "set" } else { "not set" };
            self.0.push(format!(
                "{name}: expected {}, got {}",
                word(expected),
                word(actual)
            ));
        }
    }

    fn bytes(&mut self, what: &str, expected: &[u8], actual: &[u8]) {
        if expected != actual {
            let mut line = format!(
                "{what}: expected {}, got {}",
                bytes(expected),
                bytes(actual)
            );
            if expected.len() != actual.len() {
                line.push_str(&format!(
                    " ({} octets expected, {} received)",
                    expected.len(),
                    actual.len()
                ));
            } else if let Some(i) = expected.iter().zip(actual).position(|(a, b)| a != b) {
                line.push_str(&format!(" (first difference at octet {i})"));
            }
            self.0.push(line);
        }
    }

    fn note(&mut self, line: String) {
        self.0.push(line);
    }
}

/// Every way `received` differs from `spec`, one line each; empty when it matches.
pub(crate) fn mismatches(spec: &FrameSpec, received: &ReceivedFrame) -> Vec<String> {
    let mut d = Diff(Vec::new());
    if let FrameSpec::Continuation(_) = spec {
        d.note(
            "CONTINUATION frames are assembled into the HEADERS or PUSH_PROMISE before them: \
             expect that frame (with .no_end_headers() to require CONTINUATION)"
                .to_owned(),
        );
        return d.0;
    }
    let actual_type = received.header.frame_type;
    if spec.frame_type() != actual_type {
        d.note(format!(
            "frame type: expected {}, got {actual_type}",
            spec.frame_type()
        ));
        return d.0;
    }
    let sid = received.header.stream_id.get();
    match (spec, &received.frame) {
        (FrameSpec::Any(_), _) => {}
        (FrameSpec::Raw(r), _) => {
            d.eq("flags", r.flags, received.header.flags);
            d.eq("stream", r.stream_id & 0x7fff_ffff, sid);
            d.bytes("payload", &r.payload, &received.payload);
        }
        (FrameSpec::Preface(p), frame) => settings(&mut d, &p.settings, frame),
        (FrameSpec::Settings(s), frame) => settings(&mut d, s, frame),
        (FrameSpec::Data(e), Frame::Data(a)) => {
            d.eq("stream", e.stream_id, sid);
            d.bytes("payload", &e.payload, &a.data);
            d.flag("END_STREAM", e.end_stream, a.end_stream);
            if e.padding.is_some() || e.exact {
                d.eq("padding", e.padding, a.pad_len);
            }
        }
        (FrameSpec::Headers(e), Frame::Headers(a)) => {
            d.eq("stream", e.stream_id, sid);
            d.flag("END_STREAM", e.end_stream, a.end_stream);
            if (e.priority.is_some() || e.block.exact) && e.priority != a.priority {
                let show = |p: Option<_>| p.as_ref().map_or("none".to_owned(), priority);
                d.note(format!(
                    "priority: expected {}, got {}",
                    show(e.priority),
                    show(a.priority)
                ));
            }
            block(&mut d, &e.block, a.pad_len, received);
        }
        (FrameSpec::PushPromise(e), Frame::PushPromise(a)) => {
            d.eq("stream", e.stream_id, sid);
            d.eq("promised stream", e.promised_id, a.promised_id.get());
            block(&mut d, &e.block, a.pad_len, received);
        }
        (FrameSpec::Priority(e), Frame::Priority(a)) => {
            d.eq("stream", e.stream_id, sid);
            if e.spec != a.spec {
                d.note(format!(
                    "priority: expected {}, got {}",
                    priority(&e.spec),
                    priority(&a.spec)
                ));
            }
        }
        (FrameSpec::RstStream(e), Frame::RstStream(a)) => {
            d.eq("stream", e.stream_id, sid);
            d.eq("error code", e.error_code, a.error_code);
        }
        (FrameSpec::Ping(e), Frame::Ping(a)) => {
            d.flag("ACK", e.ack, a.ack);
            d.bytes("payload", &e.payload, &a.payload);
        }
        (FrameSpec::GoAway(e), Frame::GoAway(a)) => {
            if let Some(last) = e.last_stream_id {
                d.eq("last stream id", last, a.last_stream_id.get());
            }
            d.eq("error code", e.error_code, a.error_code);
            if let Some(debug) = &e.debug {
                d.bytes("debug data", debug, &a.debug_data);
            }
        }
        (FrameSpec::WindowUpdate(e), Frame::WindowUpdate(a)) => {
            d.eq("stream", e.stream_id, sid);
            d.eq("increment", e.increment, a.increment);
        }
        (FrameSpec::AltSvc(e), Frame::AltSvc(a)) => {
            d.eq("stream", e.stream_id, sid);
            d.bytes("origin", &e.origin, &a.origin);
            d.bytes("field value", &e.field_value, &a.field_value);
        }
        (FrameSpec::Origin(e), Frame::Origin(a)) => {
            if e.origins != a.origins {
                let show =
                    |l: &[bytes::Bytes]| l.iter().map(|b| bytes(b)).collect::<Vec<_>>().join(", ");
                d.note(format!(
                    "origins: expected [{}], got [{}]",
                    show(&e.origins),
                    show(&a.origins)
                ));
            }
        }
        (FrameSpec::PriorityUpdate(e), Frame::PriorityUpdate(a)) => {
            d.eq(
                "prioritized stream",
                e.prioritized_stream_id,
                a.prioritized_stream_id.get(),
            );
            d.bytes("field value", &e.field_value, &a.field_value);
        }
        (_, Frame::Unknown(_)) => d.note(format!(
            "the {actual_type} frame is in a shape its RFC says to ignore, so it was not decoded"
        )),
        (_, other) => d.note(format!(
            "decoded as {:?}, not as {}",
            other.frame_type(),
            spec.frame_type()
        )),
    }
    d.0
}

fn settings(d: &mut Diff, e: &SettingsBuilder, frame: &Frame) {
    match frame {
        Frame::SettingsAck => {
            if !e.ack {
                d.note("ACK: expected SETTINGS with parameters, got a SETTINGS ACK".to_owned());
            } else if !e.params.is_empty() {
                d.note(format!(
                    "parameters: expected {}, got none (ACK)",
                    settings_list(&e.params)
                ));
            }
        }
        Frame::Settings(a) => {
            if e.ack {
                d.note(format!(
                    "ACK: expected a SETTINGS ACK, got SETTINGS {}",
                    settings_list(a.as_slice())
                ));
            } else if e.exact {
                if e.params.as_slice() != a.as_slice() {
                    d.note(format!(
                        "parameters: expected exactly {}, got {}",
                        settings_list(&e.params),
                        settings_list(a.as_slice())
                    ));
                }
            } else {
                for (id, value) in &e.params {
                    match a.get(*id) {
                        Some(v) if v == *value => {}
                        Some(v) => d.note(format!("{id:?}: expected {value}, got {v}")),
                        None => d.note(format!(
                            "{id:?}: expected {value}, not present in {}",
                            settings_list(a.as_slice())
                        )),
                    }
                }
            }
        }
        other => d.note(format!("decoded as {:?}", other.frame_type())),
    }
}

/// Compares the header list and field-block framing of a HEADERS or PUSH_PROMISE.
fn block(d: &mut Diff, e: &BlockSpec, pad_len: Option<u8>, received: &ReceivedFrame) {
    if e.padding.is_some() || e.exact {
        d.eq("padding", e.padding, pad_len);
    }
    if !e.end_headers && received.continuations == 0 {
        d.note(
            "framing: expected the field block to continue in CONTINUATION frames, \
             it came in one frame"
                .to_owned(),
        );
    }
    if let Some(raw) = &e.raw {
        let actual = received.block.as_deref().unwrap_or_default();
        if !actual.starts_with(raw) {
            d.note(format!(
                "field block: expected it to start with {}, got {}",
                bytes(raw),
                bytes(actual)
            ));
        }
    }
    let actual = received.header_list();
    if e.exact {
        let differs = e.fields.len() != actual.len()
            || e.fields
                .iter()
                .zip(actual)
                .any(|(x, a)| !field_matches(x, a));
        if differs {
            let first = e
                .fields
                .iter()
                .zip(actual)
                .position(|(x, a)| !field_matches(x, a))
                .unwrap_or(e.fields.len().min(actual.len()));
            d.note(format!(
                "fields: expected exactly {}, got {} (first difference at field {first})",
                fields(&e.fields),
                fields(actual)
            ));
        }
        return;
    }
    // Each listed field must appear after the previous one's match.
    let mut from = 0;
    for (i, want) in e.fields.iter().enumerate() {
        match actual
            .get(from..)
            .unwrap_or_default()
            .iter()
            .position(|a| field_matches(want, a))
        {
            Some(p) => from += p + 1,
            None => {
                let hint = match actual.iter().position(|a| field_matches(want, a)) {
                    Some(_) => " (it is there, but out of order)".to_owned(),
                    None => match actual.iter().find(|a| a.name == want.name) {
                        Some(a) => format!(" (received {:?})", field(a)),
                        None => String::new(),
                    },
                };
                d.note(format!(
                    "fields: listed field {i} {:?} not found{hint}; received {}",
                    field(want),
                    fields(actual)
                ));
                return;
            }
        }
    }
}

/// Same name and value; a never-indexed expectation also needs a never-indexed field.
fn field_matches(expected: &HeaderField, actual: &HeaderField) -> bool {
    expected.name == actual.name
        && expected.value == actual.value
        && (expected.repr != Representation::NeverIndexed
            || actual.repr == Representation::NeverIndexed)
}
