//! One-line descriptions of specs and received frames, for assertion messages.

use std::fmt::{self, Write as _};

use h2kit_frame::{Flags, Frame, FrameType, PrioritySpec, SettingId};
use h2kit_hpack::{HeaderField, Representation};

use crate::frames::{BlockSpec, FrameSpec, SettingsBuilder};
use crate::received::ReceivedFrame;

/// Payloads longer than this are shown cut, with their length.
const SHOWN: usize = 64;

/// `b"..."` with non-ASCII escaped, cut after [`SHOWN`] octets.
pub(crate) fn bytes(b: &[u8]) -> String {
    let shown = b.get(..SHOWN).unwrap_or(b);
    let mut s = format!("b\"{}\"", shown.escape_ascii());
    if b.len() > SHOWN {
        let _ = write!(s, "... ({} octets)", b.len());
    }
    s
}

/// Octets as text with non-ASCII escaped, cut after [`SHOWN`] octets.
fn text(b: &[u8]) -> String {
    let shown = b.get(..SHOWN).unwrap_or(b);
    let mut s = shown.escape_ascii().to_string();
    if b.len() > SHOWN {
        let _ = write!(s, "... ({} octets)", b.len());
    }
    s
}

/// `name: value`, marked when never-indexed; long names and values are cut.
pub(crate) fn field(f: &HeaderField) -> String {
    let mut s = format!("{}: {}", text(&f.name), text(&f.value));
    if f.repr == Representation::NeverIndexed {
        s.push_str(" (never-indexed)");
    }
    s
}

/// `["name: value", ...]`.
pub(crate) fn fields(list: &[HeaderField]) -> String {
    let items: Vec<String> = list.iter().map(|f| format!("{:?}", field(f))).collect();
    format!("[{}]", items.join(", "))
}

pub(crate) fn settings_list(params: &[(SettingId, u32)]) -> String {
    let items: Vec<String> = params.iter().map(|(id, v)| format!("{id:?}={v}")).collect();
    format!("[{}]", items.join(", "))
}

pub(crate) fn priority(p: &PrioritySpec) -> String {
    format!(
        "(depends on {}, weight {}{})",
        p.dependency,
        u16::from(p.weight) + 1,
        if p.exclusive { ", exclusive" } else { "" }
    )
}

/// The names of the flags a frame type defines, then any other bits.
pub(crate) fn flags(frame_type: FrameType, flags: Flags) -> String {
    let defined: &[(Flags, &str)] = match frame_type {
        FrameType::DATA => &[(Flags::END_STREAM, "END_STREAM"), (Flags::PADDED, "PADDED")],
        FrameType::HEADERS => &[
            (Flags::END_STREAM, "END_STREAM"),
            (Flags::END_HEADERS, "END_HEADERS"),
            (Flags::PADDED, "PADDED"),
            (Flags::PRIORITY, "PRIORITY"),
        ],
        FrameType::PUSH_PROMISE => &[
            (Flags::END_HEADERS, "END_HEADERS"),
            (Flags::PADDED, "PADDED"),
        ],
        FrameType::CONTINUATION => &[(Flags::END_HEADERS, "END_HEADERS")],
        FrameType::SETTINGS | FrameType::PING => &[(Flags::ACK, "ACK")],
        _ => &[],
    };
    let mut names: Vec<String> = Vec::new();
    let mut rest = flags.0;
    for (flag, name) in defined {
        if flags.contains(*flag) {
            names.push((*name).to_owned());
            rest &= !flag.0;
        }
    }
    if rest != 0 {
        names.push(format!("{rest:#04x}"));
    }
    if names.is_empty() {
        "-".to_owned()
    } else {
        names.join("|")
    }
}

fn block_spec(b: &BlockSpec, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if let Some(p) = b.padding {
        write!(f, " padded={p}")?;
    }
    if !b.end_headers {
        f.write_str(" without END_HEADERS")?;
    }
    if let Some(raw) = &b.raw {
        write!(f, " block starting {}", bytes(raw))?;
    }
    if b.exact {
        write!(f, " fields exactly {}", fields(&b.fields))
    } else {
        write!(
            f,
            " fields (in this order, others allowed) {}",
            fields(&b.fields)
        )
    }
}

