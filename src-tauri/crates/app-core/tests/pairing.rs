//! Pairing against an in-process simulated home, over real loopback sockets.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app_core::pairing::{self, AuthState, ChallengeInfo, Instruction, PairingError, ProbeConfig};
use app_core::secret::Secret;
use app_core::vault::{SecretKind, Vault, VaultBackendKind, VaultConfig};
use base64::Engine as _;
use sim_home::scenario::Scenario;
use sim_home::spec::UnknownControllerPolicy;
use sim_home::tls::TlsMode;
use sim_home::{Home, HomeConfig};
use usp_client::tls::{self, AgentTrust, Identity, MemoryPinStore, ObservedCert, PinStore};
use usp_client::{Client, ClientConfig};
use usp_core::EndpointId;

const PASSCODE: &str = "482913";
const SSID3: &str = "Device.WiFi.SSID.3.Enable";

fn scenario(lockout_secs: Option<u32>) -> Scenario {
    let mut s = Scenario::builtin();
    // The stock roles of the reference agent: the built-in scenario's extra read permissions
    // are added back by the tests that want them.
    for a in &mut s.agents {
        a.permissions.clear();
    }
    if let Some(secs) = lockout_secs {
        for a in &mut s.agents {
            if let Some(c) = &mut a.challenge {
                c.lockout_secs = secs;
            }
        }
    }
    s
}

async fn home(policy: UnknownControllerPolicy, lockout_secs: Option<u32>, tls: Option<TlsMode>) -> Home {
    let mut config = HomeConfig::new(scenario(lockout_secs));
    config.unknown_controllers = Some(policy);
    config.tls = tls;
    Home::start(config).await.unwrap()
}

fn config(url: &str) -> ClientConfig {
    let mut c = ClientConfig::new(url, EndpointId::generate_installation());
    c.connect_timeout = Duration::from_secs(5);
    c.request_timeout = Duration::from_secs(5);
    c
}

async fn client(url: &str) -> Client {
    pairing::connect(config(url)).await.unwrap()
}

/// Adds a read-only Permission row (order `order`, `targets`) to role row `role` of the gateway.
async fn allow_reading(home: &Home, role: u32, order: &str, targets: &str) {
    let gw = home.agent("gateway").unwrap();
    gw.add(
        &format!("Device.LocalAgent.ControllerTrust.Role.{role}.Permission."),
        &[
            ("Enable", "true"),
            ("Order", order),
            ("Targets", targets),
            ("Param", "r---"),
            ("Obj", "r---"),
            ("InstantiatedObj", "r---"),
            ("CommandEvent", "----"),
        ],
    )
    .await
    .unwrap();
}

/// Lets the Untrusted role (row 2) read the Challenge table (Alias, Description, Retries,
/// LockoutPeriod; the secured Value reads as ""), as TR-181 suggests agents do.
async fn untrusted_may_read_challenges(home: &Home) {
    allow_reading(home, 2, "10", "Device.LocalAgent.ControllerTrust.Challenge.").await;
}

/// Lets the Home User role (row 3) read the Controller table and role names.
async fn home_user_may_read_roles(home: &Home) {
    allow_reading(home, 3, "20", "Device.LocalAgent.Controller.,Device.LocalAgent.ControllerTrust.Role.").await;
}

async fn assert_set_refused(c: &Client) {
    let err = c.set(&[(SSID3, "true")]).await.expect_err("the Untrusted role may not Set");
    // 7006 itself, or 7021 (required parameter failed) carrying 7006 for the parameter.
    let denied = match &err {
        usp_client::ClientError::Usp(e) => {
            e.code == 7006 || (e.code == 7021 && e.param_errs.iter().any(|(p, code, _)| p == SSID3 && *code == 7006))
        }
        _ => false,
    };
    assert!(denied, "{err}");
}

async fn pair(c: &Client, passcode: &str) -> Result<pairing::RoleSummary, PairingError> {
    let list = pairing::challenges(c).await?;
    let challenge = pairing::request_challenge(c, &list[0]).await?;
    pairing::respond(c, &challenge, &Secret::new(passcode.to_owned())).await
}

