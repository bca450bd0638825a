//! h2c: HTTP/2 over cleartext TCP reached by an HTTP/1.1 `Upgrade` (RFC 7540 §3.2), with
//! the base64url coding of the `HTTP2-Settings` header.

use std::sync::Arc;

use h2kit_frame::{SettingId, Settings, StreamId};
use h2kit_priority::PrioritySignal;

use super::Connection;
use super::stream::Phase;
use crate::config::Config;
use crate::config::SettingsValues;
use crate::error::{ConnectionError, ProtocolViolation};
use crate::event::Event;
use crate::headers::{Field, MessageKind};
use crate::state::Input;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding (RFC 4648 §5), as the HTTP2-Settings header uses.
fn base64url_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            let index = ((n >> (18 - 6 * i)) & 63) as usize;
            out.push(char::from(B64[index]));
        }
    }
    out
}

fn base64url_decode(text: &[u8]) -> Option<Vec<u8>> {
    let text = text.trim_ascii();
    let text = text
        .strip_suffix(b"==")
        .or(text.strip_suffix(b"="))
        .unwrap_or(text);
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for &c in text {
        let v = B64.iter().position(|&b| b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

impl Connection {
    /// (Client) A connection upgraded from HTTP/1.1 (RFC 7540 §3.2): the request already went
    /// out as HTTP/1.1 with `Upgrade: h2c` and the [`h2c_settings`](Self::h2c_settings)
    /// header, so stream 1 starts half-closed (local) and its response arrives as
    /// [`Event::Response`]. Call after the server answered 101; the preface and SETTINGS are
    /// sent as usual. `head` says the upgraded request was HEAD.
    pub fn client_h2c(config: impl Into<Arc<Config>>, head: bool) -> Self {
        let mut conn = Connection::client(config);
        let mut s = conn.new_stream(true);
        s.head = head;
        s.send_phase = Phase::Done;
        // Idle + our (HTTP/1.1) request with its end: cannot fail.
        let _ = conn
            .streams
            .open(StreamId::new(1), s, Input::SendHeaders { end_stream: true });
        conn
    }

    /// The value of the `HTTP2-Settings` header for an h2c upgrade request: our SETTINGS,
    /// base64url-encoded (RFC 7540 §3.2.1).
    pub fn h2c_settings(&self) -> String {
        let settings =
            self.settings_frame(&SettingsValues::RFC_DEFAULTS, &self.config.settings, true);
        let mut payload = Vec::with_capacity(settings.len() * 6);
        for (id, value) in &settings {
            payload.extend_from_slice(&id.0.to_be_bytes());
            payload.extend_from_slice(&value.to_be_bytes());
        }
        base64url_encode(&payload)
    }

    /// (Server) A connection upgraded from HTTP/1.1: `http2_settings` is the request's
    /// `HTTP2-Settings` header value (applied as the client's SETTINGS; the 101 response
    /// acknowledges them) and `request` its fields (pseudo-headers first). The request is
    /// reported as [`Event::Request`] on stream 1, half-closed (remote); answer it with
    /// [`send_response`](Self::send_response) once the client preface arrived (the driver
    /// keeps calling [`recv`](Self::recv) as usual).
    pub fn server_h2c(
        config: impl Into<Arc<Config>>,
        http2_settings: &[u8],
        request: Vec<Field>,
    ) -> Result<Self, ConnectionError> {
        let invalid = || ConnectionError::Violation(ProtocolViolation::InvalidUpgrade);
        let payload = base64url_decode(http2_settings).ok_or_else(invalid)?;
        if payload.len() % 6 != 0 {
            return Err(invalid());
        }
        let mut settings = Settings::new();
        for entry in payload.chunks_exact(6) {
            let id = SettingId(u16::from_be_bytes([entry[0], entry[1]]));
            let value = u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]);
            h2kit_frame::check_setting(id, value)
                .map_err(|e| ConnectionError::Violation(ProtocolViolation::Frame(e)))?;
            settings.push(id, value);
        }
        let mut conn = Connection::server(config);
        let info = conn
            .validate_recv(MessageKind::Request, &request)
            .map_err(|_| invalid())?;
        let changes = conn.apply_remote_settings(&settings)?;
        conn.events.push_back(Event::RemoteSettings { changes });
        let id = StreamId::new(1);
        let mut s = conn.new_stream(false);
        s.recv_phase = Phase::Done;
        s.content_length = info.content_length;
        conn.streams.note_remote_id(id);
        // Idle + the peer's (HTTP/1.1) request with its end: cannot fail.
        let _ = conn
            .streams
            .open(id, s, Input::RecvHeaders { end_stream: true });
        conn.pending_accept += 1;
        conn.events.push_back(Event::Request {
            stream: id,
            headers: request.into(),
            end_stream: true,
            priority: PrioritySignal::NONE,
        });
        Ok(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips() {
        for len in 0..20 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 5) as u8).collect();
            let text = base64url_encode(&data);
            assert!(!text.contains('='));
            assert_eq!(base64url_decode(text.as_bytes()), Some(data));
        }
        assert_eq!(base64url_encode(b"\x00\x03\x00\x00\x00\x64"), "AAMAAABk");
        assert_eq!(
            base64url_decode(b"AAMAAABk=="),
            Some(b"\x00\x03\x00\x00\x00\x64".to_vec())
        );
        assert_eq!(base64url_decode(b"AA+A"), None);
    }
}