fn settings_spec(s: &SettingsBuilder, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if s.ack {
        f.write_str("SETTINGS ACK")?;
        if !s.params.is_empty() {
            write!(f, " with parameters {}", settings_list(&s.params))?;
        }
        Ok(())
    } else if s.exact {
        write!(f, "SETTINGS exactly {}", settings_list(&s.params))
    } else if s.params.is_empty() {
        f.write_str("SETTINGS (any parameters)")
    } else {
        write!(f, "SETTINGS including {}", settings_list(&s.params))
    }
}

/// Describes what a spec sends or expects.
pub(crate) fn spec(spec: &FrameSpec, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match spec {
        FrameSpec::Preface(p) => {
            f.write_str("connection preface: ")?;
            settings_spec(&p.settings, f)
        }
        FrameSpec::Settings(s) => settings_spec(s, f),
        FrameSpec::Data(d) => {
            write!(
                f,
                "DATA stream={} payload={}",
                d.stream_id,
                bytes(&d.payload)
            )?;
            if d.end_stream {
                f.write_str(" END_STREAM")?;
            }
            match d.padding {
                Some(p) => write!(f, " padded={p}"),
                None if d.exact => f.write_str(" unpadded"),
                None => Ok(()),
            }
        }
        FrameSpec::Headers(h) => {
            write!(f, "HEADERS stream={}", h.stream_id)?;
            if h.end_stream {
                f.write_str(" END_STREAM")?;
            }
            if let Some(p) = &h.priority {
                write!(f, " priority={}", priority(p))?;
            }
            block_spec(&h.block, f)
        }
        FrameSpec::PushPromise(p) => {
            write!(
                f,
                "PUSH_PROMISE stream={} promised={}",
                p.stream_id, p.promised_id
            )?;
            block_spec(&p.block, f)
        }
        FrameSpec::Continuation(c) => {
            write!(
                f,
                "CONTINUATION stream={} fragment={}",
                c.stream_id,
                bytes(&c.fragment)
            )?;
            if !c.fields.is_empty() {
                write!(f, " then fields {}", fields(&c.fields))?;
            }
            if !c.end_headers {
                f.write_str(" without END_HEADERS")?;
            }
            Ok(())
        }
        FrameSpec::Priority(p) => {
            write!(f, "PRIORITY stream={} {}", p.stream_id, priority(&p.spec))
        }
        FrameSpec::RstStream(r) => {
            write!(f, "RST_STREAM stream={} code={}", r.stream_id, r.error_code)
        }
        FrameSpec::Ping(p) => write!(
            f,
            "PING{} payload={}",
            if p.ack { " ACK" } else { "" },
            bytes(&p.payload)
        ),
        FrameSpec::GoAway(g) => {
            f.write_str("GOAWAY last_stream_id=")?;
            match g.last_stream_id {
                Some(id) => write!(f, "{id}")?,
                None => f.write_str("(any)")?,
            }
            write!(f, " code={}", g.error_code)?;
            if let Some(d) = &g.debug {
                write!(f, " debug={}", bytes(d))?;
            }
            Ok(())
        }
        FrameSpec::WindowUpdate(w) => write!(
            f,
            "WINDOW_UPDATE stream={} increment={}",
            w.stream_id, w.increment
        ),
        FrameSpec::AltSvc(a) => write!(
            f,
            "ALTSVC stream={} origin={} value={}",
            a.stream_id,
            bytes(&a.origin),
            bytes(&a.field_value)
        ),
        FrameSpec::Origin(o) => {
            let list: Vec<String> = o.origins.iter().map(|b| bytes(b)).collect();
            write!(f, "ORIGIN [{}]", list.join(", "))
        }
        FrameSpec::PriorityUpdate(p) => write!(
            f,
            "PRIORITY_UPDATE stream={} value={}",
            p.prioritized_stream_id,
            bytes(&p.field_value)
        ),
        FrameSpec::Raw(r) => {
            write!(
                f,
                "raw {} flags={} stream={} payload={}",
                r.frame_type,
                flags(r.frame_type, r.flags),
                r.stream_id,
                bytes(&r.payload)
            )?;
            if let Some(len) = r.length {
                write!(f, " length field={len}")?;
            }
            Ok(())
        }
        FrameSpec::Any(t) => write!(f, "any {t} frame"),
    }
}

