//! A real mosquitto broker (the Debian package) as a child process of the test, on loopback
//! ports only: plain MQTT, MQTT over TLS (a certificate made here with rcgen), MQTT over
//! WebSocket, and optionally a password file. Killed when dropped; [`Broker::restart`] brings
//! it back on the same ports (with nothing remembered: `persistence false`).

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;

/// What the broker offers.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// A TLS listener too.
    pub tls: bool,
    /// A WebSocket listener too.
    pub websockets: bool,
    /// Only this user (name, password) may connect.
    pub login: Option<(String, String)>,
    /// `max_packet_size`: the broker refuses larger packets and says so in its MQTT 5 CONNACK.
    pub max_packet_size: Option<u32>,
}

/// One running mosquitto.
pub struct Broker {
    /// Plain MQTT port.
    pub port: u16,
    /// MQTT over TLS port.
    pub tls_port: Option<u16>,
    /// MQTT over WebSocket port.
    pub ws_port: Option<u16>,
    /// MQTT over WebSocket over TLS port (with both [`Options::tls`] and [`Options::websockets`]).
    pub wss_port: Option<u16>,
    /// The broker's certificate (DER), with TLS.
    pub cert_der: Option<Vec<u8>>,
    dir: PathBuf,
    child: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port").local_addr().expect("bound").port()
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A new self-signed certificate (and key) for 127.0.0.1 and localhost in `dir`; its DER.
fn new_certificate(dir: &std::path::Path) -> Vec<u8> {
    let key = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("broker certificate");
    let der = key.cert.der().to_vec();
    std::fs::write(dir.join("cert.pem"), pem("CERTIFICATE", &der)).expect("cert");
    std::fs::write(dir.join("key.pem"), pem("PRIVATE KEY", &key.signing_key.serialize_der())).expect("key");
    der
}

impl Broker {
    /// Starts a broker with `options`, ready when every port accepts connections.
    pub fn start(options: Options) -> Broker {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("usp-home-mosquitto-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("broker folder");
        let port = free_port();
        let mut conf = String::from(
            "per_listener_settings false\npersistence false\nset_tcp_nodelay true\nlog_dest stderr\nlog_type error\nlog_type warning\n",
        );
        // Run as root, mosquitto would switch to its own user, which cannot read our files;
        // as anyone else it stays who it is anyway.
        conf.push_str("user root\n");
        if let Some(max) = options.max_packet_size {
            conf.push_str(&format!("max_packet_size {max}\n"));
        }
        match &options.login {
            Some((user, password)) => {
                let file = dir.join("passwords");
                std::fs::write(&file, "").expect("password file");
                let ok = Command::new("mosquitto_passwd")
                    .arg("-b")
                    .arg(&file)
                    .arg(user)
                    .arg(password)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false);
                assert!(ok, "mosquitto_passwd (Debian package mosquitto) could not write the password file");
                conf.push_str(&format!("allow_anonymous false\npassword_file {}\n", file.display()));
            }
            None => conf.push_str("allow_anonymous true\n"),
        }
        conf.push_str(&format!("listener {port} 127.0.0.1\n"));
        let (mut tls_port, mut cert_der) = (None, None);
        if options.tls {
            let p = free_port();
            let der = new_certificate(&dir);
            conf.push_str(&format!(
                "listener {p} 127.0.0.1\ncertfile {}\nkeyfile {}\n",
                dir.join("cert.pem").display(),
                dir.join("key.pem").display()
            ));
            tls_port = Some(p);
            cert_der = Some(der);
        }
        let (mut ws_port, mut wss_port) = (None, None);
        if options.websockets {
            let p = free_port();
            conf.push_str(&format!("listener {p} 127.0.0.1\nprotocol websockets\n"));
            ws_port = Some(p);
            if options.tls {
                let p = free_port();
                conf.push_str(&format!(
                    "listener {p} 127.0.0.1\nprotocol websockets\ncertfile {}\nkeyfile {}\n",
                    dir.join("cert.pem").display(),
                    dir.join("key.pem").display()
                ));
                wss_port = Some(p);
            }
        }
        std::fs::write(dir.join("mosquitto.conf"), conf).expect("config");
        let mut broker = Broker { port, tls_port, ws_port, wss_port, cert_der, dir, child: None };
        broker.run();
        broker
    }

    fn run(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("broker.log")).expect("log");
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("mosquitto starts (Debian package mosquitto)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let ports: Vec<u16> =
            [Some(self.port), self.tls_port, self.ws_port, self.wss_port].into_iter().flatten().collect();
        while Instant::now() < deadline {
            let up = ports
                .iter()
                .all(|p| TcpStream::connect_timeout(&([127, 0, 0, 1], *p).into(), Duration::from_millis(100)).is_ok());
            if up {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("mosquitto exited ({status}): {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("mosquitto did not listen within 10 s: {}", self.log());
    }

    /// What the broker logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("broker.log")).unwrap_or_default()
    }

    /// Ends the broker process (every client loses its connection).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same ports.
    pub fn start_again(&mut self) {
        self.stop();
        self.run();
    }

    /// Starts it again on the same ports with a new TLS certificate and key (a reset gateway,
    /// or someone in the middle).
    pub fn start_again_with_new_certificate(&mut self) {
        self.stop();
        self.cert_der = Some(new_certificate(&self.dir));
        self.run();
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// `mqtts://127.0.0.1:PORT` (needs [`Options::tls`]).
    pub fn tls_url(&self) -> String {
        format!("mqtts://127.0.0.1:{}", self.tls_port.expect("a TLS listener"))
    }

    /// `mqtt+ws://127.0.0.1:PORT` (needs [`Options::websockets`]).
    pub fn ws_url(&self) -> String {
        format!("mqtt+ws://127.0.0.1:{}", self.ws_port.expect("a WebSocket listener"))
    }

    /// `mqtt+wss://127.0.0.1:PORT` (needs [`Options::tls`] and [`Options::websockets`]).
    pub fn wss_url(&self) -> String {
        format!("mqtt+wss://127.0.0.1:{}", self.wss_port.expect("a WebSocket listener with TLS"))
    }

    /// TLS settings that trust this broker's certificate.
    pub fn client_tls(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        let der = self.cert_der.clone().expect("a TLS listener");
        roots.add(rustls::pki_types::CertificateDer::from(der)).expect("broker certificate as a root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
