//! The one frame formatter of the CLI, shared by `get -v` and `demo --trace`: a frame's
//! details after its type and stream (flags, lengths, settings, codes), and its decoded header
//! fields, like `nghttp -v` prints them.

use std::fmt::Write as _;

use h2kit_client::trace::{Frame, HeaderField};

/// Appends `flags=A|B` (or `flags=-`) for the flags that are set.
fn flags(out: &mut String, set: &[(bool, &str)]) {
    out.push_str("flags=");
    let mut any = false;
    for (_, name) in set.iter().filter(|(on, _)| *on) {
        if any {
            out.push('|');
        }
        out.push_str(name);
        any = true;
    }
    if !any {
        out.push('-');
    }
}

/// Appends what a frame carries beyond its type and stream id.
pub(crate) fn describe(frame: &Frame, out: &mut String) {
    match frame {
        Frame::Data(d) => {
            let _ = write!(out, "length={} ", d.data.len());
            let set = [
                (d.end_stream, "END_STREAM"),
                (d.pad_len.is_some(), "PADDED"),
            ];
            flags(out, &set);
        }
        Frame::Headers(h) => flags(
            out,
            &[
                (h.end_stream, "END_STREAM"),
                (h.end_headers, "END_HEADERS"),
                (h.pad_len.is_some(), "PADDED"),
                (h.priority.is_some(), "PRIORITY"),
            ],
        ),
        Frame::Priority(p) => {
            let _ = write!(
                out,
                "depends_on={} weight={} exclusive={}",
                p.spec.dependency,
                u16::from(p.spec.weight) + 1,
                p.spec.exclusive
            );
        }
        Frame::RstStream(r) => {
            let _ = write!(out, "error_code={}", r.error_code);
        }
        Frame::Settings(s) => {
            out.push_str("flags=-");
            for (id, value) in s {
                let _ = write!(out, " {}={value}", id.name().unwrap_or("UNKNOWN"));
            }
        }
        Frame::SettingsAck => out.push_str("flags=ACK"),
        Frame::PushPromise(p) => {
            let _ = write!(out, "promised_stream={} ", p.promised_id);
            let set = [
                (p.end_headers, "END_HEADERS"),
                (p.pad_len.is_some(), "PADDED"),
            ];
            flags(out, &set);
        }
        Frame::Ping(p) => {
            flags(out, &[(p.ack, "ACK")]);
            let _ = write!(out, " payload={:016x}", u64::from_be_bytes(p.payload));
        }
        Frame::GoAway(g) => {
            let _ = write!(
                out,
                "last_stream={} error_code={} debug={:?}",
                g.last_stream_id,
                g.error_code,
                String::from_utf8_lossy(&g.debug_data)
            );
        }
        Frame::WindowUpdate(w) => {
            let _ = write!(out, "increment={}", w.increment);
        }
        Frame::Continuation(c) => flags(out, &[(c.end_headers, "END_HEADERS")]),
        Frame::AltSvc(a) => {
            let _ = write!(
                out,
                "origin={:?} value={:?}",
                String::from_utf8_lossy(&a.origin),
                String::from_utf8_lossy(&a.field_value)
            );
        }
        Frame::Origin(o) => {
            let _ = write!(out, "origins={}", o.origins.len());
        }
        Frame::PriorityUpdate(p) => {
            let _ = write!(
                out,
                "prioritized_stream={} value={:?}",
                p.prioritized_stream_id,
                String::from_utf8_lossy(&p.field_value)
            );
        }
        Frame::Unknown(u) => {
            let _ = write!(out, "flags=0x{:02x} length={}", u.flags.0, u.payload.len());
        }
    }
}

/// Appends one line per header field, each starting with a newline and `indent`.
pub(crate) fn fields(fields: &[HeaderField], indent: &str, out: &mut String) {
    for f in fields {
        let _ = write!(
            out,
            "\n{indent}{}: {}",
            String::from_utf8_lossy(&f.name),
            String::from_utf8_lossy(&f.value)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use h2kit_client::trace::Frame;

    fn described(frame: &Frame) -> String {
        let mut s = String::new();
        describe(frame, &mut s);
        s
    }

    #[test]
    fn frames_are_described_with_their_flags_and_values() {
        let mut buf = bytes::BytesMut::new();
        h2kit_frame::encode_data(h2kit_frame::StreamId::new(1), b"abc", true, None, &mut buf)
            .unwrap();
        h2kit_frame::encode_ping(true, [0, 0, 0, 0, 0, 0, 0, 7], &mut buf);
        h2kit_frame::encode_window_update(h2kit_frame::StreamId::ZERO, 99, &mut buf).unwrap();
        let mut dec = h2kit_frame::FrameDecoder::new();
        let data = dec.decode(&mut buf).unwrap().unwrap();
        let ping = dec.decode(&mut buf).unwrap().unwrap();
        let wu = dec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(described(&data), "length=3 flags=END_STREAM");
        assert_eq!(described(&ping), "flags=ACK payload=0000000000000007");
        assert_eq!(described(&wu), "increment=99");
        assert_eq!(described(&Frame::SettingsAck), "flags=ACK");
    }

    #[test]
    fn fields_are_one_indented_line_each() {
        let list = [
            HeaderField::new(Bytes::from_static(b":status"), Bytes::from_static(b"200")),
            HeaderField::new(Bytes::from_static(b"server"), Bytes::from_static(b"h2kit")),
        ];
        let mut s = String::from("HEADERS");
        fields(&list, "  ", &mut s);
        assert_eq!(s, "HEADERS\n  :status: 200\n  server: h2kit");
    }
}
