//! The stream state machine of RFC 9113 §5.1.
//!
//! [`StreamState::on`] is the only way a stream changes state. It is one exhaustive `match` on
//! `(state, input)` with no catch-all arm, so adding an [`Input`] forces a decision in every
//! state.

use crate::error::{PeerError, ProtocolViolation, UsageError};

/// Why a stream reached [`StreamState::Closed`]. It decides how late frames are treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseCause {
    /// Both sides sent END_STREAM.
    EndStream,
    /// We sent RST_STREAM: frames the peer sent before seeing it are ignored (§5.1).
    ResetSent,
    /// The peer sent RST_STREAM.
    ResetReceived,
}

/// The state of one stream (RFC 9113 §5.1).
///
/// ```text
///                              +--------+
///                      send PP |        | recv PP
///                     ,--------+  idle  +--------.
///                    /         |        |         \
///                   v          +--------+          v
///            +----------+          |           +----------+
///            |          |          | send H /  |          |
///     ,------+ reserved |          | recv H    | reserved +------.
///     |      | (local)  |          |           | (remote) |      |
///     |      +---+------+          v           +------+---+      |
///     |          |             +--------+             |          |
///     |          |     recv ES |        | send ES     |          |
///     |   send H |     ,-------+  open  +-------.     | recv H   |
///     |          |    /        |        |        \    |          |
///     |          v   v         +---+----+         v   v          |
///     |      +----------+          |           +----------+      |
///     |      |   half-  |          |           |   half-  |      |
///     |      |  closed  |          | send R /  |  closed  |      |
///     |      | (remote) |          | recv R    | (local)  |      |
///     |      +----+-----+          |           +-----+----+      |
///     |           |                |                 |           |
///     |           | send ES /      |       recv ES / |           |
///     |           | send R /       v        send R / |           |
///     |           | recv R     +--------+   recv R   |           |
///     | send R /  `----------->|        |<-----------'  send R / |
///     | recv R                 | closed |               recv R   |
///     `----------------------->|        |<-----------------------'
///                              +--------+
///
///    send:   endpoint sends this frame
///    recv:   endpoint receives this frame
///    H:  HEADERS frame (with implied CONTINUATION frames)
///    PP: PUSH_PROMISE frame (with implied CONTINUATION frames)
///    ES: END_STREAM flag
///    R:  RST_STREAM frame
/// ```
///
/// CONTINUATION frames are not inputs of their own: they are part of the HEADERS or
/// PUSH_PROMISE they follow, and the connection feeds the whole field block as one
/// [`Input::RecvHeaders`] / [`Input::RecvPushPromise`] once END_HEADERS arrives. A HEADERS
/// frame with END_STREAM makes two transitions (open, then half-closed) in one input, as the
/// RFC's note on the diagram says. PUSH_PROMISE appears twice: once on the associated stream
/// ([`Input::SendPushPromise`] / [`Input::RecvPushPromise`], which must be open) and once on the
/// promised stream ([`Input::SendReserve`] / [`Input::RecvReserve`], idle → reserved).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum StreamState {
    /// No frame has been sent or received yet.
    #[default]
    Idle,
    /// We promised this stream with PUSH_PROMISE and will send the response.
    ReservedLocal,
    /// The peer promised this stream; it will send the response.
    ReservedRemote,
    /// Both sides may send.
    Open,
    /// We sent END_STREAM; the peer may still send.
    HalfClosedLocal,
    /// The peer sent END_STREAM; we may still send.
    HalfClosedRemote,
    /// Terminal.
    Closed(CloseCause),
}

