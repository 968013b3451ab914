//! Why a connection ended, what the client is told, and what `$disconnect` reports.
//!
//! The codes follow RFC 6455 and what API Gateway is observed to send: 1009 for frames
//! and messages over its limits, 1003 for binary data, 1001 for the idle and lifetime
//! limits, 1000 for a Management API `DELETE`, and the client's own code (or 1005 when its
//! close frame carried none) when the client hangs up.

/// Close code: normal closure.
pub const NORMAL: u16 = 1000;
/// Close code: the endpoint is going away.
pub const GOING_AWAY: u16 = 1001;
/// Close code: data of a type the endpoint does not accept.
pub const UNSUPPORTED_DATA: u16 = 1003;
/// Close code reported when a close frame carried no code.
pub const NO_STATUS: u16 = 1005;
/// Close code reported when the connection dropped without a close frame.
pub const ABNORMAL: u16 = 1006;
/// Close code: the peer broke the WebSocket protocol.
pub const PROTOCOL_ERROR: u16 = 1002;
/// Close code: a text message that is not UTF-8.
pub const INVALID_DATA: u16 = 1007;
/// Close code: a frame or message is too big to process.
pub const TOO_BIG: u16 = 1009;

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseCause {
    /// The client sent a close frame, with or without a code.
    ClientClosed {
        /// The client's close code, if any.
        code: Option<u16>,
        /// The client's reason text.
        reason: String,
    },
    /// The TCP connection ended or failed without a close handshake.
    Dropped,
    /// A Management API `DELETE` closed the connection.
    Deleted,
    /// No message arrived from the client within the idle timeout.
    IdleTimeout,
    /// The connection reached its maximum lifetime.
    MaxDuration,
    /// A frame or a whole message exceeded API Gateway's size limits.
    TooBig,
    /// The client sent a binary frame.
    Binary,
    /// The client broke the WebSocket protocol (an unmasked frame, a reserved opcode or
    /// bit, a stray continuation, an oversized control frame).
    ProtocolError,
    /// The client sent a text message that is not UTF-8.
    InvalidText,
    /// The local service is shutting down.
    Shutdown,
}

impl CloseCause {
    /// The close frame sent to the client, or `None` when the client ended it.
    pub fn close_frame(&self) -> Option<(u16, &'static str)> {
        match self {
            Self::ClientClosed { .. } | Self::Dropped => None,
            Self::Deleted => Some((NORMAL, "")),
            Self::IdleTimeout | Self::MaxDuration | Self::Shutdown => {
                Some((GOING_AWAY, "Going away"))
            }
            Self::TooBig => Some((TOO_BIG, "Message too big")),
            Self::Binary => Some((UNSUPPORTED_DATA, "Binary data is not supported")),
            Self::ProtocolError => Some((PROTOCOL_ERROR, "Protocol error")),
            Self::InvalidText => Some((INVALID_DATA, "Invalid UTF-8 in text message")),
        }
    }

    /// `disconnectStatusCode` and `disconnectReason` for the `$disconnect` event.
    pub fn disconnect_status(&self) -> (u16, String) {
        match self {
            Self::ClientClosed { code: None, .. } => {
                (NO_STATUS, "Client-side close frame status not set".into())
            }
            Self::ClientClosed {
                code: Some(code),
                reason,
            } => (*code, reason.clone()),
            Self::Dropped => (ABNORMAL, "Connection was closed abnormally".into()),
            Self::Deleted => (NORMAL, "Connection Closed Normally".into()),
            other => {
                let (code, reason) = other.close_frame().unwrap_or((ABNORMAL, ""));
                (code, reason.into())
            }
        }
    }

    /// A short name for logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ClientClosed { .. } => "client_closed",
            Self::Dropped => "dropped",
            Self::Deleted => "deleted",
            Self::IdleTimeout => "idle_timeout",
            Self::MaxDuration => "max_duration",
            Self::TooBig => "too_big",
            Self::Binary => "binary",
            Self::ProtocolError => "protocol_error",
            Self::InvalidText => "invalid_text",
            Self::Shutdown => "shutdown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_close_without_code_reports_1005() {
        let cause = CloseCause::ClientClosed {
            code: None,
            reason: String::new(),
        };
        assert_eq!(cause.close_frame(), None);
        assert_eq!(
            cause.disconnect_status(),
            (1005, "Client-side close frame status not set".into())
        );
    }

    #[test]
    fn limits_close_with_their_codes() {
        assert_eq!(CloseCause::TooBig.close_frame().unwrap().0, 1009);
        assert_eq!(CloseCause::Binary.close_frame().unwrap().0, 1003);
        assert_eq!(CloseCause::IdleTimeout.disconnect_status().0, 1001);
        assert_eq!(CloseCause::Deleted.disconnect_status().0, 1000);
    }
}
