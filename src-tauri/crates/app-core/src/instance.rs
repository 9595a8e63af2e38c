//! One running app per data folder. The first app to start locks `instance.lock` in its data
//! folder for as long as it runs (the system releases the lock when the process ends, however it
//! ends) and listens on a loopback port for requests from a later start: "show the window"
//! (someone started the app again, e.g. from the menu, while it runs in the tray) or "quit"
//! (`usp-home --quit`, the same as Quit in the tray). The port and a random token are in
//! `instance` beside the lock, readable by this user only; a request without the token is
//! ignored, so another local user cannot steer the app.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

/// The lock file, held by the running app.
const LOCK_FILE: &str = "instance.lock";
/// The running app's port and token.
const INFO_FILE: &str = "instance";
/// Longest request line (token, space, word, newline).
const MAX_REQUEST: usize = 128;
/// How long a request may take to arrive or be answered.
const IO_LIMIT: Duration = Duration::from_secs(2);

/// What a later start asks of the running app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Show the window (make it if it was closed).
    Show,
    /// Stop the home and exit.
    Quit,
}

impl Request {
    fn word(self) -> &'static str {
        match self {
            Request::Show => "show",
            Request::Quit => "quit",
        }
    }

    fn from_word(word: &str) -> Option<Request> {
        match word {
            "show" => Some(Request::Show),
            "quit" => Some(Request::Quit),
            _ => None,
        }
    }
}

/// Why the running app could not be claimed or reached.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// The data folder or the files in it.
    #[error("the data folder {path}: {source}")]
    Files {
        /// The file or folder.
        path: PathBuf,
        /// The system's reason.
        source: std::io::Error,
    },
    /// Another app holds the lock but could not be reached.
    #[error("usp-home is running but does not answer ({0})")]
    NoAnswer(String),
}

/// The outcome of [`claim`].
#[derive(Debug)]
pub enum Claim {
    /// This is the only app on this data folder: serve requests with [`Instance::serve`].
    First(Instance),
    /// Another app runs on this data folder: send it requests.
    Running(Running),
}

/// The lock and the listener of the running app.
#[derive(Debug)]
pub struct Instance {
    /// Held until the process ends.
    _lock: File,
    listener: std::net::TcpListener,
    token: String,
}

/// How to reach the app that runs already.
#[derive(Debug, Clone)]
pub struct Running {
    port: u16,
    token: String,
}

/// Claims `data_dir` for this process, or finds the app that holds it.
///
/// # Errors
/// The folder or its files could not be made or read, or the lock is held by an app that never
/// wrote how to reach it.
pub fn claim(data_dir: &Path) -> Result<Claim, InstanceError> {
    let files = |path: &Path| {
        let path = path.to_owned();
        move |source| InstanceError::Files { path, source }
    };
    std::fs::create_dir_all(data_dir).map_err(files(data_dir))?;
    let lock_path = data_dir.join(LOCK_FILE);
    let lock =
        OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(files(&lock_path))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return find_running(data_dir).map(Claim::Running),
        Err(std::fs::TryLockError::Error(source)) => return Err(InstanceError::Files { path: lock_path, source }),
    }
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(files(data_dir))?;
    let port = listener.local_addr().map_err(files(data_dir))?.port();
    let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let info = data_dir.join(INFO_FILE);
    write_private(&info, &format!("{port} {token}\n")).map_err(files(&info))?;
    Ok(Claim::First(Instance { _lock: lock, listener, token }))
}

