//! STOMP 1.2 framing for the USP STOMP MTP (SPEC-STOMP), sans-IO: bytes in, frames out, and
//! frames to bytes. No maintained Rust crate speaks STOMP 1.2, so this is written here, with the
//! limits a hostile broker calls for: a frame's command, header lines, header count and body are
//! bounded, and the buffer never holds more than one frame of the largest allowed size.
//!
//! What STOMP 1.2 asks of the framing, and how it is kept:
//! - a frame is `COMMAND EOL (header EOL)* EOL body NUL`, where EOL is LF or CR LF;
//! - between frames, EOLs alone are heart-beats ([`Incoming::HeartBeat`]);
//! - header names and values escape `\` `:` CR LF as `\\` `\c` `\r` `\n`, in every frame but
//!   `CONNECT` and `CONNECTED`; an undefined escape is a fatal error;
//! - a header repeated keeps its first value ([`Frame::header`]);
//! - with `content-length`, the body is exactly that many octets (it may hold NULs) and a NUL
//!   follows; without it, the body runs to the first NUL.
//!
//! USP's rules on top (R-STOMP.4, 19-22): the `STOMP` frame carries `endpoint-id` (its colons
//! escaped by the rule above), and a `SEND` carries `content-length`, `content-type:
//! application/vnd.bbf.usp.msg` and `reply-to-dest`: see [`Frame::connect`] and [`Frame::send`].

use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};

/// The content type of a USP Record in a STOMP frame (R-STOMP.20).
pub const USP_CONTENT_TYPE: &str = "application/vnd.bbf.usp.msg";

/// Bounds on what one frame may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest command or header line, in octets.
    pub max_line: usize,
    /// The most headers in one frame.
    pub max_headers: usize,
    /// The largest body, in octets (a USP Record: the MTP's maximum record size).
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_line: 8 * 1024, max_headers: 64, max_body: 1024 * 1024 }
    }
}

/// Why bytes from the peer are not STOMP 1.2. Each one ends the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A command or header line longer than [`Limits::max_line`].
    #[error("a STOMP frame line is longer than {0} bytes")]
    LineTooLong(usize),
    /// More headers than [`Limits::max_headers`].
    #[error("a STOMP frame has more than {0} headers")]
    TooManyHeaders(usize),
    /// A body larger than [`Limits::max_body`] (said by `content-length` or seen).
    #[error("a STOMP frame body is larger than {0} bytes")]
    BodyTooLarge(usize),
    /// A line that is not valid UTF-8.
    #[error("a STOMP frame line is not UTF-8")]
    NotUtf8,
    /// An empty command line where a frame starts.
    #[error("a STOMP frame has no command")]
    NoCommand,
    /// A command that is not a word of ASCII letters (STOMP's commands all are).
    #[error("a STOMP frame command is not a word: \"{0}\"")]
    BadCommand(String),
    /// A header line without a colon.
    #[error("a STOMP header has no colon: \"{0}\"")]
    HeaderWithoutColon(String),
    /// An escape STOMP 1.2 does not define (or a `\` at the end).
    #[error("a STOMP header has an undefined escape: \"{0}\"")]
    BadEscape(String),
    /// A `content-length` that is not a number.
    #[error("a STOMP content-length is not a number: \"{0}\"")]
    BadContentLength(String),
    /// The octet after a `content-length` body is not NUL.
    #[error("a STOMP frame body is not followed by NUL")]
    MissingNul,
}

/// A STOMP frame: its command, its headers in order (unescaped), and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// `CONNECT`, `STOMP`, `CONNECTED`, `SEND`, `SUBSCRIBE`, `MESSAGE`, `ERROR`, ...
    pub command: String,
    /// Headers in the order sent; a name may repeat (the first counts).
    pub headers: Vec<(String, String)>,
    /// The body (a USP Record in `SEND` and `MESSAGE`).
    pub body: Bytes,
}

/// What the decoder found next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// An EOL between frames: the peer is alive.
    HeartBeat,
    /// A whole frame.
    Frame(Frame),
}

impl Frame {
    /// A frame with no headers and no body.
    pub fn new(command: &str) -> Frame {
        Frame { command: command.to_owned(), headers: Vec::new(), body: Bytes::new() }
    }