#[tokio::test]
async fn full_pairing_gives_home_user() {
    let home = home(UnknownControllerPolicy::Untrusted, None, None).await;
    home_user_may_read_roles(&home).await;
    let gw = home.agent("gateway").unwrap();
    let c = client(&gw.url).await;

    assert_eq!(pairing::probe(&c).await, AuthState::Untrusted { can_pair: true });
    assert_set_refused(&c).await;

    let list = pairing::challenges(&c).await.unwrap();
    assert_eq!(list, vec![ChallengeInfo::at("Device.LocalAgent.ControllerTrust.Challenge.1")]);
    let challenge = pairing::request_challenge(&c, &list[0]).await.unwrap();
    assert_eq!(
        challenge.instruction,
        Instruction::Text("Enter the 6-digit passcode printed on the label under the gateway".into())
    );
    assert_eq!(challenge.value_type, "text/plain");
    let role = pairing::respond(&c, &challenge, &Secret::new(PASSCODE.to_owned())).await.unwrap();
    assert_eq!(role.names, vec!["Home User".to_owned()]);
    assert!(!role.full_access);
    assert_eq!(pairing::probe(&c).await, AuthState::Connected { role });

    c.set(&[(SSID3, "true")]).await.unwrap();
    assert_eq!(gw.get(SSID3).await.as_deref(), Some("true"));
    c.close().await;
}

#[tokio::test]
async fn pairing_with_stock_permissions_gives_end_user_rights() {
    // The stock roles: Untrusted reads only DeviceInfo, Home User can't read its own role.
    let home = home(UnknownControllerPolicy::Untrusted, None, None).await;
    let gw = home.agent("gateway").unwrap();
    let c = client(&gw.url).await;
    assert_eq!(pairing::probe(&c).await, AuthState::Untrusted { can_pair: true });
    let role = pair(&c, PASSCODE).await.unwrap();
    assert!(role.names.is_empty() && !role.full_access, "{role:?}");
    assert_eq!(role.to_string(), "end-user rights");
    assert_eq!(pairing::probe(&c).await, AuthState::Connected { role });
    c.set(&[(SSID3, "true")]).await.unwrap();
}

