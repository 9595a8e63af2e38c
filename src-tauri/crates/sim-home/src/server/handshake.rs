//! The WebSocket handshake checks: subprotocol, path, controller EID and (with TLS) its
//! certificate; a refusal is a plain-text HTTP answer.

use std::str::FromStr;

use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::header::{
    HeaderValue, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, SEC_WEBSOCKET_EXTENSIONS, SEC_WEBSOCKET_PROTOCOL,
};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tracing::warn;
use usp_core::eid::EndpointId;

use super::{PeerCert, ServerCtx, USP_SUBPROTOCOL};
use crate::tls::ControllerPins;

/// The handshake checks (the error is the HTTP answer, as tungstenite wants it); on success the 101 response (with `v1.usp` and the extensions
/// header) and the controller's EID.
#[allow(clippy::result_large_err)]
pub(super) fn check_handshake(
    ctx: &ServerCtx,
    req: &Request,
    mut resp: Response,
) -> Result<(Response, EndpointId), ErrorResponse> {
    let mut protocols = req.headers().get_all(SEC_WEBSOCKET_PROTOCOL).iter();
    let usp = matches!((protocols.next(), protocols.next()),
        (Some(p), None) if p.as_bytes() == USP_SUBPROTOCOL.as_bytes());
    if !usp {
        return Err(http_error(
            StatusCode::BAD_REQUEST,
            format!("a USP agent needs the header 'Sec-WebSocket-Protocol: {USP_SUBPROTOCOL}' (exactly)\n"),
        ));
    }
    if req.uri().path() != ctx.path {
        return Err(http_error(
            StatusCode::NOT_FOUND,
            format!("no USP endpoint at {}: this agent serves {}\n", req.uri().path(), ctx.path),
        ));
    }
    let eid = controller_eid(req.uri().query()).map_err(|why| http_error(StatusCode::BAD_REQUEST, why))?;
    let headers = resp.headers_mut();
    headers.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(USP_SUBPROTOCOL));
    if let Some(ext) = &ctx.extensions {
        headers.insert(SEC_WEBSOCKET_EXTENSIONS, ext.clone());
    }
    Ok((resp, eid))
}

/// With TLS: the `?eid=` must be the client certificate's EID (R-SEC.0a), and the
/// certificate the one remembered for that EID (TOFU, R-SEC.8; first use pins it).
#[allow(clippy::result_large_err)]
pub(super) fn check_certificate(eid: &EndpointId, cert: &PeerCert, pins: &ControllerPins) -> Result<(), ErrorResponse> {
    if cert.eid != *eid {
        return Err(http_error(
            StatusCode::FORBIDDEN,
            format!(
                "the client certificate belongs to {}, but the eid query argument says {eid}: \
                 they must be the same Endpoint ID\n",
                cert.eid
            ),
        ));
    }
    pins.admit(eid, cert.fingerprint).map_err(|why| {
        warn!(controller = %eid, "refused: {}", why.trim_end());
        http_error(StatusCode::FORBIDDEN, why)
    })
}

/// The controller EID from the request query (`eid=`, percent-decoded).
pub(super) fn controller_eid(query: Option<&str>) -> Result<EndpointId, String> {
    let raw = query
        .unwrap_or_default()
        .split('&')
        .find_map(|arg| arg.strip_prefix("eid="))
        .ok_or_else(|| "the controller Endpoint ID must be in the query: ?eid=<EID>\n".to_owned())?;
    let text = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| "the eid query argument is not UTF-8 once percent-decoded\n".to_owned())?;
    EndpointId::from_str(&text).map_err(|e| format!("invalid controller Endpoint ID {text:?}: {e}\n"))
}

fn http_error(status: StatusCode, body: String) -> ErrorResponse {
    let len = body.len();
    let mut resp = ErrorResponse::new(Some(body));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    resp
}
