//! One agent reachable over several MTPs (a WebSocket server on the LAN, and MQTT through a
//! broker, say): a [`Connector`] that tries its addresses in order of preference on every
//! (re)connect, so the best one that works is used and a failing one falls back to the next,
//! and a recovered better one is used again at the next reconnect.

use std::sync::Mutex;

use super::{BoxFuture, Connector, Opened};
use crate::error::ConnectError;
use crate::ClientConfig;

/// Addresses of one agent, best first (see [`preference`]).
#[derive(Debug)]
pub struct Fallback {
    urls: Vec<String>,
    /// The address of the connection opened last, for the app to show.
    last: Mutex<Option<String>>,
}

impl Fallback {
    /// Tries `urls` in the order given (sort them with [`preference`] first).
    pub fn new(urls: Vec<String>) -> Fallback {
        Fallback { urls, last: Mutex::new(None) }
    }

    /// The addresses, in the order they are tried.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// The address of the connection opened last.
    pub fn last_used(&self) -> Option<String> {
        self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// The order in which the MTPs of one agent are tried: a WebSocket on the LAN first (direct,
/// and the agent's own certificate when encrypted), then CoAP (direct, but unprotected), then
/// the brokers (MQTT, then STOMP); an unknown address last. Lower is better.
pub fn preference(url: &str) -> u8 {
    match super::carrier_of(url) {
        Ok(c) => match (c.mtp, c.tls) {
            (super::Mtp::Ws, true) => 0,
            (super::Mtp::Ws, false) => 1,
            (super::Mtp::Coap, _) => 2,
            (super::Mtp::Mqtt, true) => 3,
            (super::Mtp::Mqtt, false) => 4,
            (super::Mtp::Stomp, true) => 5,
            (super::Mtp::Stomp, false) => 6,
            (super::Mtp::Memory, _) => 7,
        },
        Err(_) => u8::MAX,
    }
}

impl Connector for Fallback {
    fn connect<'a>(&'a self, config: &'a ClientConfig) -> BoxFuture<'a, Result<Opened, ConnectError>> {
        Box::pin(async move {
            let mut first_error = None;
            // Each address gets an equal share of the time allowed for one attempt.
            let tries = u32::try_from(self.urls.len().max(1)).unwrap_or(u32::MAX);
            let share = config.connect_timeout / tries;
            for url in &self.urls {
                let mut one = config.clone();
                if *url != config.url {
                    // A broker login belongs to the broker it was given for (the address the
                    // settings name): never sent to another address an advert offered.
                    one.login = None;
                }
                one.url = url.clone();
                one.connector = None;
                one.connect_timeout = share;
                let attempt = tokio::time::timeout(share, super::connect(&one)).await;
                match attempt {
                    Ok(Ok(opened)) => {
                        *self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(url.clone());
                        return Ok(opened);
                    }
                    // A certificate question is the person's to answer: never hidden by a fallback
                    // to a weaker MTP.
                    Ok(Err(e)) if e.needs_user() && !matches!(e, ConnectError::BadUrl(_)) => return Err(e),
                    Ok(Err(e)) => {
                        tracing::debug!(url = %usp_core::text::for_log(url), error = %e, "address failed, trying the next");
                        first_error.get_or_insert(e);
                    }
                    Err(_) => {
                        first_error.get_or_insert(ConnectError::Timeout(share));
                    }
                }
            }
            Err(first_error.unwrap_or_else(|| ConnectError::BadUrl("no address to try".into())))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lan_websocket_first_brokers_last() {
        let mut urls = vec![
            "stomp://b:61613/queue/a".to_owned(),
            "mqtt://b:1883/usp/a".to_owned(),
            "ws://10.0.0.1:8080/usp".to_owned(),
            "coap://10.0.0.1:5683/usp".to_owned(),
            "wss://10.0.0.1:8443/usp".to_owned(),
            "mqtts://b:8883/usp/a".to_owned(),
        ];
        urls.sort_by_key(|u| preference(u));
        assert_eq!(
            urls,
            [
                "wss://10.0.0.1:8443/usp",
                "ws://10.0.0.1:8080/usp",
                "coap://10.0.0.1:5683/usp",
                "mqtts://b:8883/usp/a",
                "mqtt://b:1883/usp/a",
                "stomp://b:61613/queue/a"
            ]
        );
    }
}