/// What happened to a stream: a frame sent by us or received from the peer.
///
/// Inputs are named after what happened (`Send…` for frames we send, `Recv…` for frames
/// that arrived).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Input {
    /// We send a complete field block (HEADERS + CONTINUATION).
    SendHeaders {
        /// The HEADERS frame carries END_STREAM.
        end_stream: bool,
    },
    /// A complete field block (HEADERS + CONTINUATION) arrived.
    RecvHeaders {
        /// The HEADERS frame carried END_STREAM.
        end_stream: bool,
    },
    /// We send DATA.
    SendData {
        /// The frame carries END_STREAM.
        end_stream: bool,
    },
    /// DATA arrived.
    RecvData {
        /// The frame carried END_STREAM.
        end_stream: bool,
    },
    /// We send RST_STREAM.
    SendReset,
    /// RST_STREAM arrived.
    RecvReset,
    /// We send PUSH_PROMISE on this (associated) stream.
    SendPushPromise,
    /// PUSH_PROMISE arrived on this (associated) stream.
    RecvPushPromise,
    /// This stream is promised by a PUSH_PROMISE we send.
    SendReserve,
    /// This stream is promised by a PUSH_PROMISE that arrived.
    RecvReserve,
    /// We send PRIORITY (or PRIORITY_UPDATE) about this stream.
    SendPriority,
    /// PRIORITY (or PRIORITY_UPDATE) about this stream arrived.
    RecvPriority,
    /// We send WINDOW_UPDATE for this stream.
    SendWindowUpdate,
    /// WINDOW_UPDATE for this stream arrived.
    RecvWindowUpdate,
}

impl Input {
    /// Every input, for exhaustive tests.
    pub const ALL: [Input; 18] = [
        Input::SendHeaders { end_stream: false },
        Input::SendHeaders { end_stream: true },
        Input::RecvHeaders { end_stream: false },
        Input::RecvHeaders { end_stream: true },
        Input::SendData { end_stream: false },
        Input::SendData { end_stream: true },
        Input::RecvData { end_stream: false },
        Input::RecvData { end_stream: true },
        Input::SendReset,
        Input::RecvReset,
        Input::SendPushPromise,
        Input::RecvPushPromise,
        Input::SendReserve,
        Input::RecvReserve,
        Input::SendPriority,
        Input::RecvPriority,
        Input::SendWindowUpdate,
        Input::RecvWindowUpdate,
    ];

    /// Whether this input is a frame we send (as opposed to one we received).
    pub fn is_send(self) -> bool {
        matches!(
            self,
            Input::SendHeaders { .. }
                | Input::SendData { .. }
                | Input::SendReset
                | Input::SendPushPromise
                | Input::SendReserve
                | Input::SendPriority
                | Input::SendWindowUpdate
        )
    }
}

/// What the connection must do after a successful transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Effects {
    /// Drop the frame silently: it arrived on a stream we reset (RFC 9113 §5.1 "closed"),
    /// or is a late WINDOW_UPDATE / RST_STREAM the RFC tells us to tolerate. DATA still counts
    /// against the connection window, and field blocks are still decoded for HPACK.
    pub ignore: bool,
    /// The stream became active (open or half-closed): it now counts against
    /// SETTINGS_MAX_CONCURRENT_STREAMS (§5.1.2).
    pub activated: bool,
    /// The stream stopped being active: release its concurrency slot.
    pub deactivated: bool,
    /// The peer's side ended with this input (END_STREAM received): emit "stream ended".
    pub recv_ended: bool,
    /// Our side ended with this input (END_STREAM sent).
    pub send_ended: bool,
    /// The stream reached [`StreamState::Closed`] with this input.
    pub closed: bool,
}

/// A refused transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransitionError {
    /// The caller asked to send something the state forbids; nothing changes.
    Usage(UsageError),
    /// The peer sent something the state forbids, with the scope RFC 9113 §5.1 prescribes.
    Peer(PeerError),
}

impl TransitionError {
    /// The error of a refused command. A send input never yields a peer error; the type is
    /// kept total anyway.
    pub(crate) fn into_usage(self) -> UsageError {
        match self {
            TransitionError::Usage(u) => u,
            TransitionError::Peer(_) => UsageError::FrameInWrongState,
        }
    }
}

impl From<UsageError> for TransitionError {
    fn from(e: UsageError) -> Self {
        TransitionError::Usage(e)
    }
}

fn stream_err(v: ProtocolViolation) -> TransitionError {
    TransitionError::Peer(PeerError::Stream(v))
}

fn conn_err(v: ProtocolViolation) -> TransitionError {
    TransitionError::Peer(PeerError::Connection(v))
}

