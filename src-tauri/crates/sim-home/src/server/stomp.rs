//! An agent serving its controllers through a STOMP broker (USP STOMP MTP, agent side).
//!
//! The agent connects to the broker (with its own Endpoint ID in `endpoint-id`), subscribes to
//! its destination, sends a `STOMPConnectRecord` to each controller destination it is
//! configured with, and answers each Record on that Record's `reply-to-dest` (R-STOMP.23),
//! else on the controller's configured destination. Each controller (by the `from_id` of
//! its Records) gets its own [`RecordPipe`]; the pipes outlive broker connections, so a broker
//! restart keeps the controllers' subscriptions. It reconnects with a doubling wait.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};
use usp_client::mtp::stomp::{derived_destination, queue_name_part, ConnectParams, StompAddress, StompConn};
use usp_client::Login;
use usp_core::eid::EndpointId;
use usp_core::stomp::{Frame, Incoming, Limits};
use usp_proto::usp_record::record::RecordType;
use usp_proto::usp_record::StompConnectRecord;

use super::record::encode_record;
use super::{Cmd, RecordPipe};

/// Where and how the agents of a home reach a STOMP broker.
#[derive(Clone, Debug)]
pub struct StompBroker {
    /// `stomp://[user@]host[:port][?vhost=…]` (or `stomps://`); a path or `reply-to` in it is
    /// not used: each agent listens on [`agent_destination`] of its own Endpoint ID.
    pub url: String,
    /// Login and password at the broker (the password never goes in the URL).
    pub login: Option<Login>,
    /// TLS settings for `stomps://`.
    pub tls: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
    /// The controllers to send a `STOMPConnectRecord` to, at their destination (usp-client's
    /// default: [`derived_destination`]).
    pub controllers: Vec<(EndpointId, String)>,
    /// Heart-beat period offered both ways.
    pub heart_beat: Duration,
}

impl StompBroker {
    /// `url` with the login of the URL (if any), no TLS, the controllers at their derived
    /// destinations, and 30 s heart-beats.
    pub fn new(url: &str, controllers: &[EndpointId]) -> StompBroker {
        StompBroker {
            url: url.to_owned(),
            login: None,
            tls: None,
            controllers: controllers.iter().map(|c| (c.clone(), derived_destination(c, None))).collect(),
            heart_beat: Duration::from_secs(30),
        }
    }
}

/// Where the agent `eid` listens: `/queue/usp.agent.<EID with other characters than letters,
/// digits, `.`, `-`, `_` as `_`>`.
pub fn agent_destination(eid: &EndpointId) -> String {
    format!("/queue/usp.agent.{}", queue_name_part(eid))
}

/// Records waiting for one controller's pipe.
const PIPE_QUEUE: usize = 64;
/// Records from all pipes waiting for the broker.
const OUT_QUEUE: usize = 256;
/// Most controllers one agent serves over the broker at a time.
const MAX_CONTROLLERS: usize = 64;

/// A Record and the pipe it goes to.
type Delivery = Option<(mpsc::Sender<Bytes>, Bytes)>;

struct Controller {
    to_agent: mpsc::Sender<Bytes>,
    reply_to: Option<String>,
}

