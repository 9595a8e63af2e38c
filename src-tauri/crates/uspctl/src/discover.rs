//! `discover`, and finding one agent's address by mDNS (for `pair`).

use std::time::Duration;

use serde_json::{json, Value};
use usp_core::EndpointId;

use crate::cli::Cli;
use crate::failure::{local_failure, Failure};
use crate::output::{self, print_json};

fn mdns_interfaces(cli: &Cli) -> Result<usp_client::discovery::Interfaces, Failure> {
    cli.interfaces.parse().map_err(|e| Failure::usage(format!("--interfaces: {e}")))
}

/// Browses for `--timeout` seconds and prints each agent as it appears.
pub(crate) async fn discover(cli: &Cli) -> Result<(), Failure> {
    use usp_client::discovery::{Discovery, DiscoveryEvent};
    let timeout = crate::connect::timeout(cli)?;
    let mut d = Discovery::start(mdns_interfaces(cli)?).map_err(|e| local_failure("cannot start mDNS discovery", e))?;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut found = Vec::new();
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, d.next_event()).await {
        match ev {
            DiscoveryEvent::Appeared(a)
                if !found.iter().any(|f: &usp_client::discovery::DiscoveredAgent| {
                    f.endpoint_id == a.endpoint_id && f.mtp == a.mtp
                }) =>
            {
                if !cli.json {
                    outln!(
                        "{}\t{}\t{}\t{}",
                        a.endpoint_id,
                        a.name.as_deref().unwrap_or("-"),
                        a.url.as_deref().unwrap_or("-"),
                        if a.encrypt { "encrypt" } else { "-" }
                    );
                    output::flush()?;
                }
                found.push(a);
            }
            DiscoveryEvent::Skipped { instance, reason } => {
                tracing::debug!(%instance, %reason, "skipped an mDNS announcement");
            }
            _ => {}
        }
    }
    d.stop();
    if cli.json {
        let list: Vec<Value> = found
            .iter()
            .map(|a| {
                json!({
                    "endpoint_id": a.endpoint_id.as_str(), "name": a.name, "url": a.url, "encrypt": a.encrypt,
                    "mtp": format!("{:?}", a.mtp), "subtypes": a.subtypes,
                })
            })
            .collect();
        print_json(&list)?;
    }
    if found.is_empty() {
        errln!("uspctl: no USP agent answered within {timeout:?} (interfaces: {})", cli.interfaces);
    }
    Ok(())
}

/// The WebSocket URL of `eid`, found by mDNS within `timeout`.
pub(crate) async fn find_by_discovery(cli: &Cli, eid: &EndpointId, timeout: Duration) -> Result<String, Failure> {
    use usp_client::discovery::{Discovery, DiscoveryEvent};
    let mut d = Discovery::start(mdns_interfaces(cli)?).map_err(|e| local_failure("cannot start mDNS discovery", e))?;
    let deadline = tokio::time::Instant::now() + timeout;
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, d.next_event()).await {
        if let DiscoveryEvent::Appeared(a) | DiscoveryEvent::Updated(a) = ev {
            if a.endpoint_id == *eid {
                if let Some(url) = a.url {
                    d.stop();
                    return Ok(url);
                }
            }
        }
    }
    d.stop();
    Err(Failure {
        code: 3,
        message: format!(
            "{eid} did not announce itself within {timeout:?}; give its address with --agent ws://HOST:PORT/PATH"
        ),
    })
}
