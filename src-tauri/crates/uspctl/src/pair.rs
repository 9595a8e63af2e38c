//! `pair`: trust an agent's certificate on first use (wss://), then answer its passcode
//! challenge for end-user rights.

use std::time::Duration;

use usp_client::{Client, ClientConfig};
use usp_core::EndpointId;

use crate::cli::Cli;
use crate::connect;
use crate::discover::find_by_discovery;
use crate::failure::{local_failure, Failure};
use crate::identity::qr_text;
use crate::output;

/// Asks a yes/no question on the terminal; `false` without a terminal.
fn confirm(question: &str) -> bool {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return false;
    }
    if output::text(format_args!("{question} [y/N] ")).is_err() {
        return false;
    }
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

fn read_passcode(from_stdin: bool) -> Result<app_core::secret::Secret<String>, Failure> {
    use std::io::IsTerminal;
    let mut line = if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| local_failure("cannot read the passcode", e))?;
        line
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Passcode: ").map_err(|e| local_failure("cannot read the passcode", e))?
    } else {
        return Err(Failure::usage("no terminal to read the passcode from: use --passcode-stdin"));
    };
    let passcode = app_core::secret::Secret::new(line.trim_end_matches(['\r', '\n']).to_owned());
    zeroize_string(&mut line);
    if passcode.expose().trim().is_empty() {
        return Err(Failure::usage("no passcode given"));
    }
    Ok(passcode)
}

fn zeroize_string(s: &mut String) {
    // Overwrite in place (same length, valid UTF-8) before the buffer is freed.
    let n = s.len();
    s.clear();
    s.extend(std::iter::repeat_n('\0', n));
}

fn pairing_failure(e: app_core::pairing::PairingError) -> Failure {
    use app_core::pairing::ErrorClass;
    let code = match e.class() {
        ErrorClass::Network => 3,
        _ => 1,
    };
    Failure { code, message: e.to_string() }
}

pub(crate) async fn pair(cli: &Cli, target: &str, passcode_stdin: bool, trust_first_use: bool) -> Result<(), Failure> {
    use app_core::pairing::AuthState;
    let timeout = connect::timeout(cli)?;
    let is_url = target.starts_with("ws://") || target.starts_with("wss://");
    let (url, mut agent_eid) = if is_url {
        (target.to_owned(), connect::wanted_agent(cli)?)
    } else {
        let eid: EndpointId = target.parse().map_err(|e| {
            Failure::usage(format!("{target:?} is neither a ws:// or wss:// URL nor an Endpoint ID: {e}"))
        })?;
        let url = match cli.agent.clone() {
            Some(url) => url,
            None => find_by_discovery(cli, &eid, timeout).await?,
        };
        (url, Some(eid))
    };
    let secure = url.starts_with("wss://");
    // Over wss:// we are who our certificate says: this installation's identity.
    let tls = if secure { Some(connect::secure_identity(cli)?) } else { None };
    let own_id: EndpointId = match &tls {
        Some((me, _)) => me.eid().clone(),
        None => connect::own_endpoint_id(cli)?,
    };
    let mut asked = false;
    let client = loop {
        let seen = usp_client::tls::ObservedCert::new();
        let mut config = ClientConfig::new(url.clone(), own_id.clone());
        // Over ws:// we learn who answers and compare below (see connect::connect).
        config.agent_id = agent_eid.clone().filter(|_| secure);
        config.connect_timeout = timeout;
        config.request_timeout = timeout;
        if let Some((me, pins)) = &tls {
            let trust = usp_client::tls::AgentTrust::new(pins.clone());
            config.tls = Some(
                usp_client::tls::client_config(me.tls(), trust, agent_eid.clone(), seen.clone())
                    .map_err(|e| local_failure("cannot set up TLS", e))?,
            );
        }
        let ours = tls.as_ref().map(|(me, _)| connect::OurCertificate::of(me));
        let connected = connect::start(config, ours.as_ref()).await.map_err(|e| match e {
            connect::Refusal::Refused(f) => Err(f),
            connect::Refusal::Other(e) => Ok(AuthState::from_client_error(&e, &own_id)),
        });
        match connected {
            Ok(c) => {
                if let Some(wanted) = agent_eid.as_ref().filter(|_| !secure) {
                    connect::check_reached(&c, wanted, &url).await?;
                }
                break c;
            }
            Err(Err(refused)) => return Err(refused),
            Err(Ok(AuthState::FirstUse { agent, fingerprint })) if !asked => {
                asked = true;
                outln!("First secure connection to {agent}.");
                outln!("Its certificate SHA-256 fingerprint is {fingerprint}.");
                outln!("Compare it with the fingerprint the device shows (label or admin page).");
                if !(trust_first_use || confirm("Trust this device?")) {
                    return Err(Failure {
                        code: 3,
                        message: format!(
                            "{agent} is not trusted; nothing was done (use --trust-first-use to trust it)"
                        ),
                    });
                }
                if let Some((_, pins)) = &tls {
                    usp_client::tls::trust_on_first_use(pins.as_ref(), &seen)
                        .map_err(|e| local_failure("cannot trust the certificate", e))?;
                }
                agent_eid = Some(agent);
            }
            Err(Ok(state)) => return Err(Failure { code: 3, message: state.to_string() }),
        }
    };
    let result = pair_connected(&client, passcode_stdin, timeout).await;
    client.close().await;
    result
}

/// Probes the connected agent and, when it is untrusted, runs its passcode challenge.
async fn pair_connected(client: &Client, passcode_stdin: bool, timeout: Duration) -> Result<(), Failure> {
    use app_core::pairing::{self, AuthState, Instruction, ProbeConfig};
    let probe = ProbeConfig { answer_timeout: timeout.min(ProbeConfig::default().answer_timeout) };
    match pairing::probe_with(client, &probe).await {
        AuthState::Connected { role } => {
            outln!("Already paired: role {role}.");
            return Ok(());
        }
        AuthState::Untrusted { can_pair: true } => {}
        AuthState::NotAuthorised { own_eid } => {
            // The agent ignores controllers it does not know: the user adds us in the
            // router's own admin page, by typing or scanning our Endpoint ID.
            errln!("{}", qr_text(own_eid.as_str()));
            let state = AuthState::NotAuthorised { own_eid };
            return Err(Failure { code: 1, message: state.to_string() });
        }
        state @ (AuthState::Untrusted { can_pair: false } | AuthState::LockedOut { .. }) => {
            return Err(Failure { code: 1, message: state.to_string() })
        }
        state => return Err(Failure { code: 3, message: state.to_string() }),
    }
    let offered = pairing::challenges(client).await.map_err(pairing_failure)?;
    let Some(info) = offered.first() else {
        return Err(pairing_failure(pairing::PairingError::NotOffered));
    };
    if let Some(d) = &info.description {
        outln!("{d}");
    }
    let challenge = pairing::request_challenge(client, info).await.map_err(pairing_failure)?;
    match &challenge.instruction {
        Instruction::Text(t) | Instruction::Html(t) => outln!("{t}"),
        Instruction::Image { mime, bytes } => {
            outln!(
                "The device shows its instruction as an image ({mime}, {} bytes), which uspctl can't display.",
                bytes.len()
            )
        }
    }
    let passcode = read_passcode(passcode_stdin)?;
    let role = pairing::respond(client, &challenge, &passcode).await.map_err(pairing_failure)?;
    outln!("Paired. Role: {role}.");
    Ok(())
}