/// Runs one agent's broker connection until `shutdown`.
pub(crate) async fn serve_agent(
    actor: mpsc::Sender<Cmd>,
    key: String,
    agent: EndpointId,
    identity: std::sync::Arc<usp_client::tls::Identity>,
    broker: StompBroker,
    mut shutdown: watch::Receiver<bool>,
) {
    let address = match StompAddress::parse(&broker.url) {
        Ok(a) => a,
        Err(e) => {
            warn!(agent = %key, error = %e, "not serving over STOMP");
            return;
        }
    };
    let own_dest = agent_destination(&agent);
    let (out_tx, mut out_rx) = mpsc::channel::<(EndpointId, Bytes)>(OUT_QUEUE);
    let mut controllers: HashMap<EndpointId, Controller> = HashMap::new();
    let mut wait = Duration::from_millis(100);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let user = broker.login.as_ref().map(|l| l.username.clone()).or_else(|| address.user.clone());
        let password = broker.login.as_ref().map(|l| l.password.as_str()).unwrap_or_default();
        let beat = u32::try_from(broker.heart_beat.as_millis()).unwrap_or(u32::MAX);
        let params = ConnectParams {
            host: &address.host,
            port: address.port,
            tls: if address.tls { broker.tls.clone() } else { None },
            vhost: &address.vhost,
            endpoint_id: &agent,
            login: user.as_deref().map(|u| (u, password)),
            heart_beat: (beat, beat),
            limits: Limits { max_body: 5 * 1024 * 1024, ..Limits::default() },
        };
        let opened = tokio::time::timeout(Duration::from_secs(10), StompConn::connect(params)).await;
        let mut conn = match opened {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                debug!(agent = %key, error = %e, "STOMP broker not reachable; retrying");
                if pause(&mut shutdown, &mut wait).await {
                    return;
                }
                continue;
            }
            Err(_) => {
                if pause(&mut shutdown, &mut wait).await {
                    return;
                }
                continue;
            }
        };
        let early = match conn.subscribe("agent-0", &own_dest).await {
            Ok(early) => early,
            Err(e) => {
                warn!(agent = %key, error = %e.text(), "the broker refused the agent's subscription");
                if pause(&mut shutdown, &mut wait).await {
                    return;
                }
                continue;
            }
        };
        wait = Duration::from_millis(100);
        info!(agent = %key, destination = %own_dest, "serving over STOMP");
        for (controller, dest) in &broker.controllers {
            let record = encode_record(
                controller.as_str(),
                agent.as_str(),
                RecordType::StompConnect(StompConnectRecord { version: 0, subscribed_destination: own_dest.clone() }),
            );
            conn.queue(&Frame::send(dest, &own_dest, Bytes::from(record)));
        }
        let mut pending: std::collections::VecDeque<(mpsc::Sender<Bytes>, Bytes)> = early
            .into_iter()
            .filter_map(|f| on_frame(&actor, &key, (&agent, &identity), &out_tx, &mut controllers, f))
            .collect();
        let beat_every = conn.heart_beats.send_every.unwrap_or(Duration::from_secs(3600));
        let silence = conn.heart_beats.expect_every.map(|d| d * 3 + Duration::from_secs(1));
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + beat_every, beat_every);
        let mut last_rx = tokio::time::Instant::now();
        let why = loop {
            if conn.pending_out() > 0 {
                if let Err(e) = conn.flush().await {
                    break e.text().to_owned();
                }
            }
            tokio::select! {
                _ = shutdown.changed() => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), conn.disconnect()).await;
                    return;
                }
                item = conn.next(), if pending.is_empty() => match item {
                    Err(e) => break e.text().to_owned(),
                    Ok(Incoming::HeartBeat) => last_rx = tokio::time::Instant::now(),
                    Ok(Incoming::Frame(f)) if f.command == "ERROR" => {
                        break format!("the broker reported an error: {}", usp_client::mtp::stomp::conn::error_text(&f, None));
                    }
                    Ok(Incoming::Frame(f)) => {
                        last_rx = tokio::time::Instant::now();
                        // Straight into the pipe when it has room; else the branch below waits.
                        if let Some((to, record)) = on_frame(&actor, &key, (&agent, &identity), &out_tx, &mut controllers, f) {
                            if let Err(mpsc::error::TrySendError::Full(record)) = to.try_send(record) {
                                pending.push_back((to, record));
                            }
                        }
                    }
                },
                // A Record for a pipe: the broker's frames wait meanwhile (the branch above is
                // off), while the agent's answers keep flowing out (the branch below).
                _ = deliver(pending.front()), if !pending.is_empty() => {
                    pending.pop_front();
                }
                Some((controller, record)) = out_rx.recv() => {
                    let dest = controllers.get(&controller).and_then(|c| c.reply_to.clone()).or_else(|| {
                        broker.controllers.iter().find(|(c, _)| *c == controller).map(|(_, d)| d.clone())
                    }).unwrap_or_else(|| derived_destination(&controller, None));
                    conn.queue(&Frame::send(&dest, &own_dest, record));
                    // Take what else is ready, so a burst goes out in one write.
                    while conn.pending_out() < 256 * 1024 {
                        let Ok((c, r)) = out_rx.try_recv() else { break };
                        let d = controllers.get(&c).and_then(|x| x.reply_to.clone()).unwrap_or_else(|| derived_destination(&c, None));
                        conn.queue(&Frame::send(&d, &own_dest, r));
                    }
                }
                _ = beat.tick() => {
                    if silence.is_some_and(|s| last_rx.elapsed() > s) {
                        break "the broker sent no heart-beat".to_owned();
                    }
                    conn.queue_heart_beat();
                }
            }
        };
        info!(agent = %key, reason = %usp_core::text::for_log(&why), "STOMP connection lost; reconnecting");
        if pause(&mut shutdown, &mut wait).await {
            return;
        }
    }
}