impl StreamState {
    /// Whether the stream counts against SETTINGS_MAX_CONCURRENT_STREAMS (§5.1.2: open and
    /// both half-closed states).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            StreamState::Open | StreamState::HalfClosedLocal | StreamState::HalfClosedRemote
        )
    }

    /// Whether the stream is closed.
    pub fn is_closed(self) -> bool {
        matches!(self, StreamState::Closed(_))
    }

    /// Whether we may still send DATA or HEADERS on the stream.
    pub fn can_send(self) -> bool {
        matches!(
            self,
            StreamState::Open | StreamState::HalfClosedRemote | StreamState::ReservedLocal
        )
    }

    /// Whether the peer may still send DATA or HEADERS on the stream.
    pub fn can_recv(self) -> bool {
        matches!(
            self,
            StreamState::Open | StreamState::HalfClosedLocal | StreamState::ReservedRemote
        )
    }

    /// Applies `input` and returns the next state and what the connection must do.
    ///
    /// On error the stream keeps its old state (the value is `Copy`); the connection resets
    /// the stream or closes the connection according to the [`PeerError`] scope, or returns
    /// the [`UsageError`] to the caller.
    pub fn on(self, input: Input) -> Result<(StreamState, Effects), TransitionError> {
        use CloseCause::*;
        use Input::*;
        use StreamState::*;

        let mut ignore = false;
        let next = match (self, input) {
            // ---- idle (§5.1): HEADERS opens; PRIORITY is allowed; PUSH_PROMISE reserves.
            (Idle, SendHeaders { end_stream }) => {
                if end_stream {
                    HalfClosedLocal
                } else {
                    Open
                }
            }
            (Idle, RecvHeaders { end_stream }) => {
                if end_stream {
                    HalfClosedRemote
                } else {
                    Open
                }
            }
            (Idle, SendReserve) => ReservedLocal,
            (Idle, RecvReserve) => ReservedRemote,
            (Idle, SendPriority | RecvPriority) => Idle,
            (Idle, SendData { .. }) => return Err(UsageError::DataInWrongState.into()),
            (Idle, SendReset | SendPushPromise | SendWindowUpdate) => {
                return Err(UsageError::FrameInWrongState.into());
            }
            // "Receiving any frame other than HEADERS or PRIORITY on a stream in this state
            // MUST be treated as a connection error of type PROTOCOL_ERROR."
            (Idle, RecvData { .. } | RecvReset | RecvPushPromise | RecvWindowUpdate) => {
                return Err(conn_err(ProtocolViolation::FrameOnIdleStream));
            }

            // ---- reserved (local): we may send HEADERS, RST_STREAM, PRIORITY; the peer may
            // send RST_STREAM, PRIORITY, WINDOW_UPDATE.
            (ReservedLocal, SendHeaders { end_stream }) => {
                if end_stream {
                    Closed(EndStream)
                } else {
                    HalfClosedRemote
                }
            }
            (ReservedLocal, SendReset) => Closed(ResetSent),
            (ReservedLocal, RecvReset) => Closed(ResetReceived),
            (ReservedLocal, SendPriority | RecvPriority | RecvWindowUpdate) => ReservedLocal,
            (ReservedLocal, SendData { .. }) => return Err(UsageError::DataInWrongState.into()),
            (ReservedLocal, SendPushPromise | SendReserve | SendWindowUpdate) => {
                return Err(UsageError::FrameInWrongState.into());
            }
            (ReservedLocal, RecvHeaders { .. } | RecvData { .. } | RecvPushPromise) => {
                return Err(conn_err(ProtocolViolation::FrameOnReservedStream));
            }
            // §6.6: the promised stream must be idle.
            (ReservedLocal, RecvReserve) => {
                return Err(conn_err(ProtocolViolation::InvalidPushPromise));
            }

            // ---- reserved (remote): the peer may send HEADERS, RST_STREAM, PRIORITY; we may
            // send RST_STREAM, PRIORITY, WINDOW_UPDATE.
            (ReservedRemote, RecvHeaders { end_stream }) => {
                if end_stream {
                    Closed(EndStream)
                } else {
                    HalfClosedLocal
                }
            }
            (ReservedRemote, SendReset) => Closed(ResetSent),
            (ReservedRemote, RecvReset) => Closed(ResetReceived),
            (ReservedRemote, SendPriority | RecvPriority | SendWindowUpdate) => ReservedRemote,
            (ReservedRemote, SendHeaders { .. }) => {
                return Err(UsageError::HeadersInWrongState.into());
            }
            (ReservedRemote, SendData { .. }) => return Err(UsageError::DataInWrongState.into()),
            (ReservedRemote, SendPushPromise | SendReserve) => {
                return Err(UsageError::FrameInWrongState.into());
            }
            (ReservedRemote, RecvData { .. } | RecvPushPromise | RecvWindowUpdate) => {
                return Err(conn_err(ProtocolViolation::FrameOnReservedStream));
            }
            (ReservedRemote, RecvReserve) => {
                return Err(conn_err(ProtocolViolation::InvalidPushPromise));
            }

            // ---- open: anything goes; END_STREAM half-closes, RST_STREAM closes.
            (Open, SendHeaders { end_stream } | SendData { end_stream }) => {
                if end_stream {
                    HalfClosedLocal
                } else {
                    Open
                }
            }
            (Open, RecvHeaders { end_stream } | RecvData { end_stream }) => {
                if end_stream {
                    HalfClosedRemote
                } else {
                    Open
                }
            }
            (Open, SendReset) => Closed(ResetSent),
            (Open, RecvReset) => Closed(ResetReceived),
            (
                Open,
                SendPushPromise | RecvPushPromise | SendPriority | RecvPriority | SendWindowUpdate
                | RecvWindowUpdate,
            ) => Open,
            (Open, SendReserve) => return Err(UsageError::FrameInWrongState.into()),
            (Open, RecvReserve) => return Err(conn_err(ProtocolViolation::InvalidPushPromise)),

            // ---- half-closed (local): we may send only WINDOW_UPDATE, PRIORITY, RST_STREAM;
            // the peer may send anything.
            (HalfClosedLocal, RecvHeaders { end_stream } | RecvData { end_stream }) => {
                if end_stream {
                    Closed(EndStream)
                } else {
                    HalfClosedLocal
                }
            }
            (HalfClosedLocal, SendReset) => Closed(ResetSent),
            (HalfClosedLocal, RecvReset) => Closed(ResetReceived),
            (
                HalfClosedLocal,
                RecvPushPromise | SendPriority | RecvPriority | SendWindowUpdate | RecvWindowUpdate,
            ) => HalfClosedLocal,
            (HalfClosedLocal, SendHeaders { .. } | SendData { .. }) => {
                return Err(UsageError::SendAfterEndStream.into());
            }
            // §6.6: PUSH_PROMISE only on a stream that is open or half-closed(remote) for
            // its sender.
            (HalfClosedLocal, SendPushPromise | SendReserve) => {
                return Err(UsageError::FrameInWrongState.into());
            }
            (HalfClosedLocal, RecvReserve) => {
                return Err(conn_err(ProtocolViolation::InvalidPushPromise));
            }

            // ---- half-closed (remote): we may send anything; the peer only WINDOW_UPDATE,
            // PRIORITY, RST_STREAM.
            (HalfClosedRemote, SendHeaders { end_stream } | SendData { end_stream }) => {
                if end_stream {
                    Closed(EndStream)
                } else {
                    HalfClosedRemote
                }
            }
            (HalfClosedRemote, SendReset) => Closed(ResetSent),
            (HalfClosedRemote, RecvReset) => Closed(ResetReceived),
            (
                HalfClosedRemote,
                SendPushPromise | SendPriority | RecvPriority | SendWindowUpdate | RecvWindowUpdate,
            ) => HalfClosedRemote,
            // "If an endpoint receives additional frames, other than WINDOW_UPDATE, PRIORITY,
            // or RST_STREAM, for a stream that is in this state, it MUST respond with a stream
            // error of type STREAM_CLOSED."
            (HalfClosedRemote, RecvHeaders { .. } | RecvData { .. }) => {
                return Err(stream_err(ProtocolViolation::StreamHalfClosed));
            }
            // §6.6: a PUSH_PROMISE on a stream that is not open or half-closed(local) for the
            // receiver is a connection error.
            (HalfClosedRemote, RecvPushPromise) => {
                return Err(conn_err(ProtocolViolation::InvalidPushPromise));
            }
            (HalfClosedRemote, SendReserve) => return Err(UsageError::FrameInWrongState.into()),
            (HalfClosedRemote, RecvReserve) => {
                return Err(conn_err(ProtocolViolation::InvalidPushPromise));
            }

            // ---- closed: only PRIORITY may be sent.
            (Closed(cause), SendPriority | RecvPriority) => Closed(cause),
            (Closed(_), SendHeaders { .. } | SendData { .. }) => {
                return Err(UsageError::StreamClosed.into());
            }
            (Closed(_), SendReset | SendPushPromise | SendReserve | SendWindowUpdate) => {
                return Err(UsageError::StreamClosed.into());
            }
            // "An endpoint MUST ignore frames that it receives on closed streams after it has
            // sent a RST_STREAM frame" (including PUSH_PROMISE, which the connection answers
            // by refusing the promised stream).
            (
                Closed(ResetSent),
                RecvHeaders { .. }
                | RecvData { .. }
                | RecvReset
                | RecvPushPromise
                | RecvWindowUpdate,
            ) => {
                ignore = true;
                Closed(ResetSent)
            }
            // A WINDOW_UPDATE or RST_STREAM may cross our END_STREAM / RST_STREAM in flight;
            // a second RST_STREAM is never answered (no reset loops).
            (Closed(cause @ (EndStream | ResetReceived)), RecvWindowUpdate | RecvReset) => {
                ignore = true;
                Closed(cause)
            }
            // §6.1: "If a DATA frame is received whose stream is not in the open or
            // half-closed (local) state, the recipient MUST respond with a stream error of type
            // STREAM_CLOSED."
            (Closed(EndStream | ResetReceived), RecvData { .. }) => {
                return Err(stream_err(ProtocolViolation::FrameOnClosedStream));
            }
            // After the peer's RST_STREAM: a stream error of type STREAM_CLOSED.
            (Closed(ResetReceived), RecvHeaders { .. }) => {
                return Err(stream_err(ProtocolViolation::FrameOnClosedStream));
            }
            // After the peer's END_STREAM, HEADERS can only be a peer bug: a connection error
            // of type STREAM_CLOSED (§5.1 "closed").
            (Closed(EndStream), RecvHeaders { .. }) => {
                return Err(conn_err(ProtocolViolation::FrameOnClosedStream));
            }
            // §6.6: PUSH_PROMISE on a stream that is not open or half-closed(local).
            (Closed(EndStream | ResetReceived), RecvPushPromise) => {
                return Err(conn_err(ProtocolViolation::InvalidPushPromise));
            }
            (Closed(_), RecvReserve) => {
                return Err(conn_err(ProtocolViolation::InvalidPushPromise));
            }
        };

        let recv_ended = matches!(
            input,
            RecvHeaders { end_stream: true } | RecvData { end_stream: true }
        ) && !ignore;
        let send_ended = matches!(
            input,
            SendHeaders { end_stream: true } | SendData { end_stream: true }
        );
        let effects = Effects {
            ignore,
            activated: !self.is_active() && next.is_active(),
            deactivated: self.is_active() && !next.is_active(),
            recv_ended,
            send_ended,
            closed: !self.is_closed() && next.is_closed(),
        };
        Ok((next, effects))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CloseCause::*;
    use Input::*;
    use StreamState::*;

    const STATES: [StreamState; 9] = [
        Idle,
        ReservedLocal,
        ReservedRemote,
        Open,
        HalfClosedLocal,
        HalfClosedRemote,
        Closed(EndStream),
        Closed(ResetSent),
        Closed(ResetReceived),
    ];

    /// The RFC's outcome for each (state, input), written as an independent table.
    #[derive(Debug, PartialEq, Eq)]
    enum Outcome {
        To(StreamState),
        Ignored,
        Usage,
        StreamError(ProtocolViolation),
        ConnError(ProtocolViolation),
    }

    fn expected(state: StreamState, input: Input) -> Outcome {
        use Outcome::*;
        use ProtocolViolation as P;
        let es = |i: Input| match i {
            SendHeaders { end_stream }
            | RecvHeaders { end_stream }
            | SendData { end_stream }
            | RecvData { end_stream } => end_stream,
            _ => false,
        };
        let end = es(input);
        match state {
            Idle => match input {
                SendHeaders { .. } => To(if end { HalfClosedLocal } else { Open }),
                RecvHeaders { .. } => To(if end { HalfClosedRemote } else { Open }),
                SendReserve => To(ReservedLocal),
                RecvReserve => To(ReservedRemote),
                SendPriority | RecvPriority => To(Idle),
                i if i.is_send() => Usage,
                _ => ConnError(P::FrameOnIdleStream),
            },
            ReservedLocal => match input {
                SendHeaders { .. } => To(if end {
                    Closed(EndStream)
                } else {
                    HalfClosedRemote
                }),
                SendReset => To(Closed(ResetSent)),
                RecvReset => To(Closed(ResetReceived)),
                SendPriority | RecvPriority | RecvWindowUpdate => To(ReservedLocal),
                RecvReserve => ConnError(P::InvalidPushPromise),
                i if i.is_send() => Usage,
                _ => ConnError(P::FrameOnReservedStream),
            },
            ReservedRemote => match input {
                RecvHeaders { .. } => To(if end {
                    Closed(EndStream)
                } else {
                    HalfClosedLocal
                }),
                SendReset => To(Closed(ResetSent)),
                RecvReset => To(Closed(ResetReceived)),
                SendPriority | RecvPriority | SendWindowUpdate => To(ReservedRemote),
                RecvReserve => ConnError(P::InvalidPushPromise),
                i if i.is_send() => Usage,
                _ => ConnError(P::FrameOnReservedStream),
            },
            Open => match input {
                SendHeaders { .. } | SendData { .. } => {
                    To(if end { HalfClosedLocal } else { Open })
                }
                RecvHeaders { .. } | RecvData { .. } => {
                    To(if end { HalfClosedRemote } else { Open })
                }
                SendReset => To(Closed(ResetSent)),
                RecvReset => To(Closed(ResetReceived)),
                SendReserve => Usage,
                RecvReserve => ConnError(P::InvalidPushPromise),
                _ => To(Open),
            },
            HalfClosedLocal => match input {
                RecvHeaders { .. } | RecvData { .. } => To(if end {
                    Closed(EndStream)
                } else {
                    HalfClosedLocal
                }),
                SendReset => To(Closed(ResetSent)),
                RecvReset => To(Closed(ResetReceived)),
                RecvReserve => ConnError(P::InvalidPushPromise),
                SendPriority | SendWindowUpdate => To(HalfClosedLocal),
                i if i.is_send() => Usage,
                _ => To(HalfClosedLocal),
            },
            HalfClosedRemote => match input {
                SendHeaders { .. } | SendData { .. } => To(if end {
                    Closed(EndStream)
                } else {
                    HalfClosedRemote
                }),
                SendReset => To(Closed(ResetSent)),
                RecvReset => To(Closed(ResetReceived)),
                RecvHeaders { .. } | RecvData { .. } => StreamError(P::StreamHalfClosed),
                RecvPushPromise | RecvReserve => ConnError(P::InvalidPushPromise),
                SendReserve => Usage,
                _ => To(HalfClosedRemote),
            },
            Closed(cause) => match input {
                SendPriority | RecvPriority => To(Closed(cause)),
                i if i.is_send() => Usage,
                RecvReserve => ConnError(P::InvalidPushPromise),
                _ if cause == ResetSent => Ignored,
                RecvWindowUpdate | RecvReset => Ignored,
                RecvData { .. } => StreamError(P::FrameOnClosedStream),
                RecvHeaders { .. } if cause == ResetReceived => StreamError(P::FrameOnClosedStream),
                RecvHeaders { .. } => ConnError(P::FrameOnClosedStream),
                _ => ConnError(P::InvalidPushPromise),
            },
        }
    }

    #[test]
    fn every_state_input_pair_matches_the_rfc() {
        let mut checked = 0;
        for state in STATES {
            for input in Input::ALL {
                let got = match state.on(input) {
                    Ok((next, fx)) if fx.ignore => {
                        assert_eq!(next, state, "{state:?} + {input:?} ignored but changed");
                        Outcome::Ignored
                    }
                    Ok((next, _)) => Outcome::To(next),
                    Err(TransitionError::Usage(_)) => {
                        assert!(input.is_send(), "{state:?} + {input:?}: usage on recv");
                        Outcome::Usage
                    }
                    Err(TransitionError::Peer(PeerError::Stream(v))) => Outcome::StreamError(v),
                    Err(TransitionError::Peer(PeerError::Connection(v))) => Outcome::ConnError(v),
                };
                assert_eq!(got, expected(state, input), "{state:?} + {input:?}");
                checked += 1;
            }
        }
        assert_eq!(checked, 9 * 18);
    }

    #[test]
    fn peer_errors_only_come_from_received_frames() {
        for state in STATES {
            for input in Input::ALL {
                if let Err(TransitionError::Peer(_)) = state.on(input) {
                    assert!(!input.is_send(), "{state:?} + {input:?}");
                }
            }
        }
    }

    #[test]
    fn headers_with_end_stream_makes_two_transitions() {
        let (s, fx) = Idle.on(RecvHeaders { end_stream: true }).unwrap();
        assert_eq!(s, HalfClosedRemote);
        assert!(fx.activated && fx.recv_ended && !fx.closed);
    }

    #[test]
    fn concurrency_accounting_effects() {
        // Reserved streams do not count; HEADERS on them does.
        let (s, fx) = Idle.on(SendReserve).unwrap();
        assert!(!fx.activated);
        let (s, fx) = s.on(SendHeaders { end_stream: false }).unwrap();
        assert_eq!(s, HalfClosedRemote);
        assert!(fx.activated);
        let (s, fx) = s.on(SendData { end_stream: true }).unwrap();
        assert_eq!(s, Closed(EndStream));
        assert!(fx.deactivated && fx.closed && fx.send_ended);
        // A reserved stream that is reset never counted.
        let (_, fx) = ReservedRemote.on(RecvReset).unwrap();
        assert!(fx.closed && !fx.deactivated);
    }

    #[test]
    fn late_frames_after_our_reset_are_ignored_not_errors() {
        let (s, _) = Open.on(SendReset).unwrap();
        for input in Input::ALL.into_iter().filter(|i| !i.is_send()) {
            match s.on(input) {
                Ok((next, _)) => assert_eq!(next, s),
                Err(e) => {
                    assert_eq!(input, RecvReserve, "{e:?}");
                }
            }
        }
        let (_, fx) = s.on(RecvData { end_stream: true }).unwrap();
        assert!(fx.ignore && !fx.recv_ended);
    }

    #[test]
    fn data_after_peer_end_stream_is_stream_closed() {
        let (s, _) = Open.on(RecvData { end_stream: true }).unwrap();
        let err = s.on(RecvData { end_stream: false }).unwrap_err();
        match err {
            TransitionError::Peer(PeerError::Stream(v)) => {
                assert_eq!(v.code(), h2kit_frame::ErrorCode::STREAM_CLOSED)
            }
            other => panic!("{other:?}"),
        }
        let (s, _) = s.on(SendData { end_stream: true }).unwrap();
        assert_eq!(s, Closed(EndStream));
        match s.on(RecvHeaders { end_stream: true }).unwrap_err() {
            TransitionError::Peer(PeerError::Connection(v)) => {
                assert_eq!(v.code(), h2kit_frame::ErrorCode::STREAM_CLOSED)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sending_on_closed_or_ended_streams_is_a_usage_error() {
        assert_eq!(
            HalfClosedLocal.on(SendData { end_stream: false }),
            Err(TransitionError::Usage(UsageError::SendAfterEndStream))
        );
        assert_eq!(
            Closed(ResetReceived).on(SendHeaders { end_stream: true }),
            Err(TransitionError::Usage(UsageError::StreamClosed))
        );
        assert_eq!(
            Idle.on(SendData { end_stream: false }),
            Err(TransitionError::Usage(UsageError::DataInWrongState))
        );
    }
}
