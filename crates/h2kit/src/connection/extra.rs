//! Less common commands: h2c upgrade, priority signals, ALTSVC and ORIGIN. (The `http`
//! crate helpers are in [`crate::http`].)

use bytes::Bytes;
use h2kit_frame::{PrioritySpec, SettingId, Settings, StreamId};
use h2kit_priority::{ExtensiblePriority, PrioritySignal};

use super::stream::Phase;
use super::{Connection, Control, Ordered, RFC_DEFAULTS, Role};
use crate::config::Config;
use crate::error::{ConnectionError, ProtocolViolation, UsageError};
use crate::event::Event;
use crate::headers::{self, Field, HeaderError, MessageKind};
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
    // ------------------------------------------------------------ h2c upgrade

    /// (Client) A connection upgraded from HTTP/1.1 (RFC 7540 §3.2): the request already went
    /// out as HTTP/1.1 with `Upgrade: h2c` and the [`h2c_settings`](Self::h2c_settings)
    /// header, so stream 1 starts half-closed (local) and its response arrives as
    /// [`Event::Response`]. Call after the server answered 101; the preface and SETTINGS are
    /// sent as usual. `head` says the upgraded request was HEAD.
    pub fn client_h2c(config: Config, head: bool) -> Self {
        let mut conn = Connection::client(config);
        let id = StreamId::new(1);
        let mut s = conn.new_stream(true);
        s.head = head;
        s.send_phase = Phase::Done;
        conn.streams.insert(1, s);
        // Idle + our (HTTP/1.1) request with its end: cannot fail.
        let _ = conn.apply(id, Input::SendHeaders { end_stream: true });
        conn.next_local = 3;
        conn
    }

    /// The value of the `HTTP2-Settings` header for an h2c upgrade request: our SETTINGS,
    /// base64url-encoded (RFC 7540 §3.2.1).
    pub fn h2c_settings(&self) -> String {
        let settings = self.settings_frame(&RFC_DEFAULTS, &self.config.settings, true);
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
        config: Config,
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
            .validate_recv_fields(MessageKind::Request, &request)
            .map_err(|_| invalid())?;
        let changes = conn.apply_remote_settings(&settings)?;
        conn.events.push_back(Event::RemoteSettings { changes });
        let id = StreamId::new(1);
        let mut s = conn.new_stream(false);
        s.recv_phase = Phase::Done;
        s.content_length = info.content_length;
        conn.streams.insert(1, s);
        let _ = conn.apply(id, Input::RecvHeaders { end_stream: true });
        conn.max_remote = 1;
        conn.last_processed = 1;
        conn.pending_accept += 1;
        conn.events.push_back(Event::Request {
            stream: id,
            headers: request,
            end_stream: true,
            priority: PrioritySignal::NONE,
        });
        Ok(conn)
    }

    // ------------------------------------------------------------ priority signals

    /// (Client) Changes the RFC 9218 priority of stream `id` with a PRIORITY_UPDATE frame.
    pub fn prioritize(
        &mut self,
        id: StreamId,
        priority: ExtensiblePriority,
    ) -> Result<(), UsageError> {
        if self.role != Role::Client {
            return Err(UsageError::WrongRole);
        }
        if self.error.is_some() {
            return Err(UsageError::ConnectionClosed);
        }
        let value = Bytes::from(priority.to_field_value());
        self.ordered
            .push_back(Ordered::PriorityUpdate { stream: id, value });
        // The new priority also orders what we send on the stream.
        if let Some(s) = self.streams.get_mut(&id.get()) {
            s.priority.extensible = Some(priority);
            if s.scheduled {
                let _ = self.scheduler.update(id.get(), s.priority);
            }
        }
        Ok(())
    }

    /// Sends an RFC 7540 PRIORITY frame for stream `id` (deprecated by RFC 9113, still
    /// understood by some servers).
    pub fn send_priority(&mut self, id: StreamId, spec: PrioritySpec) -> Result<(), UsageError> {
        if self.error.is_some() {
            return Err(UsageError::ConnectionClosed);
        }
        if id.is_zero() || spec.dependency == id {
            return Err(UsageError::FrameInWrongState);
        }
        self.ordered
            .push_back(Ordered::Priority { stream: id, spec });
        Ok(())
    }

    // ------------------------------------------------------------ ALTSVC and ORIGIN

    /// (Server) Sends an ALTSVC frame (RFC 7838 §4): on stream 0 with an `origin`, or on a
    /// stream with an empty one.
    pub fn send_altsvc(
        &mut self,
        stream: StreamId,
        origin: Bytes,
        value: Bytes,
    ) -> Result<(), UsageError> {
        if self.role != Role::Server {
            return Err(UsageError::WrongRole);
        }
        if self.error.is_some() {
            return Err(UsageError::ConnectionClosed);
        }
        if stream.is_zero() == origin.is_empty() || origin.len() > usize::from(u16::MAX) {
            return Err(UsageError::FrameInWrongState);
        }
        self.control.push_back(Control::AltSvc {
            stream,
            origin,
            value,
        });
        Ok(())
    }

    /// (Server) Sends an ORIGIN frame (RFC 8336) listing the origins this connection serves.
    pub fn send_origin(&mut self, origins: Vec<Bytes>) -> Result<(), UsageError> {
        if self.role != Role::Server {
            return Err(UsageError::WrongRole);
        }
        if self.error.is_some() {
            return Err(UsageError::ConnectionClosed);
        }
        if origins.iter().any(|o| o.len() > usize::from(u16::MAX)) {
            return Err(UsageError::FrameInWrongState);
        }
        self.control.push_back(Control::Origin(origins));
        Ok(())
    }

    fn validate_recv_fields(
        &self,
        kind: MessageKind,
        fields: &[Field],
    ) -> Result<headers::MessageInfo, HeaderError> {
        headers::validate_fields(
            kind,
            fields,
            &self.config.validate_recv,
            self.local.enable_connect_protocol,
        )
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