/// Hands one Record to its pipe (a pipe whose agent side ended takes nothing: dropped).
async fn deliver(item: Option<&(mpsc::Sender<Bytes>, Bytes)>) {
    if let Some((to, record)) = item {
        let _ = to.send(record.clone()).await;
    }
}

/// Waits `wait` (doubling it up to 5 s); true when the home shuts down meanwhile.
async fn pause(shutdown: &mut watch::Receiver<bool>, wait: &mut Duration) -> bool {
    let w = *wait;
    *wait = (*wait * 2).min(Duration::from_secs(5));
    tokio::select! {
        _ = tokio::time::sleep(w) => *shutdown.borrow(),
        _ = shutdown.changed() => true,
    }
}

/// A frame from the broker: a Record for its controller's pipe (made on first use), to be
/// delivered by the caller.
fn on_frame(
    actor: &mpsc::Sender<Cmd>,
    key: &str,
    (agent, identity): (&EndpointId, &std::sync::Arc<usp_client::tls::Identity>),
    out_tx: &mpsc::Sender<(EndpointId, Bytes)>,
    controllers: &mut HashMap<EndpointId, Controller>,
    f: Frame,
) -> Delivery {
    if f.command != "MESSAGE" {
        return None;
    }
    if let Some(ct) = f.header("content-type") {
        if !ct.trim().eq_ignore_ascii_case(usp_core::stomp::USP_CONTENT_TYPE) {
            return None;
        }
    }
    let reply_to = f
        .header("reply-to-dest")
        .filter(|d| usp_client::mtp::stomp::address::check_destination(d).is_ok())
        .map(str::to_owned);
    let body = f.body;
    let peek = usp_core::wire::peek_record(&body)?;
    if peek.to_id != agent.as_str() {
        return None;
    }
    let controller = peek.from_id.parse::<EndpointId>().ok()?;
    if controllers.get(&controller).is_some_and(|c| c.to_agent.is_closed()) {
        controllers.remove(&controller);
    }
    if !controllers.contains_key(&controller) {
        if controllers.len() >= MAX_CONTROLLERS {
            controllers.retain(|_, c| !c.to_agent.is_closed());
            if controllers.len() >= MAX_CONTROLLERS {
                return None;
            }
        }
        let (to_agent, incoming) = mpsc::channel(PIPE_QUEUE);
        let (outgoing, mut from_agent) = mpsc::channel::<Bytes>(PIPE_QUEUE);
        let out = out_tx.clone();
        let who = controller.clone();
        tokio::spawn(async move {
            while let Some(r) = from_agent.recv().await {
                if out.send((who.clone(), r)).await.is_err() {
                    break;
                }
            }
        });
        let pipe = RecordPipe { controller: controller.clone(), incoming, outgoing, connect_record: None };
        tokio::spawn(super::serve_pipe(actor.clone(), key.to_owned(), agent.clone(), identity.clone(), pipe));
        controllers.insert(controller.clone(), Controller { to_agent, reply_to: None });
    }
    let c = controllers.get_mut(&controller)?;
    if reply_to.is_some() {
        c.reply_to = reply_to;
    }
    Some((c.to_agent.clone(), body))
}