    /// Adds a header (after those already there).
    #[must_use]
    pub fn with(mut self, name: &str, value: &str) -> Frame {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The first value of header `name` (STOMP 1.2: a repeated header keeps its first value).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The `STOMP` frame that opens a USP connection (R-STOMP.3/4): `accept-version:1.2`, the
    /// virtual `host`, our `endpoint-id`, `login`/`passcode` when given, and the heart-beats we
    /// offer (`send,receive` in milliseconds; 0 = none).
    pub fn connect(host: &str, endpoint_id: &str, login: Option<(&str, &str)>, heart_beat: (u32, u32)) -> Frame {
        let mut f = Frame::new("STOMP")
            .with("accept-version", "1.2")
            .with("host", host)
            .with("endpoint-id", endpoint_id)
            .with("heart-beat", &format!("{},{}", heart_beat.0, heart_beat.1));
        if let Some((user, pass)) = login {
            f = f.with("login", user).with("passcode", pass);
        }
        f
    }

    /// `SUBSCRIBE` to our destination with `ack:auto` (R-STOMP.17).
    pub fn subscribe(id: &str, destination: &str) -> Frame {
        Frame::new("SUBSCRIBE").with("id", id).with("destination", destination).with("ack", "auto")
    }

    /// A `SEND` of one USP Record to `destination`, saying where to answer (R-STOMP.19-22).
    pub fn send(destination: &str, reply_to: &str, record: Bytes) -> Frame {
        let mut f = Frame::new("SEND")
            .with("destination", destination)
            .with("content-type", USP_CONTENT_TYPE)
            .with("content-length", &record.len().to_string())
            .with("reply-to-dest", reply_to);
        f.body = record;
        f
    }

    /// Whether this frame's headers are escaped (all but `CONNECT` and `CONNECTED`).
    fn escaped(command: &str) -> bool {
        !matches!(command, "CONNECT" | "CONNECTED")
    }

    /// The frame as octets on the wire (LF line ends). A body with a NUL needs a
    /// `content-length` header, which [`Frame::send`] always gives.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.command.len() + 64 * self.headers.len() + self.body.len() + 2);
        self.encode_into(&mut out);
        out
    }

    /// Appends [`Frame::encode`]'s octets to `out` (a connection's write buffer).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let escaped = Frame::escaped(&self.command);
        out.extend_from_slice(self.command.as_bytes());
        out.push(b'\n');
        for (name, value) in &self.headers {
            if escaped {
                escape_into(name, out);
                out.push(b':');
                escape_into(value, out);
            } else {
                out.extend_from_slice(name.as_bytes());
                out.push(b':');
                out.extend_from_slice(value.as_bytes());
            }
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.body);
        out.push(0);
    }
}

/// Writes `s` with STOMP 1.2 header escaping.
fn escape_into(s: &str, out: &mut Vec<u8>) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b':' => out.extend_from_slice(b"\\c"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

/// Undoes STOMP 1.2 header escaping.
fn unescape(s: &str) -> Result<String, FrameError> {
    if !s.contains('\\') {
        return Ok(s.to_owned());
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('c') => out.push(':'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            _ => return Err(FrameError::BadEscape(crate::text::for_log(s).to_string())),
        }
    }
    Ok(out)
}

/// Incremental STOMP decoder: [`push`](Decoder::push) what the socket read, then take
/// [`decode`](Decoder::decode) until it says `None`. After an error the connection must end.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: BytesMut,
    limits: Limits,
}

impl Decoder {
    /// A decoder with these bounds.
    pub fn new(limits: Limits) -> Decoder {
        Decoder { buf: BytesMut::new(), limits }
    }

    /// Appends bytes read from the peer.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Octets held that are not a whole frame yet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next heart-beat or frame, `None` while more bytes are needed.
    ///
    /// # Errors
    /// [`FrameError`] for anything that is not STOMP 1.2 within the limits; the buffer is then
    /// in an unknown state and the connection must end.
    pub fn decode(&mut self) -> Result<Option<Incoming>, FrameError> {
        // Heart-beats: an EOL (LF, or CR LF) where a frame would start.
        match self.buf.first() {
            None => return Ok(None),
            Some(b'\n') => {
                self.buf.advance(1);
                return Ok(Some(Incoming::HeartBeat));
            }
            Some(b'\r') => {
                return match self.buf.get(1) {
                    None => Ok(None),
                    Some(b'\n') => {
                        self.buf.advance(2);
                        Ok(Some(Incoming::HeartBeat))
                    }
                    Some(_) => Err(FrameError::NoCommand),
                };
            }
            Some(_) => {}
        }
        let Some((frame, used)) = self.parse()? else { return Ok(None) };
        self.buf.advance(used);
        Ok(Some(Incoming::Frame(frame)))
    }