#[tokio::test]
async fn full_access_controller_is_connected() {
    let eid = EndpointId::generate_installation();
    let mut hc = HomeConfig::new(Scenario::builtin());
    hc.extra_controllers = vec![(eid.clone(), "Full Access".to_owned())];
    let home = Home::start(hc).await.unwrap();
    let mut cfg = config(&home.agent("gateway").unwrap().url);
    cfg.own_id = eid;
    let c = pairing::connect(cfg).await.unwrap();
    match pairing::probe(&c).await {
        AuthState::Connected { role } => {
            assert!(role.full_access, "{role:?}");
            assert_eq!(role.names, vec!["Full Access".to_owned()]);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn wrong_passcode_counts_down_tries() {
    let home = home(UnknownControllerPolicy::Untrusted, None, None).await;
    untrusted_may_read_challenges(&home).await;
    let c = client(&home.agent("gateway").unwrap().url).await;
    let list = pairing::challenges(&c).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].retries, Some(3));
    assert_eq!(list[0].lockout, Some(Duration::from_secs(30)));
    assert_eq!(list[0].description.as_deref(), Some("Passcode printed on the label under the gateway"));
    let challenge = pairing::request_challenge(&c, &list[0]).await.unwrap();
    let wrong = Secret::new("000000".to_owned());
    let e = pairing::respond(&c, &challenge, &wrong).await.unwrap_err();
    assert_eq!(e, PairingError::WrongPasscode { tries_left: Some(2) });
    assert_eq!(e.to_string(), "Wrong passcode, 2 tries left.");
    let e = pairing::respond(&c, &challenge, &wrong).await.unwrap_err();
    assert_eq!(e, PairingError::WrongPasscode { tries_left: Some(1) });
    // The right one still works after two failures.
    pairing::respond(&c, &challenge, &Secret::new(PASSCODE.to_owned())).await.unwrap();
    c.set(&[(SSID3, "true")]).await.unwrap();
}

#[tokio::test]
async fn wrong_passcode_without_readable_retries() {
    let home = home(UnknownControllerPolicy::Untrusted, None, None).await;
    let c = client(&home.agent("gateway").unwrap().url).await;
    let e = pair(&c, "111111").await.unwrap_err();
    assert_eq!(e, PairingError::WrongPasscode { tries_left: None });
    assert_eq!(e.to_string(), "Wrong passcode. Check it and try again.");
    assert_eq!(e.usp_code(), Some(7022));
}

#[tokio::test]
async fn lockout_after_three_and_its_end() {
    let home = home(UnknownControllerPolicy::Untrusted, Some(1), None).await;
    untrusted_may_read_challenges(&home).await;
    let c = client(&home.agent("gateway").unwrap().url).await;
    let list = pairing::challenges(&c).await.unwrap();
    let challenge = pairing::request_challenge(&c, &list[0]).await.unwrap();
    let wrong = Secret::new("999999".to_owned());
    let right = Secret::new(PASSCODE.to_owned());
    for left in [2, 1] {
        let e = pairing::respond(&c, &challenge, &wrong).await.unwrap_err();
        assert_eq!(e, PairingError::WrongPasscode { tries_left: Some(left) });
    }
    let e = pairing::respond(&c, &challenge, &wrong).await.unwrap_err();
    assert_eq!(e, PairingError::LockedOut { retry_in: Some(Duration::from_secs(1)) });
    assert_eq!(e.to_string(), "Too many wrong passcodes. Try again in 1 second.");
    let started = Instant::now();
    // During the lock-out even the right passcode is refused (the agent forgot the challenge
    // or refuses it).
    match pairing::respond(&c, &challenge, &right).await {
        Err(PairingError::LockedOut { .. } | PairingError::Expired) => {}
        other => panic!("{other:?}"),
    }
    // Poll until the lock-out ends (bounded).
    let challenge = loop {
        match pairing::request_challenge(&c, &list[0]).await {
            Ok(ch) => break ch,
            Err(PairingError::LockedOut { .. }) => {
                assert!(started.elapsed() < Duration::from_secs(5), "the lock-out did not end");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e:?}"),
        }
    };
    pairing::respond(&c, &challenge, &right).await.unwrap();
    c.set(&[(SSID3, "true")]).await.unwrap();
}

#[tokio::test]
async fn expired_challenge_says_start_again() {
    let home = home(UnknownControllerPolicy::Untrusted, None, None).await;
    let c = client(&home.agent("gateway").unwrap().url).await;
    let list = pairing::challenges(&c).await.unwrap();
    let challenge = pairing::request_challenge_with(&c, &list[0], Some(Duration::from_secs(1))).await.unwrap();
    // The agent's expiry runs on its wall clock, in whole seconds.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let e = pairing::respond(&c, &challenge, &Secret::new(PASSCODE.to_owned())).await.unwrap_err();
    assert_eq!(e, PairingError::Expired);
    assert_eq!(e.to_string(), "The pairing request expired. Start again.");
    // Starting again works.
    pair(&c, PASSCODE).await.unwrap();
}

#[tokio::test]
async fn ignoring_agent_is_not_authorised() {
    let home = home(UnknownControllerPolicy::Ignore, None, None).await;
    let c = client(&home.agent("gateway").unwrap().url).await;
    let started = Instant::now();
    let state = pairing::probe_with(&c, &ProbeConfig { answer_timeout: Duration::from_secs(1) }).await;
    assert_eq!(state, AuthState::NotAuthorised { own_eid: c.own_id().clone() });
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(state.to_string().contains(c.own_id().as_str()));
}

#[tokio::test]
async fn unreachable_agent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut cfg = config(&format!("ws://127.0.0.1:{port}/usp"));
    cfg.connect_timeout = Duration::from_millis(500);
    match pairing::connect(cfg).await {
        Err(AuthState::Unreachable { .. }) => {}
        other => panic!("{other:?}"),
    }
}