/// Whether no app holds `data_dir` any more, waiting up to `limit` for the one that does to end.
pub fn wait_until_free(data_dir: &Path, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let free = match File::open(data_dir.join(LOCK_FILE)) {
            Ok(file) => file.try_lock().is_ok(),
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        };
        if free || Instant::now() >= deadline {
            return free;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The running app's port and token; it may be writing them right now, so this retries briefly.
fn find_running(data_dir: &Path) -> Result<Running, InstanceError> {
    let info = data_dir.join(INFO_FILE);
    let deadline = Instant::now() + IO_LIMIT;
    loop {
        let text = std::fs::read_to_string(&info).unwrap_or_default();
        let mut words = text.split_whitespace();
        if let (Some(Ok(port)), Some(token), None) = (words.next().map(str::parse), words.next(), words.next()) {
            return Ok(Running { port, token: token.to_owned() });
        }
        if Instant::now() >= deadline {
            return Err(InstanceError::NoAnswer(format!("{} holds no port", info.display())));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Writes `text` to a new `path` that only this user may read.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

impl Running {
    /// Sends `request` and waits for the running app to take it.
    ///
    /// # Errors
    /// [`InstanceError::NoAnswer`] when it does not answer within two seconds.
    pub fn send(&self, request: Request) -> Result<(), InstanceError> {
        let no_answer = |e: std::io::Error| InstanceError::NoAnswer(e.to_string());
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut stream = TcpStream::connect_timeout(&addr, IO_LIMIT).map_err(no_answer)?;
        stream.set_read_timeout(Some(IO_LIMIT)).map_err(no_answer)?;
        stream.set_write_timeout(Some(IO_LIMIT)).map_err(no_answer)?;
        stream.write_all(format!("{} {}\n", self.token, request.word()).as_bytes()).map_err(no_answer)?;
        let mut reply = [0u8; 3];
        stream.read_exact(&mut reply).map_err(no_answer)?;
        if &reply == b"ok\n" {
            Ok(())
        } else {
            Err(InstanceError::NoAnswer("it refused the request".into()))
        }
    }
}

impl Instance {
    /// Answers requests for as long as the app runs, handing each to `on_request`. One at a
    /// time, each bounded in size and time, so a stuck or hostile local client cannot hold it.
    /// Call it on the async runtime.
    pub async fn serve(self, mut on_request: impl FnMut(Request)) {
        let listener =
            match self.listener.set_nonblocking(true).and_then(|()| tokio::net::TcpListener::from_std(self.listener)) {
                Ok(listener) => listener,
                Err(err) => {
                    tracing::warn!(error = %err, "a second start of usp-home cannot reach this one");
                    return;
                }
            };
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            match tokio::time::timeout(IO_LIMIT, answer(stream, &self.token)).await {
                Ok(Some(request)) => on_request(request),
                Ok(None) => tracing::debug!("a request to this app was refused"),
                Err(_) => tracing::debug!("a request to this app timed out"),
            }
        }
    }
}

/// Reads one request line; answers `ok` when it carries the token and a known word.
async fn answer(stream: tokio::net::TcpStream, token: &str) -> Option<Request> {
    let mut stream = tokio::io::BufReader::new(stream);
    let mut line = Vec::new();
    (&mut stream).take(MAX_REQUEST as u64).read_until(b'\n', &mut line).await.ok()?;
    let line = std::str::from_utf8(&line).ok()?;
    let (given, word) = line.trim_end().split_once(' ')?;
    // Compared without an early exit, so the time taken tells nothing about the token.
    let same = given.len() == token.len() && given.bytes().zip(token.bytes()).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0;
    let request = Request::from_word(word).filter(|_| same)?;
    stream.get_mut().write_all(b"ok\n").await.ok()?;
    Some(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first claim holds the folder; a second one finds it and its requests arrive, in
    /// order; once the first is gone the folder is free again.
    #[tokio::test]
    async fn a_second_start_reaches_the_first() {
        let dir = tempfile::tempdir().expect("temp dir");
        let Claim::First(first) = claim(dir.path()).expect("claimed") else { panic!("nothing ran before") };
        let Claim::Running(second) = claim(dir.path()).expect("found") else { panic!("the first one holds it") };
        assert!(!wait_until_free(dir.path(), Duration::from_millis(100)));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let served = tokio::spawn(first.serve(move |request| {
            let _ = tx.send(request);
        }));
        let sent = tokio::task::spawn_blocking(move || {
            second.send(Request::Show).expect("show taken");
            second.send(Request::Quit).expect("quit taken");
        });
        tokio::time::timeout(Duration::from_secs(10), sent).await.expect("in time").expect("sent");
        assert_eq!(rx.recv().await, Some(Request::Show));
        assert_eq!(rx.recv().await, Some(Request::Quit));
        served.abort();
        let _ = served.await;
        assert!(wait_until_free(dir.path(), Duration::from_secs(5)), "the lock goes with the instance");
        assert!(matches!(claim(dir.path()).expect("claimed again"), Claim::First(_)));
    }

    /// Without the token, or with a flood of bytes, nothing is taken and the app keeps serving.
    #[tokio::test]
    async fn requests_without_the_token_are_ignored() {
        let dir = tempfile::tempdir().expect("temp dir");
        let Claim::First(first) = claim(dir.path()).expect("claimed") else { panic!("nothing ran before") };
        let Claim::Running(good) = claim(dir.path()).expect("found") else { panic!("the first one holds it") };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let served = tokio::spawn(first.serve(move |request| {
            let _ = tx.send(request);
        }));
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, good.port));
        for attempt in [format!("{} quit\n", "0".repeat(64)), "quit\n".into(), "x".repeat(1 << 20)] {
            let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connects");
            let _ = stream.write_all(attempt.as_bytes()).await;
            let mut reply = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut reply)).await;
            assert!(reply.is_empty(), "refused without an answer: {reply:?}");
        }
        let bad = Running { token: "f".repeat(64), ..good.clone() };
        assert!(tokio::task::spawn_blocking(move || bad.send(Request::Quit)).await.expect("ran").is_err());
        tokio::task::spawn_blocking(move || good.send(Request::Show)).await.expect("ran").expect("still serving");
        assert_eq!(rx.recv().await, Some(Request::Show));
        assert!(rx.try_recv().is_err(), "nothing else was taken");
        served.abort();
    }
}