    /// One frame from the start of the buffer and how many octets it took, if it is all there.
    fn parse(&self) -> Result<Option<(Frame, usize)>, FrameError> {
        let limits = self.limits;
        let buf = &self.buf[..];
        let mut pos = 0;
        // Command and header lines.
        let Some(command) = line(buf, &mut pos, limits.max_line)? else { return Ok(None) };
        if command.is_empty() {
            return Err(FrameError::NoCommand);
        }
        if !command.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(FrameError::BadCommand(crate::text::for_log(command).to_string()));
        }
        let escaped = Frame::escaped(command);
        let mut headers = Vec::new();
        loop {
            let Some(l) = line(buf, &mut pos, limits.max_line)? else { return Ok(None) };
            if l.is_empty() {
                break;
            }
            if headers.len() == limits.max_headers {
                return Err(FrameError::TooManyHeaders(limits.max_headers));
            }
            let Some((name, value)) = l.split_once(':') else {
                return Err(FrameError::HeaderWithoutColon(crate::text::for_log(l).to_string()));
            };
            let (name, value) =
                if escaped { (unescape(name)?, unescape(value)?) } else { (name.to_owned(), value.to_owned()) };
            headers.push((name, value));
        }
        let length = headers.iter().find(|(n, _)| n == "content-length").map(|(_, v)| v);
        // Where the body lies, and where the frame ends (after its NUL).
        let (body, used) = match length {
            Some(v) => {
                let n: usize =
                    v.trim().parse().map_err(|_| FrameError::BadContentLength(crate::text::for_log(v).to_string()))?;
                if n > limits.max_body {
                    return Err(FrameError::BodyTooLarge(limits.max_body));
                }
                let Some(end) = pos.checked_add(n) else { return Err(FrameError::BodyTooLarge(limits.max_body)) };
                if buf.len() <= end {
                    return Ok(None);
                }
                if buf[end] != 0 {
                    return Err(FrameError::MissingNul);
                }
                (pos..end, end + 1)
            }
            None => match buf[pos..].iter().position(|&b| b == 0) {
                Some(n) if n > limits.max_body => return Err(FrameError::BodyTooLarge(limits.max_body)),
                Some(n) => (pos..pos + n, pos + n + 1),
                None if buf.len() - pos > limits.max_body => return Err(FrameError::BodyTooLarge(limits.max_body)),
                None => return Ok(None),
            },
        };
        let frame = Frame { command: command.to_owned(), headers, body: Bytes::copy_from_slice(&buf[body]) };
        Ok(Some((frame, used)))
    }
}

/// The line at `*pos` without its EOL (LF or CR LF), moving `*pos` past it; `None` if the EOL
/// has not arrived.
fn line<'a>(buf: &'a [u8], pos: &mut usize, max: usize) -> Result<Option<&'a str>, FrameError> {
    let rest = &buf[*pos..];
    let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
        return if rest.len() > max { Err(FrameError::LineTooLong(max)) } else { Ok(None) };
    };
    let raw = &rest[..lf];
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    if raw.len() > max {
        return Err(FrameError::LineTooLong(max));
    }
    let text = std::str::from_utf8(raw).map_err(|_| FrameError::NotUtf8)?;
    *pos += lf + 1;
    Ok(Some(text))
}

/// How often each side beats, as STOMP 1.2 negotiates it from what we offered (`ours`, the
/// `heart-beat` of our `STOMP` frame) and what the server answered (`theirs`, from `CONNECTED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartBeats {
    /// How often we must send something (an EOL will do), if at all.
    pub send_every: Option<Duration>,
    /// How often the server will send something, if at all: silence much longer means it is gone.
    pub expect_every: Option<Duration>,
}

/// Reads a `heart-beat` header value, `x,y` in milliseconds.
pub fn parse_heart_beat(value: &str) -> Option<(u32, u32)> {
    let (x, y) = value.split_once(',')?;
    Some((x.trim().parse().ok()?, y.trim().parse().ok()?))
}

/// STOMP 1.2's rule: we send every max(our send, their receive) when both are non-zero, and the
/// server sends every max(its send, our receive) when both are non-zero.
pub fn negotiate(ours: (u32, u32), theirs: (u32, u32)) -> HeartBeats {
    let pick = |a: u32, b: u32| (a != 0 && b != 0).then(|| Duration::from_millis(u64::from(a.max(b))));
    HeartBeats { send_every: pick(ours.0, theirs.1), expect_every: pick(theirs.0, ours.1) }
}

#[cfg(test)]
mod tests;