// ---- wss ----

fn wss_config(
    url: &str,
    me: &Identity,
    pins: Arc<dyn PinStore>,
    expected: Option<EndpointId>,
    seen: Arc<ObservedCert>,
) -> ClientConfig {
    let mut c = config(url);
    c.own_id = me.eid().clone();
    c.agent_id = expected.clone();
    c.tls = Some(tls::client_config(me, AgentTrust::new(pins), expected, seen).unwrap());
    c
}

#[tokio::test]
async fn wss_first_use_then_pairing() {
    let home = home(UnknownControllerPolicy::Untrusted, None, Some(TlsMode::self_signed())).await;
    let gw = home.agent("gateway").unwrap();
    let me = Identity::generate(&EndpointId::generate_installation()).unwrap();
    let pins: Arc<dyn PinStore> = Arc::new(MemoryPinStore::new());
    let seen = ObservedCert::new();
    let state = pairing::connect(wss_config(&gw.url, &me, pins.clone(), None, seen.clone())).await.unwrap_err();
    let fp = gw.fingerprint.unwrap();
    assert_eq!(state, AuthState::FirstUse { agent: gw.endpoint_id.clone(), fingerprint: fp });
    assert_eq!(tls::trust_on_first_use(pins.as_ref(), &seen).unwrap(), fp);
    let c = pairing::connect(wss_config(&gw.url, &me, pins.clone(), Some(gw.endpoint_id.clone()), seen)).await.unwrap();
    assert_eq!(pairing::probe(&c).await, AuthState::Untrusted { can_pair: true });
    assert_set_refused(&c).await;
    pair(&c, PASSCODE).await.unwrap();
    c.set(&[(SSID3, "true")]).await.unwrap();
}

#[tokio::test]
async fn wss_changed_certificate() {
    let home = home(UnknownControllerPolicy::Untrusted, None, Some(TlsMode::self_signed())).await;
    let gw = home.agent("gateway").unwrap();
    let me = Identity::generate(&EndpointId::generate_installation()).unwrap();
    let pins = Arc::new(MemoryPinStore::new());
    let old = usp_client::tls::Fingerprint::of(b"the certificate it had when paired");
    pins.pin(&gw.endpoint_id, old).unwrap();
    let state = pairing::connect(wss_config(&gw.url, &me, pins, Some(gw.endpoint_id.clone()), ObservedCert::new()))
        .await
        .unwrap_err();
    assert_eq!(
        state,
        AuthState::CertificateChanged {
            agent: gw.endpoint_id.clone(),
            pinned: old,
            presented: gw.fingerprint.unwrap()
        }
    );
    assert!(state.to_string().contains("changed since you paired it"), "{state}");
}

#[tokio::test]
async fn wss_certificate_of_another_device() {
    let other: EndpointId = "os::012345-IMPOSTOR".parse().unwrap();
    let mode = TlsMode::self_signed().with_identity("gateway", Identity::generate(&other).unwrap());
    let home = home(UnknownControllerPolicy::Untrusted, None, Some(mode)).await;
    let gw = home.agent("gateway").unwrap();
    let me = Identity::generate(&EndpointId::generate_installation()).unwrap();
    let state = pairing::connect(wss_config(
        &gw.url,
        &me,
        Arc::new(MemoryPinStore::new()),
        Some(gw.endpoint_id.clone()),
        ObservedCert::new(),
    ))
    .await
    .unwrap_err();
    assert_eq!(state, AuthState::WrongDevice { expected: gw.endpoint_id.clone(), in_certificate: other });
}

// ---- secrets never leak ----

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