/// Describes a received frame.
pub(crate) fn received(r: &ReceivedFrame, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let h = &r.header;
    write!(f, "#{} ", r.index)?;
    match &r.frame {
        Frame::Data(d) => {
            write!(
                f,
                "DATA stream={} flags={}",
                d.stream_id,
                flags(h.frame_type, h.flags)
            )?;
            if let Some(p) = d.pad_len {
                write!(f, " pad_len={p}")?;
            }
            write!(f, " payload={}", bytes(&d.data))
        }
        Frame::Headers(hd) => {
            write!(
                f,
                "HEADERS stream={} flags={}",
                hd.stream_id,
                flags(h.frame_type, h.flags)
            )?;
            if let Some(p) = &hd.priority {
                write!(f, " priority={}", priority(p))?;
            }
            if let Some(p) = hd.pad_len {
                write!(f, " pad_len={p}")?;
            }
            received_block(r, f)
        }
        Frame::PushPromise(p) => {
            write!(
                f,
                "PUSH_PROMISE stream={} promised={} flags={}",
                p.stream_id,
                p.promised_id,
                flags(h.frame_type, h.flags)
            )?;
            if let Some(pad) = p.pad_len {
                write!(f, " pad_len={pad}")?;
            }
            received_block(r, f)
        }
        Frame::Priority(p) => write!(f, "PRIORITY stream={} {}", p.stream_id, priority(&p.spec)),
        Frame::RstStream(rs) => {
            write!(
                f,
                "RST_STREAM stream={} code={}",
                rs.stream_id, rs.error_code
            )
        }
        Frame::Settings(s) => write!(f, "SETTINGS {}", settings_list(s.as_slice())),
        Frame::SettingsAck => f.write_str("SETTINGS ACK"),
        Frame::Ping(p) => write!(
            f,
            "PING{} payload={}",
            if p.ack { " ACK" } else { "" },
            bytes(&p.payload)
        ),
        Frame::GoAway(g) => {
            write!(
                f,
                "GOAWAY last_stream_id={} code={}",
                g.last_stream_id, g.error_code
            )?;
            if !g.debug_data.is_empty() {
                write!(f, " debug={}", bytes(&g.debug_data))?;
            }
            Ok(())
        }
        Frame::WindowUpdate(w) => write!(
            f,
            "WINDOW_UPDATE stream={} increment={}",
            w.stream_id, w.increment
        ),
        Frame::Continuation(c) => write!(
            f,
            "CONTINUATION stream={} fragment={}",
            c.stream_id,
            bytes(&c.fragment)
        ),
        Frame::AltSvc(a) => write!(
            f,
            "ALTSVC stream={} origin={} value={}",
            a.stream_id,
            bytes(&a.origin),
            bytes(&a.field_value)
        ),
        Frame::Origin(o) => {
            let list: Vec<String> = o.origins.iter().map(|b| bytes(b)).collect();
            write!(f, "ORIGIN [{}]", list.join(", "))
        }
        Frame::PriorityUpdate(p) => write!(
            f,
            "PRIORITY_UPDATE stream={} value={}",
            p.prioritized_stream_id,
            bytes(&p.field_value)
        ),
        Frame::Unknown(u) => write!(
            f,
            "{} (not decoded) flags={} stream={} payload={}",
            u.frame_type,
            flags(u.frame_type, u.flags),
            u.stream_id,
            bytes(&u.payload)
        ),
    }
}

fn received_block(r: &ReceivedFrame, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if r.continuations > 0 {
        write!(f, " (+{} CONTINUATION)", r.continuations)?;
    }
    write!(f, " fields {}", fields(r.header_list()))
}
