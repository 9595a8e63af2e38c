//! How the app uses USP's end-to-end session context across a broker (issue 13): asked for
//! with `Prefer`, and our Messages cut to the device's `MaxUSPRecordSize`
//! (`Device.LocalAgent.Controller.{i}.E2ESession.MaxUSPRecordSize` of our Controller entry),
//! read once the context is up, when our role may read it. Until then, and when it may not,
//! [`UNREAD_RECORD_SIZE`]. The client's layer takes the smaller of that and what the broker
//! carries (an MQTT 5 broker's Maximum Packet Size). Our Records are signed with the app's
//! identity certificate; the agent's are verified once it signs ([`integrity`]).

use std::time::Duration;

use bytes::Bytes;
use usp_client::mtp::e2e::{AgentRecordSize, E2eIntegrity, E2eMode, E2eSettings};
use usp_client::tls::Identity;
use usp_client::Client;
use usp_core::e2e::PeerTrust;

/// Our Records are cut to this size while the device's `MaxUSPRecordSize` is not known:
/// small requests (almost all) still go in one Record, a larger one in pieces that any agent
/// taking part in a session context must put back together, and with room for a signature
/// and certificate. Devices whose `MaxUSPRecordSize` is smaller but unreadable to us are
/// the case this cannot cover.
pub(crate) const UNREAD_RECORD_SIZE: usize = 4096;
/// The smallest `MaxUSPRecordSize` the spec allows (other than 0, "no limit"); a smaller one
/// is a device's mistake and ignored.
const MIN_RECORD_SIZE: usize = 512;
/// How long reading it may take.
const READ_WITHIN: Duration = Duration::from_secs(10);

/// The session-context settings for a device reached through a broker.
pub(crate) fn settings(record_size: &AgentRecordSize) -> E2eSettings {
    E2eSettings {
        max_record_size: UNREAD_RECORD_SIZE,
        agent_record_size: record_size.clone(),
        ..E2eSettings::new(E2eMode::Prefer)
    }
}

/// Record integrity with the app's identity: our Records signed; the agent's verified against
/// `peer_cert` when it signed before (while the app runs), else once it signs one (its first
/// certificate, which must name its Endpoint ID, is then required). `None` when the identity's
/// key cannot sign Records (not ECDSA P-256).
pub(crate) fn integrity(me: &Identity, peer_cert: Option<Bytes>) -> Option<E2eIntegrity> {
    let trust = match peer_cert {
        Some(c) => PeerTrust::Pinned(vec![c]),
        None => PeerTrust::WhenSigned,
    };
    match E2eIntegrity::new(me.private_key_der().expose_secret(), me.cert_der(), trust) {
        Ok(i) => Some(i),
        Err(e) => {
            tracing::warn!(error = %e, "the app's identity cannot sign end-to-end records");
            None
        }
    }
}

/// The device's `MaxUSPRecordSize` for us (0 = no limit); `None` when our role may not read
/// it, the device does not have it, or the value is no valid size.
pub(crate) async fn read_record_size(client: &Client) -> Option<usize> {
    let own = client.own_id().as_str().replace('"', "");
    let path = format!("Device.LocalAgent.Controller.[EndpointID==\"{own}\"].E2ESession.MaxUSPRecordSize");
    let resp = match tokio::time::timeout(READ_WITHIN, client.get(&[path.as_str()], 0)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "MaxUSPRecordSize not readable");
            return None;
        }
        Err(_) => return None,
    };
    // (One row is ours; the budget bounds what a device's reply can make us hold.)
    let budget = usp_core::request::Budget { max_bytes: 4096, max_items: 4 };
    let value = resp
        .params_within(budget)
        .into_vec()
        .into_iter()
        .find(|p| p.path.ends_with(".E2ESession.MaxUSPRecordSize"))?
        .value;
    match value.trim().parse::<u32>() {
        Ok(0) => Some(0),
        Ok(n) if n as usize >= MIN_RECORD_SIZE => Some(n as usize),
        _ => {
            tracing::debug!("MaxUSPRecordSize is no valid size; the default applies");
            None
        }
    }
}