// The subscriber is the process-wide default (set once, by this test only): a thread-local
// one misses events whose callsites other tests' threads registered first. It so also sees
// the other tests of this file running meanwhile, which must not leak either.
#[tokio::test]
async fn secrets_never_reach_logs_or_files() {
    let logs = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let vault = Arc::new(
        Vault::open(VaultConfig {
            data_dir: dir.path().to_owned(),
            passphrase: Some(Secret::new("vault passphrase for the test".to_owned())),
            prefer: Some(VaultBackendKind::EncryptedFile),
            service: None,
        })
        .unwrap(),
    );
    let me = app_core::identity::load_or_create(&vault, dir.path()).unwrap();
    assert!(me.newly_created());
    let again = app_core::identity::load_or_create(&vault, dir.path()).unwrap();
    assert_eq!(again.fingerprint(), me.fingerprint());
    assert!(!again.newly_created());
    let key = me.tls().private_key_der();
    let key = key.expose_secret().to_vec();

    // Pair over wss with our vault identity and vault pins.
    let home = home(UnknownControllerPolicy::Untrusted, None, Some(TlsMode::self_signed())).await;
    let gw = home.agent("gateway").unwrap();
    let pins: Arc<dyn PinStore> = Arc::new(app_core::identity::VaultPinStore::new(vault.clone()));
    let seen = ObservedCert::new();
    let state = pairing::connect(wss_config(&gw.url, me.tls(), pins.clone(), None, seen.clone())).await.unwrap_err();
    assert!(matches!(state, AuthState::FirstUse { .. }), "{state:?}");
    tls::trust_on_first_use(pins.as_ref(), &seen).unwrap();
    assert_eq!(pins.list(), vec![(gw.endpoint_id.clone(), gw.fingerprint.unwrap())]);
    let c = pairing::connect(wss_config(&gw.url, me.tls(), pins, Some(gw.endpoint_id.clone()), seen)).await.unwrap();
    assert_eq!(pairing::probe(&c).await, AuthState::Untrusted { can_pair: true });
    assert!(matches!(pair(&c, "123123").await, Err(PairingError::WrongPasscode { .. })));
    pair(&c, PASSCODE).await.unwrap();

    // A WiFi passphrase: set on the agent, remembered in the vault, read back.
    let wifi = "Vault-Kept-WiFi-Pass-7781";
    let ap = "Device.WiFi.AccessPoint.1.Security.KeyPassphrase";
    c.set(&[(ap, wifi)]).await.unwrap();
    vault.put(SecretKind::WifiPassphrase, "home-main", &Secret::from_slice(wifi.as_bytes())).unwrap();
    let read = vault.get(SecretKind::WifiPassphrase, "home-main").unwrap().unwrap();
    assert_eq!(read.expose(), wifi.as_bytes());
    assert_eq!(gw.get(ap).await.as_deref(), Some(wifi));
    let _ = c.get(&[ap], 0).await.unwrap();
    c.close().await;

    let b64 = base64::engine::general_purpose::STANDARD;
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let needles: Vec<(&str, Vec<u8>)> = vec![
        ("passcode", PASSCODE.as_bytes().to_vec()),
        ("passcode base64", b64.encode(PASSCODE).into_bytes()),
        ("key DER", key.clone()),
        ("key hex", hex(&key).into_bytes()),
        ("key HEX", hex(&key).to_uppercase().into_bytes()),
        ("key base64", b64.encode(&key).into_bytes()),
        ("wifi passphrase", wifi.as_bytes().to_vec()),
        ("wifi passphrase base64", b64.encode(wifi).into_bytes()),
    ];
    let log = logs.0.lock().unwrap().clone();
    let log_text = String::from_utf8_lossy(&log);
    // The capture saw this crate's, the client's and the agent's events.
    for expected in ["challenge requested", "wrong passcode", "paired", "connected"] {
        assert!(log_text.contains(expected), "no {expected:?} in the log:\n{log_text}");
    }
    let mut files = Vec::new();
    files_under(dir.path(), &mut files);
    assert!(files.iter().any(|f| f.ends_with(app_core::vault::VAULT_FILE_NAME)), "{files:?}");
    for (what, needle) in &needles {
        assert!(!contains(&log, needle), "the {what} is in the log");
        for f in &files {
            assert!(!contains(&std::fs::read(f).unwrap(), needle), "the {what} is in {}", f.display());
        }
    }
}
