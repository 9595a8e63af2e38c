//! One agent reachable over several MTPs (a WebSocket server on the LAN, and MQTT through a
//! broker, say): a [`Connector`] that tries its addresses in order of preference on every
//! (re)connect, so the best one that works is used and a failing one falls back to the next,
//! and a recovered better one is used again at the next reconnect.

use std::sync::{Arc, Mutex};

use super::mqtt::MqttConnector;
use super::{BoxFuture, Connector, Mtp, Opened};
use crate::error::ConnectError;
use crate::ClientConfig;

/// Addresses of one agent, best first (see [`preference`]).
#[derive(Debug)]
pub struct Fallback {
    urls: Vec<String>,
    /// One MQTT connector per `mqtt*://` address (same index as `urls`), kept for the
    /// Fallback's life: what a session learns (the broker-assigned client id, the agent's
    /// topic) then survives a reconnect, even one that went through another address.
    mqtt: Vec<Option<Arc<MqttConnector>>>,
    /// The address of the connection opened last, for the app to show.
    last: Mutex<Option<String>>,
}

impl Fallback {
    /// Tries `urls` in the order given (sort them with [`preference`] first).
    pub fn new(urls: Vec<String>) -> Fallback {
        let mqtt = urls
            .iter()
            .map(|u| (super::carrier_of(u).map(|c| c.mtp) == Ok(Mtp::Mqtt)).then(|| Arc::new(MqttConnector::new())))
            .collect();
        Fallback { urls, mqtt, last: Mutex::new(None) }
    }

    /// The MQTT connector kept for `url` (an `mqtt*://` address among ours), to see what it
    /// remembers.
    pub fn mqtt_connector(&self, url: &str) -> Option<&MqttConnector> {
        let i = self.urls.iter().position(|u| u == url)?;
        self.mqtt.get(i)?.as_deref()
    }

    /// The settings for one attempt at the address at `index`, out of the client's.
    fn attempt_config(&self, index: usize, config: &ClientConfig, share: std::time::Duration) -> ClientConfig {
        let mut one = config.clone();
        let url = self.urls.get(index).cloned().unwrap_or_default();
        if url != config.url {
            // A broker login belongs to the broker it was given for (the address the
            // settings name): never sent to another address an advert offered.
            one.login = None;
        }
        one.url = url;
        one.connector = self.mqtt.get(index).cloned().flatten().map(|c| c as Arc<dyn Connector>);
        one.connect_timeout = share;
        one
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
            for (index, url) in self.urls.iter().enumerate() {
                let one = self.attempt_config(index, config, share);
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
    fn each_mqtt_address_keeps_its_connector_across_attempts() {
        let urls =
            vec!["ws://10.0.0.1:8080/usp".to_owned(), "mqtt://b:1883/usp/a".to_owned(), "mqtts://c/usp/a".to_owned()];
        let f = Fallback::new(urls);
        let config = ClientConfig::new("mqtt://b:1883/usp/a", "self::me".parse().expect("eid"));
        let share = std::time::Duration::from_secs(1);
        let connector = |i: usize| f.attempt_config(i, &config, share).connector;
        // A WebSocket address opens by its scheme; each MQTT address gets its own connector,
        // the same one at every attempt.
        assert!(connector(0).is_none());
        let (first, again) = (connector(1).expect("mqtt"), connector(1).expect("mqtt"));
        assert!(Arc::ptr_eq(&first, &again), "a new MQTT connector at each attempt forgets what the last learnt");
        assert!(!Arc::ptr_eq(&first, &connector(2).expect("mqtts")), "one connector per broker");
        assert!(f.mqtt_connector("mqtt://b:1883/usp/a").is_some());
        assert!(f.mqtt_connector("ws://10.0.0.1:8080/usp").is_none());
        // The login stays with the address the settings name.
        let mut with_login = config.clone();
        with_login.login = Some(crate::Login { username: "u".into(), password: "p".to_owned().into() });
        assert!(f.attempt_config(1, &with_login, share).login.is_some());
        assert!(f.attempt_config(2, &with_login, share).login.is_none());
    }

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
