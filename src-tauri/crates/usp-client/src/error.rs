//! Errors of the client, classified so callers can act on them.

use std::time::Duration;

use usp_core::engine::{RequestError, SendError};
use usp_core::request::{BuildError, WrongResponse};
use usp_core::EndpointId;
use usp_core::UspError;

use crate::tls::{tls_error_in, Fingerprint, TlsError};

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
    /// The agent is one that dials usp-home, and it did not connect in this time.
    #[error("the device has not connected to usp-home (waited {0:?}); it connects by itself when it is on and set up with usp-home's address")]
    NotDialledIn(Duration),
    /// Connected, but the agent never said who it is (no WebSocketConnect record).
    #[error("the agent did not identify itself within {0:?}")]
    AgentSilent(Duration),
    /// The agent presented another certificate than the one trusted when it was paired.
    #[error(
        "The security certificate of the device {agent} changed since you paired it. This can mean someone \
         is impersonating it, so usp-home did not connect. If you reset or replaced this device, remove it \
         and pair it again; otherwise leave it disconnected and check your network. (Paired certificate \
         SHA-256 {pinned_sha256}; presented now {presented_sha256}.)"
    )]
    CertificateChanged {
        /// The agent.
        agent: EndpointId,
        /// Fingerprint of the certificate trusted at pairing.
        pinned_sha256: Fingerprint,
        /// Fingerprint of the certificate presented now.
        presented_sha256: Fingerprint,
    },
    /// The message broker refused our user name and password (or the user may not connect).
    #[error(
        "the message broker refused the login: the user name or password is wrong, or the user may not \
         connect; check the broker login for this device ({0})"
    )]
    BrokerLogin(String),
    /// The message broker refused or ended the session for another reason.
    #[error("the message broker did not let us in: {0}")]
    Broker(String),
    /// The broker presented another certificate than the one pinned when the device was added.
    #[error(
        "The broker's certificate changed since you added this device, so usp-home did not connect to the \
         broker at {broker}. Someone may be intercepting the connection to it. If the broker (often your \
         router) was reset or given a new certificate, forget this device and add it again; otherwise leave \
         it disconnected and check your network. (Certificate trusted when added: SHA-256 {pinned_sha256}; \
         presented now: {presented_sha256}.)"
    )]
    BrokerCertificateChanged {
        /// The broker (`host:port`).
        broker: String,
        /// Fingerprint of the certificate pinned when the device was added.
        pinned_sha256: Fingerprint,
        /// Fingerprint of the certificate presented now.
        presented_sha256: Fingerprint,
    },
    /// The broker's certificate is not valid under the system's authorities, and none is
    /// pinned for it.
    #[error(
        "The broker at {broker} presents a certificate that no authority vouches for and that was not \
         trusted when this device was added (SHA-256 {sha256}), so usp-home did not connect. If this is \
         the broker you use and its certificate really is this one (compare the fingerprint with the \
         broker's settings), forget this device and add it again by the broker's address; otherwise \
         someone may be intercepting the connection to it."
    )]
    BrokerCertificateUntrusted {
        /// The broker (`host:port`).
        broker: String,
        /// Fingerprint of the certificate it presented.
        sha256: Fingerprint,
    },
    /// The agent's certificate belongs to another Endpoint ID than the one we wanted to reach.
    #[error(
        "The device at this address is {in_certificate}, not {expected}, according to its security \
         certificate, so usp-home did not connect. The address may now belong to another device, or \
         someone may be impersonating it. Check the device's address, or pair the device that answered."
    )]
    CertificateEidMismatch {
        /// The Endpoint ID we wanted to reach.
        expected: EndpointId,
        /// The Endpoint ID in the agent's certificate.
        in_certificate: EndpointId,
    },
    /// First connection to an agent: nothing vouches for its certificate yet.
    #[error(
        "First secure connection to the device {agent}: its security certificate is not trusted yet. \
         Its SHA-256 fingerprint is {sha256}. If this matches the fingerprint the device shows (on its \
         settings page or label), choose to trust it and connect again; otherwise do not trust it."
    )]
    UntrustedCertificate {
        /// The agent, from its certificate.
        agent: EndpointId,
        /// Fingerprint of the certificate it presented.
        sha256: Fingerprint,
    },
}

impl ConnectError {
    /// True for refusals that only a person can resolve (trust a certificate, forget a
    /// pairing, fix an address): retrying would only repeat them, so the client stops.
    pub fn needs_user(&self) -> bool {
        matches!(
            self,
            ConnectError::CertificateChanged { .. }
                | ConnectError::CertificateEidMismatch { .. }
                | ConnectError::UntrustedCertificate { .. }
                | ConnectError::TlsNotConfigured
                | ConnectError::BadUrl(_)
                | ConnectError::BrokerLogin(_)
                | ConnectError::BrokerCertificateChanged { .. }
                | ConnectError::BrokerCertificateUntrusted { .. }
        )
    }
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

/// The [`ConnectError`] for a failed TLS handshake: the refusals of our verifier become
/// [`ConnectError::CertificateChanged`], [`ConnectError::CertificateEidMismatch`] and
/// [`ConnectError::UntrustedCertificate`]; anything else is [`ConnectError::Tls`].
pub fn connect_error(e: &std::io::Error) -> ConnectError {
    match tls_error_in(e) {
        Some(t) => ConnectError::from(t.clone()),
        None => ConnectError::Tls(e.to_string()),
    }
}

impl From<TlsError> for ConnectError {
    fn from(e: TlsError) -> Self {
        match e {
            TlsError::CertificateChanged { agent, pinned, presented } => {
                ConnectError::CertificateChanged { agent, pinned_sha256: pinned, presented_sha256: presented }
            }
            TlsError::EidMismatch { expected, in_certificate } => {
                ConnectError::CertificateEidMismatch { expected, in_certificate }
            }
            TlsError::Untrusted { agent, fingerprint } => {
                ConnectError::UntrustedCertificate { agent, sha256: fingerprint }
            }
            other => ConnectError::Tls(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_errors_map_to_connect_errors() {
        let agent: EndpointId = "proto::agent".parse().expect("eid");
        let fp = Fingerprint::of(b"x");
        let err = TlsError::Untrusted { agent: agent.clone(), fingerprint: fp };
        let rustls_err = rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
            std::sync::Arc::new(err),
        )));
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls_err);
        assert_eq!(connect_error(&io), ConnectError::UntrustedCertificate { agent, sha256: fp });
        let other = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert!(matches!(connect_error(&other), ConnectError::Tls(_)));
    }
}
