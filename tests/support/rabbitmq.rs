//! A real RabbitMQ (Debian's `rabbitmq-server` 3.10) with its STOMP plugin, started by the
//! test itself: no service, nothing outside its own folder and loopback.
//!
//! How it is kept private and short-lived:
//! - everything on 127.0.0.1 and free ports: AMQP, STOMP (plain and TLS), Erlang distribution
//!   (`RABBITMQ_DIST_PORT`, `inet_dist_use_interface`), and an epmd of our own
//!   (`ERL_EPMD_PORT`, `ERL_EPMD_ADDRESS`; the node is told `-start_epmd false` so it never
//!   starts or touches a system epmd);
//! - a unique node name (`usphome-<pid>-<n>@localhost`), and HOME, mnesia, logs, config and
//!   the enabled-plugins file in a fresh folder, removed on drop;
//! - it runs `/usr/lib/rabbitmq/bin/rabbitmq-server` directly (the `/usr/sbin` wrapper would
//!   `su rabbitmq` and write to /var/log); that works as root and as any user;
//! - it cannot outlive the test process: the Erlang VM reads its standard input, a pipe
//!   only we hold, and halts when it closes (as the kernel does when the test process ends,
//!   however it ends); epmd runs under a `sh` that waits for the end of its own such pipe
//!   and then kills it. Drop closes both pipes and stops both by PID.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// The broker's login for tests.
pub const USER: &str = "guest";
/// Its password.
pub const PASSWORD: &str = "guest";

/// How long the broker may take to start (about 5-25 s on 2 cores).
const START_BOUND: Duration = Duration::from_secs(120);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port").local_addr().expect("bound").port()
}

/// The TLS listener's files: a CA and the broker's certificate for `127.0.0.1`.
pub struct BrokerTls {
    /// The CA certificate (DER), to trust.
    pub ca_der: Vec<u8>,
    /// The TLS port.
    pub port: u16,
}

/// One running RabbitMQ.
pub struct Rabbit {
    /// Its folder.
    pub dir: PathBuf,
    /// The STOMP port (plain).
    pub stomp_port: u16,
    /// The STOMP-over-TLS listener.
    pub tls: BrokerTls,
    amqp_port: u16,
    dist_port: u16,
    epmd_port: u16,
    node: String,
    epmd: Option<(Child, ChildStdin)>,
    beam: Option<(Child, ChildStdin)>,
    /// How long the last start took.
    pub started_in: Duration,
}

/// Folders of earlier runs killed before their Drop (their process is gone).
fn remove_stale_folders() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("usphome-").and_then(|r| r.split('-').next()) else { continue };
        if pid.parse::<u32>().is_ok() && !std::path::Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> =
        b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).expect("base64 is ASCII")).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

fn write_tls(dir: &std::path::Path) -> Vec<u8> {
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "usp-home test broker CA");
    let ca = ca_params.self_signed(&ca_key).expect("ca cert");
    let key = rcgen::KeyPair::generate().expect("broker key");
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    params.subject_alt_names.push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
    params.distinguished_name.push(rcgen::DnType::CommonName, "127.0.0.1");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let cert = params.signed_by(&key, &issuer).expect("broker cert");
    std::fs::write(dir.join("ca.pem"), pem("CERTIFICATE", ca.der())).expect("ca.pem");
    std::fs::write(dir.join("cert.pem"), pem("CERTIFICATE", cert.der())).expect("cert.pem");
    std::fs::write(dir.join("key.pem"), pem("PRIVATE KEY", &key.serialize_der())).expect("key.pem");
    ca.der().to_vec()
}

impl Rabbit {
    /// Starts a broker and waits until its STOMP listener answers a login.
    pub fn start() -> Rabbit {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        remove_stale_folders();
        let node = format!("usphome-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(&node);
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["home", "mnesia", "log"] {
            std::fs::create_dir_all(dir.join(sub)).expect("broker folder");
        }
        let ca_der = write_tls(&dir);
        let (stomp_port, tls_port, amqp_port, dist_port, epmd_port) =
            (free_port(), free_port(), free_port(), free_port(), free_port());
        std::fs::write(dir.join("enabled_plugins"), "[rabbitmq_stomp].\n").expect("plugins file");
        let d = dir.display();
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!(
                "listeners.tcp.1 = 127.0.0.1:{amqp_port}\n\
                 stomp.listeners.tcp.1 = 127.0.0.1:{stomp_port}\n\
                 stomp.listeners.ssl.1 = 127.0.0.1:{tls_port}\n\
                 ssl_options.cacertfile = {d}/ca.pem\n\
                 ssl_options.certfile = {d}/cert.pem\n\
                 ssl_options.keyfile = {d}/key.pem\n\
                 ssl_options.verify = verify_none\n\
                 ssl_options.fail_if_no_peer_cert = false\n\
                 log.console = true\n\
                 log.console.level = warning\n\
                 log.file = false\n"
            ),
        )
        .expect("rabbitmq.conf");
        std::fs::write(dir.join("rabbitmq-env.conf"), "").expect("env file");
        let mut r = Rabbit {
            dir,
            stomp_port,
            tls: BrokerTls { ca_der, port: tls_port },
            amqp_port,
            dist_port,
            epmd_port,
            node,
            epmd: None,
            beam: None,
            started_in: Duration::ZERO,
        };
        r.start_epmd();
        r.start_node();
        r
    }

