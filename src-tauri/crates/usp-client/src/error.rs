//! Errors of the client, classified so callers can act on them.

use std::time::Duration;

use usp_core::engine::{RequestError, SendError, UspError};
use usp_core::request::{BuildError, WrongResponse};

/// Why a connection attempt failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The agent address is not a usable ws:// or wss:// URL.
    #[error("bad agent address {0}")]
    BadUrl(String),
    /// TCP connection failed (nothing listening, unreachable...).
    #[error("cannot reach the agent at {0}")]
    Tcp(String),
    /// wss:// without TLS settings.
    #[error("wss:// needs TLS settings (certificates), and none were given")]
    TlsNotConfigured,
    /// The TLS handshake failed (certificate refused...).
    #[error("secure connection failed: {0}")]
    Tls(String),
    /// The WebSocket handshake failed or the agent does not speak USP.
    #[error("the agent did not accept the USP WebSocket connection: {0}")]
    Handshake(String),
    /// The attempt took too long.
    #[error("connecting took longer than {0:?}")]
    Timeout(Duration),
    /// Connected, but the agent never said who it is (no WebSocketConnect record).
    #[error("the agent did not identify itself within {0:?}")]
    AgentSilent(Duration),
}

/// Why a client call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The request is malformed (bad path...); nothing was sent.
    #[error("invalid request: {0}")]
    Build(#[from] BuildError),
    /// The agent answered with a USP error.
    #[error("the agent refused: {0}")]
    Usp(UspError),
    /// No answer in time.
    #[error("the agent did not answer within {0:?}")]
    Timeout(Duration),
    /// Not connected right now (the client keeps trying to reconnect).
    #[error("not connected to the agent: {0}")]
    NotConnected(String),
    /// The connection dropped while the request was outstanding.
    #[error("the connection to the agent was lost: {0}")]
    Disconnected(String),
    /// Connecting failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The agent answered with the wrong kind of response.
    #[error("the agent sent an unexpected answer: {0}")]
    Protocol(String),
    /// The request could not be sent (too large, too many outstanding).
    #[error("the request could not be sent: {0}")]
    Send(#[from] SendError),
    /// The client was closed.
    #[error("the client is closed")]
    Closed,
}

impl ClientError {
    /// True when the agent did not answer in time.
    pub fn is_timeout(&self) -> bool {
        matches!(self, ClientError::Timeout(_) | ClientError::Connect(ConnectError::Timeout(_)))
    }
    /// True for connection problems (as opposed to the agent refusing something).
    pub fn is_connection(&self) -> bool {
        matches!(
            self,
            ClientError::NotConnected(_)
                | ClientError::Disconnected(_)
                | ClientError::Connect(_)
                | ClientError::Closed
                | ClientError::Timeout(_)
        )
    }
    /// The USP error code when the agent refused.
    pub fn usp_code(&self) -> Option<u32> {
        match self {
            ClientError::Usp(e) => Some(e.code),
            _ => None,
        }
    }
}

impl From<RequestError> for ClientError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::Usp(u) => ClientError::Usp(u),
            RequestError::Timeout(d) => ClientError::Timeout(d),
            RequestError::Disconnected(r) => ClientError::Disconnected(r),
            RequestError::UnexpectedResponse { expected, got } => {
                ClientError::Protocol(format!("expected {expected:?}, got {got:?}"))
            }
        }
    }
}

impl From<WrongResponse> for ClientError {
    fn from(e: WrongResponse) -> Self {
        ClientError::Protocol(e.to_string())
    }
}