    fn start_epmd(&mut self) {
        // epmd does not read its input: the shell does, and ends it at end of input.
        let mut child = Command::new("sh")
            .args(["-c", "epmd -port \"$1\" -address 127.0.0.1 & e=$!; cat >/dev/null; kill $e; wait $e", "sh"])
            .arg(self.epmd_port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("epmd starts (Debian package erlang-base)");
        let stdin = child.stdin.take().expect("stdin pipe");
        self.epmd = Some((child, stdin));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.epmd_port)).is_err() {
            assert!(Instant::now() < deadline, "our epmd never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the node (again, with the same folder and ports) and waits for STOMP.
    pub fn start_node(&mut self) {
        let t0 = Instant::now();
        let d = &self.dir;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(d.join("broker.log")).expect("log");
        let mut cmd = Command::new("/usr/lib/rabbitmq/bin/rabbitmq-server");
        cmd.current_dir(d)
            .env("HOME", d.join("home"))
            .env("RABBITMQ_NODENAME", format!("{}@localhost", self.node))
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.amqp_port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .env("ERL_EPMD_PORT", self.epmd_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_LOGS", "-")
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq.conf"))
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", d.join("advanced.config"))
            .env("RABBITMQ_CONF_ENV_FILE", d.join("rabbitmq-env.conf"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("RABBITMQ_PID_FILE", d.join("broker.pid"))
            // The VM reads its standard input (our pipe): it halts when the pipe closes.
            .env("RABBITMQ_ALLOW_INPUT", "1")
            .env("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-kernel inet_dist_use_interface {127,0,0,1} -start_epmd false")
            .stdin(Stdio::piped())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        let mut child = cmd.spawn().expect("rabbitmq-server starts (Debian package rabbitmq-server)");
        let stdin = child.stdin.take().expect("stdin pipe");
        self.beam = Some((child, stdin));
        let deadline = Instant::now() + START_BOUND;
        loop {
            if let Some((c, _)) = self.beam.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!("RabbitMQ exited ({status}) while starting; its log: {}", self.log_tail());
                }
            }
            if self.stomp_answers() {
                break;
            }
            assert!(Instant::now() < deadline, "RabbitMQ did not start within {START_BOUND:?}: {}", self.log_tail());
            std::thread::sleep(Duration::from_millis(100));
        }
        self.started_in = t0.elapsed();
    }

    /// The end of the broker's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("broker.log")).unwrap_or_default();
        let start = log.len().saturating_sub(4000);
        let start = (start..log.len()).find(|i| log.is_char_boundary(*i)).unwrap_or(log.len());
        log[start..].to_owned()
    }

    /// Whether a STOMP login gets CONNECTED.
    fn stomp_answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect_timeout(&([127, 0, 0, 1], self.stomp_port).into(), Duration::from_secs(1))
        else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let hello = format!("STOMP\naccept-version:1.2\nhost:/\nlogin:{USER}\npasscode:{PASSWORD}\n\n\0");
        if s.write_all(hello.as_bytes()).is_err() {
            return false;
        }
        let mut buf = [0u8; 9];
        let ok = s.read_exact(&mut buf).is_ok() && &buf == b"CONNECTED";
        let _ = s.write_all(b"DISCONNECT\n\n\0");
        ok
    }

    /// Stops the node (epmd stays), as a crash would: SIGKILL.
    pub fn stop_node(&mut self) {
        if let Some((mut c, stdin)) = self.beam.take() {
            drop(stdin);
            let _ = c.kill();
            let _ = c.wait();
        }
        // The VM's helper (erl_child_setup) ends with it; wait for the port to close.
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.stomp_port)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Makes a new CA and broker certificate (used from the next [`Rabbit::start_node`]): a
    /// reset broker, or someone in the middle.
    pub fn new_certificate(&mut self) {
        self.tls.ca_der = write_tls(&self.dir);
    }

    /// The broker's own certificate (DER), as its TLS listener presents it.
    pub fn cert_der(&self) -> Vec<u8> {
        use base64::Engine;
        let pem = std::fs::read_to_string(self.dir.join("cert.pem")).expect("cert.pem");
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD.decode(b64).expect("PEM")
    }

    /// `stomp://127.0.0.1:PORT` + `rest`.
    pub fn url(&self, rest: &str) -> String {
        format!("stomp://127.0.0.1:{}{rest}", self.stomp_port)
    }

    /// `stomps://127.0.0.1:TLSPORT` + `rest`.
    pub fn tls_url(&self, rest: &str) -> String {
        format!("stomps://127.0.0.1:{}{rest}", self.tls.port)
    }

    /// A TLS client configuration that trusts the broker's CA.
    pub fn client_tls(&self) -> std::sync::Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(rustls::pki_types::CertificateDer::from(self.tls.ca_der.clone())).expect("CA");
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        std::sync::Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("TLS versions")
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }
}

impl Drop for Rabbit {
    fn drop(&mut self) {
        self.stop_node();
        if let Some((mut sh, stdin)) = self.epmd.take() {
            drop(stdin);
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(sh.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = sh.kill();
            let _ = sh.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
