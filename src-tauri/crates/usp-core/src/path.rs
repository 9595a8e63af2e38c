//! USP data-model path names (TR-369 "Path Names", "Data Model Path Grammar").
//!
//! [`Path`] parses and validates every kind of path a controller sends or receives:
//! object / object-instance paths (ending in `.`), parameter paths, command paths
//! (`…Reboot()`), event paths (`…Boot!`), search paths (`*`, `[expr]`, reference
//! following `Param+`, `Param#N+`, `Param#*+`) and supported-data-model paths with `{i}`
//! placeholders.
//!
//! The parser is a single left-to-right pass over the bytes (linear time), never panics,
//! and bounds its input ([`MAX_PATH_LEN`] bytes, [`MAX_COMPARISONS`] comparisons per search
//! expression). A parsed path keeps its *canonical* text: the same as the input for
//! canonical inputs; optional spaces inside search expressions are dropped, and `"` / `%`
//! inside string literals are (re-)escaped as `%22` / `%25`.

use std::fmt;
use std::str::FromStr;

/// Longest path accepted, in bytes (the agent-side limit).
pub const MAX_PATH_LEN: usize = 4096;

/// Most comparisons accepted in one search expression `[a==1&&b==2&&…]`.
pub const MAX_COMPARISONS: usize = 64;

/// The required first segment of every path.
pub const ROOT: &str = "Device";

/// Longest input prefix echoed back in a [`PathError`] message.
const MAX_ECHO: usize = 256;

/// What a path addresses, decided by how it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathKind {
    /// Ends with `.`: an object, object instance or table path (a "partial path").
    Object,
    /// Ends with a name: a parameter.
    Parameter,
    /// Ends with `()`: a command (Operate).
    Command,
    /// Ends with `!`: an event.
    Event,
}

/// One `.`-separated component of a path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    /// An object, parameter, command or event name (`Device`, `WiFi`, `Enable`, `Reboot`).
    /// Command and event names are stored without `()` / `!`; see [`Path::kind`].
    Name(String),
    /// An instance number, always >= 1.
    Instance(u32),
    /// `*`: every current instance.
    Wildcard,
    /// `[…]`: a search expression or unique-key addressing (`[Name=="eth0"]`).
    Search(Vec<Comparison>),
    /// Reference following: `Name+`, `Name#N+` or `Name#*+`; always followed by more path.
    Reference {
        /// Name of the reference parameter.
        name: String,
        /// Which list item(s) to follow.
        index: RefIndex,
    },
    /// `{i}`: instance placeholder of a supported-data-model path.
    Placeholder,
}

/// Which item(s) of a (list-valued) reference parameter to follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefIndex {
    /// Plain `+`: the first item (or the only value).
    Default,
    /// `#N+`: item N (1-based).
    Item(u32),
    /// `#*+`: every item.
    All,
}

/// One `lhs op value` term of a search expression.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Comparison {
    /// Relative parameter path; contains only [`Segment::Name`] and [`Segment::Reference`]
    /// segments and always ends with a `Name` (e.g. `Stats.ErrorsSent`, `SSIDReference+.SSID`).
    pub lhs: Vec<Segment>,
    /// The operator.
    pub op: Op,
    /// The right-hand side.
    pub value: Literal,
}

/// Comparison operator of a search expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `~=` (list contains element)
    Contains,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
}

impl Op {
    /// The operator as written in a path.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Contains => "~=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Ge => ">=",
        }
    }

    fn is_ordering(self) -> bool {
        matches!(self, Op::Lt | Op::Gt | Op::Le | Op::Ge)
    }
}

/// Right-hand side of a comparison.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Literal {
    /// A double-quoted string, with `%22` and `%25` already decoded.
    Str(String),
    /// An unquoted number exactly as written (`0`, `-5`, `1.25`).
    Num(String),
    /// Unquoted `true` / `false`.
    Bool(bool),
}

/// A syntactically valid USP path. Equality, ordering and hashing use the canonical text.
#[derive(Clone, Debug)]
pub struct Path {
    text: String,
    segments: Vec<Segment>,
    kind: PathKind,
}

/// Why a path was rejected: a byte offset into the input and a human-readable reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid path {input:?}: {reason} at position {position}")]
pub struct PathError {
    input: String,
    position: usize,
    reason: String,
}

impl PathError {
    fn new(input: &str, position: usize, reason: impl Into<String>) -> Self {
        PathError { input: truncate_echo(input), position, reason: reason.into() }
    }

    /// Byte offset in the input where the problem was found.
    pub fn position(&self) -> usize {
        self.position
    }

    /// Human-readable reason, without the path and position.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The rejected input (cut to its first 256 bytes, followed by "…", if longer).
    pub fn input(&self) -> &str {
        &self.input
    }
}

fn truncate_echo(input: &str) -> String {
    crate::text::capped(input, MAX_ECHO)
}

impl Path {
    /// Canonical text of the path.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Parsed segments; the first is always `Name("Device")`.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Object, parameter, command or event path.
    pub fn kind(&self) -> PathKind {
        self.kind
    }

    /// True if the path can match many instances: it contains a wildcard, a search
    /// expression (including unique-key addressing) or reference following.
    pub fn is_search(&self) -> bool {
        self.segments.iter().any(|s| matches!(s, Segment::Wildcard | Segment::Search(_) | Segment::Reference { .. }))
    }

    /// True if the path is a supported-data-model path (contains `{i}`).
    pub fn is_supported_path(&self) -> bool {
        self.segments.iter().any(|s| matches!(s, Segment::Placeholder))
    }

    /// True for object / object-instance / table paths (ending in `.`).
    pub fn is_partial(&self) -> bool {
        self.kind == PathKind::Object
    }

    /// Name of the last [`Segment::Name`]: the parameter, command (without `()`),
    /// event (without `!`) or object name. For `Device.WiFi.SSID.1.` this is `SSID`.
    pub fn last_name(&self) -> Option<&str> {
        self.segments.iter().rev().find_map(|s| match s {
            Segment::Name(n) => Some(n.as_str()),
            _ => None,
        })
    }

    /// The object path one level up: for a parameter / command / event, the object that
    /// contains it; for an object path, the path with its last segment removed
    /// (`Device.WiFi.SSID.1.` → `Device.WiFi.SSID.` → `Device.WiFi.` → `Device.` → `None`).
    ///
    /// Also `None` when the parent would end in a reference (`Device.A.Ref+.Name`), because
    /// a reference must be followed by more path and the referenced object has no
    /// syntactically valid path of its own.
    pub fn parent(&self) -> Option<Path> {
        if self.segments.len() <= 1 {
            return None;
        }
        let segments = self.segments[..self.segments.len() - 1].to_vec();
        if matches!(segments.last(), Some(Segment::Reference { .. })) {
            return None;
        }
        let text = render(&segments, PathKind::Object);
        Some(Path { text, segments, kind: PathKind::Object })
    }

    /// Appends a relative path (`Name`, `Sub.Param`, `Cmd()`, `Table.3.`, …) to an object
    /// path. Errors if `self` is not an object path or the result does not parse; error
    /// positions refer to the joined text.
    pub fn join(&self, relative: &str) -> Result<Path, PathError> {
        if self.kind != PathKind::Object {
            return Err(PathError::new(
                &self.text,
                self.text.len(),
                "can only join a relative path onto an object path (ending in '.')",
            ));
        }
        let mut joined = String::with_capacity(self.text.len() + relative.len());
        joined.push_str(&self.text);
        joined.push_str(relative);
        joined.parse()
    }
}

impl PartialEq for Path {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Path {}

impl std::hash::Hash for Path {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

impl PartialOrd for Path {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Path {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}

impl FromStr for Path {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (segments, kind) = Parser::new(s).parse()?;
        let text = render(&segments, kind);
        Ok(Path { text, segments, kind })
    }
}

impl TryFrom<&str> for Path {
    type Error = PathError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl TryFrom<String> for Path {
    type Error = PathError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Path> for String {
    fn from(p: Path) -> String {
        p.text
    }
}

impl AsRef<str> for Path {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl serde::Serialize for Path {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Path {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------
// Rendering (canonical text)

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Segment::Name(n) => f.write_str(n),
            Segment::Instance(i) => write!(f, "{i}"),
            Segment::Wildcard => f.write_str("*"),
            Segment::Search(comps) => {
                f.write_str("[")?;
                for (i, c) in comps.iter().enumerate() {
                    if i > 0 {
                        f.write_str("&&")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str("]")
            }
            Segment::Reference { name, index } => {
                f.write_str(name)?;
                match index {
                    RefIndex::Default => {}
                    RefIndex::Item(n) => write!(f, "#{n}")?,
                    RefIndex::All => f.write_str("#*")?,
                }
                f.write_str("+")
            }
            Segment::Placeholder => f.write_str("{i}"),
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.lhs.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{s}")?;
        }
        write!(f, "{}{}", self.op, self.value)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => {
                f.write_str("\"")?;
                let mut rest = s.as_str();
                while let Some(i) = rest.find(['"', '%']) {
                    f.write_str(&rest[..i])?;
                    f.write_str(if rest.as_bytes()[i] == b'"' { "%22" } else { "%25" })?;
                    rest = &rest[i + 1..];
                }
                f.write_str(rest)?;
                f.write_str("\"")
            }
            Literal::Num(n) => f.write_str(n),
            Literal::Bool(b) => f.write_str(if *b { "true" } else { "false" }),
        }
    }
}

fn render(segments: &[Segment], kind: PathKind) -> String {
    use fmt::Write as _;
    let mut out = String::new();
    for (i, s) in segments.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        // Writing into a String cannot fail.
        let _ = write!(out, "{s}");
    }
    out.push_str(match kind {
        PathKind::Object => ".",
        PathKind::Parameter => "",
        PathKind::Command => "()",
        PathKind::Event => "!",
    });
    out
}

// ---------------------------------------------------------------------------------------
// Parser

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
}

type PResult<T> = Result<T, PathError>;

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Self {
        Parser { s, b: s.as_bytes(), pos: 0 }
    }

    fn err<T>(&self, position: usize, reason: impl Into<String>) -> PResult<T> {
        Err(PathError::new(self.s, position, reason))
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn peek_at(&self, pos: usize) -> Option<u8> {
        self.b.get(pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.b.len()
    }

    /// The (possibly multi-byte) character at `pos`, for error messages.
    fn char_desc(&self, pos: usize) -> String {
        match self.s.get(pos..).and_then(|t| t.chars().next()) {
            Some(c) => format!("{c:?}"),
            None => "end of path".to_owned(),
        }
    }

    fn unexpected<T>(&self, pos: usize, context: &str) -> PResult<T> {
        self.err(pos, format!("unexpected character {} {context}", self.char_desc(pos)))
    }

    fn parse(mut self) -> PResult<(Vec<Segment>, PathKind)> {
        if self.b.len() > MAX_PATH_LEN {
            return self.err(MAX_PATH_LEN, format!("path is longer than {MAX_PATH_LEN} bytes"));
        }
        if self.b.is_empty() {
            return self.err(0, "empty path");
        }
        if !self.s.starts_with(ROOT) || self.peek_at(ROOT.len()).is_some_and(is_name_char) {
            return self.err(0, "path must start with \"Device.\"");
        }
        self.pos = ROOT.len();
        if self.peek() != Some(b'.') {
            return self.err(self.pos, "expected '.' after \"Device\"");
        }
        self.pos += 1;

        let mut segments = vec![Segment::Name(ROOT.to_owned())];
        // Byte offsets of the first search-like segment and of the first placeholder,
        // to reject paths that mix them.
        let mut search_at: Option<usize> = None;
        let mut placeholder_at: Option<usize> = None;

        loop {
            if self.at_end() {
                return Ok((segments, PathKind::Object));
            }
            let start = self.pos;
            let c = self.b[start];
            match c {
                b'0'..=b'9' | b'*' | b'[' | b'{' => {
                    self.check_instance_position(&segments, start)?;
                    let seg = match c {
                        b'*' => {
                            self.pos += 1;
                            Segment::Wildcard
                        }
                        b'[' => Segment::Search(self.parse_search()?),
                        b'{' => {
                            if !self.s[start..].starts_with("{i}") {
                                return self.err(start, "invalid placeholder (the only placeholder is \"{i}\")");
                            }
                            self.pos += 3;
                            Segment::Placeholder
                        }
                        _ => Segment::Instance(self.parse_posnum("instance number")?),
                    };
                    if matches!(seg, Segment::Placeholder) {
                        placeholder_at.get_or_insert(start);
                    } else if !matches!(seg, Segment::Instance(_)) {
                        search_at.get_or_insert(start);
                    }
                    self.check_no_mix(search_at, placeholder_at, start)?;
                    segments.push(seg);
                    let what = match c {
                        b'*' => "'*'",
                        b'[' => "search expression",
                        b'{' => "\"{i}\"",
                        _ => "instance number",
                    };
                    self.expect_dot_after(what)?;
                }
                b'.' => return self.err(start, "empty name"),
                c if is_name_start(c) => {
                    let name = self.parse_name()?;
                    match self.peek() {
                        None => {
                            segments.push(Segment::Name(name.to_owned()));
                            return Ok((segments, PathKind::Parameter));
                        }
                        Some(b'.') => {
                            segments.push(Segment::Name(name.to_owned()));
                            self.pos += 1;
                        }
                        Some(b'(') => {
                            if self.peek_at(self.pos + 1) != Some(b')') {
                                return self.err(self.pos + 1, "expected ')' (a command path ends with \"()\")");
                            }
                            self.pos += 2;
                            segments.push(Segment::Name(name.to_owned()));
                            return self.finish(segments, PathKind::Command, "command");
                        }
                        Some(b'!') => {
                            self.pos += 1;
                            segments.push(Segment::Name(name.to_owned()));
                            return self.finish(segments, PathKind::Event, "event");
                        }
                        Some(b'+') | Some(b'#') => {
                            let index = self.parse_ref_suffix()?;
                            search_at.get_or_insert(start);
                            self.check_no_mix(search_at, placeholder_at, start)?;
                            segments.push(Segment::Reference { name: name.to_owned(), index });
                            self.expect_after_reference()?;
                        }
                        Some(_) => return self.unexpected(self.pos, "in name"),
                    }
                }
                _ => return self.unexpected(start, "(expected a name, an instance number, '*', '[' or \"{i}\")"),
            }
        }
    }

    /// After `()` or `!`: nothing may follow.
    fn finish(&self, segments: Vec<Segment>, kind: PathKind, what: &str) -> PResult<(Vec<Segment>, PathKind)> {
        if !self.at_end() {
            return self.err(self.pos, format!("unexpected characters after {what} (only valid as the last segment)"));
        }
        Ok((segments, kind))
    }

    fn check_instance_position(&self, segments: &[Segment], start: usize) -> PResult<()> {
        match segments.last() {
            Some(Segment::Name(_)) if segments.len() == 1 => {
                self.err(start, "the root object \"Device\" is not a table")
            }
            Some(Segment::Name(_)) => Ok(()),
            _ => self.err(start, "an instance number, '*', search expression or \"{i}\" must follow a table name"),
        }
    }

    fn check_no_mix(&self, search_at: Option<usize>, placeholder_at: Option<usize>, start: usize) -> PResult<()> {
        if search_at.is_some() && placeholder_at.is_some() {
            return self
                .err(start, "\"{i}\" placeholders cannot be mixed with wildcards, search expressions or references");
        }
        Ok(())
    }

    fn expect_dot_after(&mut self, what: &str) -> PResult<()> {
        match self.peek() {
            Some(b'.') => {
                self.pos += 1;
                Ok(())
            }
            None => self.err(self.pos, format!("expected '.' after {what}")),
            Some(_) => self.unexpected(self.pos, &format!("after {what} (expected '.')")),
        }
    }

    fn expect_after_reference(&mut self) -> PResult<()> {
        match self.peek() {
            Some(b'.') => {
                self.pos += 1;
                if self.at_end() {
                    return self.err(self.pos, "a reference must be followed by '.' and a relative path");
                }
                Ok(())
            }
            None => self.err(self.pos, "a reference must be followed by '.' and a relative path"),
            Some(_) => self.unexpected(self.pos, "after reference (expected '.')"),
        }
    }

    fn parse_name(&mut self) -> PResult<&'a str> {
        let start = self.pos;
        match self.peek() {
            Some(c) if is_name_start(c) => self.pos += 1,
            Some(b'.') | None => return self.err(start, "empty name"),
            Some(_) => return self.unexpected(start, "(expected a name)"),
        }
        while self.peek().is_some_and(is_name_char) {
            self.pos += 1;
        }
        Ok(&self.s[start..self.pos])
    }

    /// A positive integer without leading zeros that fits in u32.
    fn parse_posnum(&mut self, what: &str) -> PResult<u32> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits = &self.s[start..self.pos];
        if digits.is_empty() {
            return self.unexpected(start, &format!("(expected a {what})"));
        }
        if digits == "0" {
            return self.err(start, format!("{what} must be >= 1"));
        }
        if digits.starts_with('0') {
            return self.err(start, format!("{what} has a leading zero"));
        }
        match digits.parse::<u32>() {
            Ok(n) => Ok(n),
            Err(_) => self.err(start, format!("{what} is too large")),
        }
    }

    /// `+`, `#N+` or `#*+` (the cursor is on '+' or '#').
    fn parse_ref_suffix(&mut self) -> PResult<RefIndex> {
        let index = if self.peek() == Some(b'#') {
            self.pos += 1;
            match self.peek() {
                Some(b'*') => {
                    self.pos += 1;
                    RefIndex::All
                }
                Some(c) if c.is_ascii_digit() => RefIndex::Item(self.parse_posnum("list item number")?),
                _ => return self.err(self.pos, "expected a list item number or '*' after '#'"),
            }
        } else {
            RefIndex::Default
        };
        if self.peek() != Some(b'+') {
            return self.err(self.pos, "expected '+' after the list item index");
        }
        self.pos += 1;
        Ok(index)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// `[` comp (`&&` comp)* `]` (the cursor is on '[').
    fn parse_search(&mut self) -> PResult<Vec<Comparison>> {
        let open = self.pos;
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b']') {
            return self.err(self.pos, "empty search expression");
        }
        let mut comps = Vec::new();
        loop {
            self.skip_ws();
            if self.at_end() {
                return self.err(open, "unterminated search expression (missing ']')");
            }
            if comps.len() == MAX_COMPARISONS {
                return self.err(self.pos, format!("more than {MAX_COMPARISONS} comparisons in one search expression"));
            }
            comps.push(self.parse_comparison()?);
            self.skip_ws();
            match self.peek() {
                Some(b'&') if self.peek_at(self.pos + 1) == Some(b'&') => self.pos += 2,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(comps);
                }
                None => {
                    return self.err(open, "unterminated search expression (missing ']')");
                }
                Some(_) => return self.unexpected(self.pos, "in search expression (expected '&&' or ']')"),
            }
        }
    }

    fn parse_comparison(&mut self) -> PResult<Comparison> {
        // Left-hand side: a relative parameter path of names and references.
        let mut lhs = Vec::new();
        loop {
            let start = self.pos;
            match self.peek() {
                Some(c) if is_name_start(c) => {}
                Some(c) if c.is_ascii_digit() || c == b'*' => {
                    return self.err(
                        start,
                        "a search expression cannot descend into a child table (use a separate [...] for each table)",
                    )
                }
                _ => return self.unexpected(start, "(expected a parameter name)"),
            }
            let name = self.parse_name()?;
            match self.peek() {
                Some(b'+') | Some(b'#') => {
                    let index = self.parse_ref_suffix()?;
                    lhs.push(Segment::Reference { name: name.to_owned(), index });
                    if self.peek() != Some(b'.') {
                        return self.err(self.pos, "a reference must be followed by '.' and a parameter name");
                    }
                    self.pos += 1;
                }
                Some(b'.') => {
                    lhs.push(Segment::Name(name.to_owned()));
                    self.pos += 1;
                }
                _ => {
                    lhs.push(Segment::Name(name.to_owned()));
                    break;
                }
            }
        }

        self.skip_ws();
        let op_at = self.pos;
        let two = (self.peek(), self.peek_at(self.pos + 1));
        let (op, len) = match two {
            (Some(b'='), Some(b'=')) => (Op::Eq, 2),
            (Some(b'!'), Some(b'=')) => (Op::Ne, 2),
            (Some(b'~'), Some(b'=')) => (Op::Contains, 2),
            (Some(b'<'), Some(b'=')) => (Op::Le, 2),
            (Some(b'>'), Some(b'=')) => (Op::Ge, 2),
            (Some(b'<'), _) => (Op::Lt, 1),
            (Some(b'>'), _) => (Op::Gt, 1),
            (None, _) => return self.err(op_at, "unterminated search expression (expected an operator)"),
            _ => return self.unexpected(op_at, "(expected a comparison operator: ==, !=, ~=, <, >, <=, >=)"),
        };
        self.pos += len;
        self.skip_ws();

        let value = self.parse_literal()?;
        match &value {
            Literal::Str(_) if op.is_ordering() => {
                return self
                    .err(op_at, format!("operator {op} cannot be used with a string value (only ==, != and ~=)"))
            }
            Literal::Bool(_) if op != Op::Eq && op != Op::Ne => {
                return self.err(op_at, format!("operator {op} cannot be used with a boolean value (only == and !=)"))
            }
            _ => {}
        }
        Ok(Comparison { lhs, op, value })
    }

    fn parse_literal(&mut self) -> PResult<Literal> {
        let start = self.pos;
        match self.peek() {
            Some(b'"') => self.parse_string(),
            Some(c) if c == b'-' || c.is_ascii_digit() => self.parse_number(),
            Some(c) if c.is_ascii_alphabetic() => {
                while self.peek().is_some_and(is_name_char) {
                    self.pos += 1;
                }
                match &self.s[start..self.pos] {
                    "true" => Ok(Literal::Bool(true)),
                    "false" => Ok(Literal::Bool(false)),
                    _ => self
                        .err(start, "an unquoted value must be a number, true or false (strings need double quotes)"),
                }
            }
            None => self.err(start, "unterminated search expression (expected a value)"),
            Some(_) => self.unexpected(start, "(expected a value)"),
        }
    }

    /// A double-quoted string literal with `%22` / `%25` escapes (cursor on the '"').
    fn parse_string(&mut self) -> PResult<Literal> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut run = self.pos;
        loop {
            match self.peek() {
                None => return self.err(open, "unterminated string literal"),
                Some(b'"') => {
                    out.push_str(&self.s[run..self.pos]);
                    self.pos += 1;
                    break;
                }
                Some(b'%') => {
                    out.push_str(&self.s[run..self.pos]);
                    let esc = (self.peek_at(self.pos + 1), self.peek_at(self.pos + 2));
                    match esc {
                        (Some(b'2'), Some(b'2')) => out.push('"'),
                        (Some(b'2'), Some(b'5')) => out.push('%'),
                        _ => {
                            return self
                                .err(self.pos, "invalid %-escape in string literal (write '\"' as %22 and '%' as %25)")
                        }
                    }
                    self.pos += 3;
                    run = self.pos;
                }
                Some(_) => self.pos += 1,
            }
        }
        match self.peek() {
            None | Some(b' ' | b'\t' | b'&' | b']') => Ok(Literal::Str(out)),
            Some(_) => self.unexpected(self.pos, "after string literal (a '\"' inside a string must be written %22)"),
        }
    }

    /// `-`? digits (`.` digits)?
    fn parse_number(&mut self) -> PResult<Literal> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == int_start {
            return self.err(start, "invalid number");
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            let frac_start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            if self.pos == frac_start {
                return self.err(start, "invalid number");
            }
        }
        if self.peek().is_some_and(|c| is_name_char(c) || c == b'.') {
            return self.err(start, "invalid number");
        }
        Ok(Literal::Num(self.s[start..self.pos].to_owned()))
    }
}

// ---------------------------------------------------------------------------------------

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> Path {
        match s.parse::<Path>() {
            Ok(p) => p,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    fn bad(s: &str) -> PathError {
        match s.parse::<Path>() {
            Ok(p) => panic!("{s:?} should be rejected, parsed as {p:?}"),
            Err(e) => e,
        }
    }

    fn n(s: &str) -> Segment {
        Segment::Name(s.to_owned())
    }

    fn s(v: &str) -> Literal {
        Literal::Str(v.to_owned())
    }

    fn num(v: &str) -> Literal {
        Literal::Num(v.to_owned())
    }

    fn cmp(lhs: Vec<Segment>, op: Op, value: Literal) -> Comparison {
        Comparison { lhs, op, value }
    }

    fn reference(name: &str, index: RefIndex) -> Segment {
        Segment::Reference { name: name.to_owned(), index }
    }

    #[test]
    fn unique_key_addressing() {
        let path = p("Device.IP.Interface.[Name==\"eth0\"].");
        assert_eq!(
            path.segments(),
            &[n("Device"), n("IP"), n("Interface"), Segment::Search(vec![cmp(vec![n("Name")], Op::Eq, s("eth0"))]),]
        );
        assert_eq!(path.kind(), PathKind::Object);
        assert!(path.is_search());
        assert!(path.is_partial());
        assert_eq!(path.to_string(), "Device.IP.Interface.[Name==\"eth0\"].");
    }

    #[test]
    fn compound_key() {
        let path = p("Device.NAT.PortMapping.[RemoteHost==\"\"&&ExternalPort==0&&Protocol==\"TCP\"].");
        assert_eq!(
            path.segments()[3],
            Segment::Search(vec![
                cmp(vec![n("RemoteHost")], Op::Eq, s("")),
                cmp(vec![n("ExternalPort")], Op::Eq, num("0")),
                cmp(vec![n("Protocol")], Op::Eq, s("TCP")),
            ])
        );
        assert_eq!(path.segments().len(), 4);
    }

    #[test]
    fn reference_inside_search() {
        let path = p("Device.WiFi.AccessPoint.[SSIDReference+.SSID==\"MyHome\"].AssociatedDevice.*.");
        assert_eq!(
            path.segments(),
            &[
                n("Device"),
                n("WiFi"),
                n("AccessPoint"),
                Segment::Search(vec![cmp(
                    vec![reference("SSIDReference", RefIndex::Default), n("SSID")],
                    Op::Eq,
                    s("MyHome")
                )]),
                n("AssociatedDevice"),
                Segment::Wildcard,
            ]
        );
        assert_eq!(path.kind(), PathKind::Object);
        assert_eq!(path.last_name(), Some("AssociatedDevice"));
    }

    #[test]
    fn reference_following() {
        let path = p("Device.NAT.PortMapping.1.Interface+.Name");
        assert_eq!(
            path.segments(),
            &[
                n("Device"),
                n("NAT"),
                n("PortMapping"),
                Segment::Instance(1),
                reference("Interface", RefIndex::Default),
                n("Name"),
            ]
        );
        assert_eq!(path.kind(), PathKind::Parameter);
        assert!(path.is_search());
        assert_eq!(path.last_name(), Some("Name"));
        assert_eq!(path.parent(), None);

        assert_eq!(p("Device.X.Y#2+.Z").segments(), &[n("Device"), n("X"), reference("Y", RefIndex::Item(2)), n("Z")]);
        assert_eq!(p("Device.X.Y#*+.Z").segments(), &[n("Device"), n("X"), reference("Y", RefIndex::All), n("Z")]);
        // Chained references.
        assert_eq!(
            p("Device.X.A+.B#1+.C").segments(),
            &[n("Device"), n("X"), reference("A", RefIndex::Default), reference("B", RefIndex::Item(1)), n("C")]
        );
        assert_eq!(p("Device.X.Y+.Z.").kind(), PathKind::Object);
    }

    #[test]
    fn supported_dm_path() {
        let path = p("Device.WiFi.SSID.{i}.");
        assert_eq!(path.segments(), &[n("Device"), n("WiFi"), n("SSID"), Segment::Placeholder]);
        assert!(path.is_supported_path());
        assert!(!path.is_search());
        assert!(p("Device.WiFi.SSID.{i}.Stats.BytesSent").is_supported_path());
        assert!(p("Device.LocalAgent.ControllerTrust.Role.{i}.Permission.{i}.").is_supported_path());
        assert!(!p("Device.WiFi.SSID.1.").is_supported_path());
    }

    #[test]
    fn command_and_event() {
        let reboot = p("Device.Reboot()");
        assert_eq!(reboot.segments(), &[n("Device"), n("Reboot")]);
        assert_eq!(reboot.kind(), PathKind::Command);
        assert_eq!(reboot.last_name(), Some("Reboot"));
        assert_eq!(reboot.to_string(), "Device.Reboot()");
        assert_eq!(reboot.parent(), Some(p("Device.")));

        let boot = p("Device.Boot!");
        assert_eq!(boot.segments(), &[n("Device"), n("Boot")]);
        assert_eq!(boot.kind(), PathKind::Event);
        assert_eq!(boot.last_name(), Some("Boot"));
        assert_eq!(boot.to_string(), "Device.Boot!");

        let cmd = p("Device.LocalAgent.ControllerTrust.RequestChallenge()");
        assert_eq!(cmd.parent(), Some(p("Device.LocalAgent.ControllerTrust.")));
        assert_eq!(p("Device.BulkData.Profile.1.Push!").kind(), PathKind::Event);
        assert_eq!(p("Device.MQTT.Client.*.ForceReconnect()").kind(), PathKind::Command);
    }

    #[test]
    fn wildcard_param() {
        let path = p("Device.LocalAgent.Subscription.*.ID");
        assert_eq!(path.segments(), &[n("Device"), n("LocalAgent"), n("Subscription"), Segment::Wildcard, n("ID")]);
        assert_eq!(path.kind(), PathKind::Parameter);
        assert!(path.is_search());
        assert_eq!(path.parent(), Some(p("Device.LocalAgent.Subscription.*.")));
    }

    #[test]
    fn search_expressions() {
        let path = p("Device.IP.Interface.[Stats.ErrorsSent>0].Name");
        assert_eq!(path.segments()[3], Segment::Search(vec![cmp(vec![n("Stats"), n("ErrorsSent")], Op::Gt, num("0"))]));
        assert_eq!(
            p("Device.WiFi.SSID.[Enable==true].").segments()[3],
            Segment::Search(vec![cmp(vec![n("Enable")], Op::Eq, Literal::Bool(true))])
        );
        // Lenient: a quoted "true" is simply a string compare.
        assert_eq!(
            p("Device.WiFi.SSID.[Enable==\"true\"].").segments()[3],
            Segment::Search(vec![cmp(vec![n("Enable")], Op::Eq, s("true"))])
        );
        assert_eq!(
            p("Device.X.[A!=false].").segments()[2],
            Segment::Search(vec![cmp(vec![n("A")], Op::Ne, Literal::Bool(false))])
        );
        let all_ops = p("Device.X.[A==1&&B!=-2&&C~=3&&D<4.5&&E>5&&F<=6&&G>=-7.25&&H~=\"x\"].");
        let Segment::Search(comps) = &all_ops.segments()[2] else { panic!("expected search") };
        let ops: Vec<Op> = comps.iter().map(|c| c.op).collect();
        assert_eq!(ops, [Op::Eq, Op::Ne, Op::Contains, Op::Lt, Op::Gt, Op::Le, Op::Ge, Op::Contains]);
        assert_eq!(comps[1].value, num("-2"));
        assert_eq!(comps[6].value, num("-7.25"));
        assert_eq!(all_ops.to_string(), "Device.X.[A==1&&B!=-2&&C~=3&&D<4.5&&E>5&&F<=6&&G>=-7.25&&H~=\"x\"].");
    }

    #[test]
    fn percent_escapes() {
        let path = p("Device.X.[Name==\"say %22hi%22 100%25\"].");
        assert_eq!(path.segments()[2], Segment::Search(vec![cmp(vec![n("Name")], Op::Eq, s("say \"hi\" 100%"))]));
        assert_eq!(path.to_string(), "Device.X.[Name==\"say %22hi%22 100%25\"].");
        // Non-ASCII and other characters pass through untouched.
        let path = p("Device.X.[Name==\"Küche [2] & more.\"].Y");
        assert_eq!(path.segments()[2], Segment::Search(vec![cmp(vec![n("Name")], Op::Eq, s("Küche [2] & more."))]));
        assert_eq!(path.as_str(), "Device.X.[Name==\"Küche [2] & more.\"].Y");
    }

    #[test]
    fn spaces_are_tolerated_and_canonicalised() {
        let spaced = p("Device.X.[ A == 1 &&  B != \"x\"\t&& C>=2 ].Y");
        let tight = p("Device.X.[A==1&&B!=\"x\"&&C>=2].Y");
        assert_eq!(spaced, tight);
        assert_eq!(spaced.segments(), tight.segments());
        assert_eq!(spaced.as_str(), "Device.X.[A==1&&B!=\"x\"&&C>=2].Y");
    }

    #[test]
    fn plain_paths_and_accessors() {
        let root = p("Device.");
        assert_eq!(root.segments(), &[n("Device")]);
        assert_eq!(root.kind(), PathKind::Object);
        assert_eq!(root.parent(), None);
        assert_eq!(root.last_name(), Some("Device"));

        let param = p("Device.DeviceInfo.SoftwareVersion");
        assert_eq!(param.kind(), PathKind::Parameter);
        assert!(!param.is_search());
        assert!(!param.is_partial());
        assert_eq!(param.parent(), Some(p("Device.DeviceInfo.")));

        let inst = p("Device.WiFi.SSID.1.");
        assert_eq!(inst.last_name(), Some("SSID"));
        assert_eq!(inst.parent(), Some(p("Device.WiFi.SSID.")));
        assert_eq!(p("Device.WiFi.SSID.").parent(), Some(p("Device.WiFi.")));
        assert_eq!(p("Device.WiFi.").parent(), Some(p("Device.")));

        let vendor = p("Device.LocalAgent.X_VANTIVA-COM_PreConnectTimeout");
        assert_eq!(vendor.last_name(), Some("X_VANTIVA-COM_PreConnectTimeout"));
        assert_eq!(p("Device.X.4294967295.").segments()[2], Segment::Instance(u32::MAX));
        assert_eq!(p("Device.Device.").segments(), &[n("Device"), n("Device")]);
    }

    #[test]
    fn join() {
        let obj = p("Device.WiFi.Radio.1.");
        assert_eq!(obj.join("Status").unwrap(), p("Device.WiFi.Radio.1.Status"));
        assert_eq!(obj.join("Stats.BytesSent").unwrap(), p("Device.WiFi.Radio.1.Stats.BytesSent"));
        assert_eq!(p("Device.").join("Reboot()").unwrap().kind(), PathKind::Command);
        assert_eq!(obj.join("Sub.3.").unwrap(), p("Device.WiFi.Radio.1.Sub.3."));
        assert_eq!(obj.join("").unwrap(), obj);
        let e = obj.join(".Status").unwrap_err();
        assert_eq!(e.position(), obj.as_str().len());
        assert!(p("Device.X.Y").join("Z").is_err());
        assert!(p("Device.Reboot()").join("Z").is_err());
        assert!(obj.join("Bad Name").is_err());
    }

    #[test]
    fn error_display() {
        let e = bad("Device.WiFi..");
        assert_eq!(e.position(), 12);
        assert_eq!(e.reason(), "empty name");
        assert_eq!(e.to_string(), "invalid path \"Device.WiFi..\": empty name at position 12");
    }

    #[test]
    fn rejects_invalid_paths() {
        // (input, byte position, fragment of the reason)
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "empty path"),
            ("Device", 6, "expected '.'"),
            ("Devices.", 0, "must start with"),
            ("device.", 0, "must start with"),
            ("InternetGatewayDevice.", 0, "must start with"),
            (".Device.", 0, "must start with"),
            (" Device.", 0, "must start with"),
            ("Device..", 7, "empty name"),
            ("Device.WiFi..X", 12, "empty name"),
            ("Device.Foo.0.", 11, "must be >= 1"),
            ("Device.Foo.01.", 11, "leading zero"),
            ("Device.Foo.4294967296.", 11, "too large"),
            ("Device.Foo.1", 12, "expected '.' after instance number"),
            ("Device.Foo.1X", 12, "after instance number"),
            ("Device.Foo.1.2.", 13, "must follow a table name"),
            ("Device.1.", 7, "not a table"),
            ("Device.*.", 7, "not a table"),
            ("Device.Foo.*", 12, "expected '.'"),
            ("Device.Foo.**.", 12, "after '*'"),
            ("Device.Foo.*.*.", 13, "must follow a table name"),
            ("Device.Foo.{j}.", 11, "placeholder"),
            ("Device.Foo.{i}", 14, "expected '.'"),
            ("Device.Foo.{i}.Bar.*.", 19, "cannot be mixed"),
            ("Device.Foo.*.Bar.{i}.", 17, "cannot be mixed"),
            ("Device.Foo.[A==1].Bar.{i}.", 22, "cannot be mixed"),
            ("Device.Foo.{i}.Ref+.X", 15, "cannot be mixed"),
            ("Device.X.Y+", 11, "must be followed by '.'"),
            ("Device.X.Y+.", 12, "must be followed by '.'"),
            ("Device.X.Y+Z", 11, "after reference"),
            ("Device.X.Y#+.Z", 11, "after '#'"),
            ("Device.X.Y#0+.Z", 11, "must be >= 1"),
            ("Device.X.Y#2.Z", 12, "expected '+'"),
            ("Device.X.Y+.1.", 12, "must follow a table name"),
            ("Device.Reboot().X", 15, "after command"),
            ("Device.Reboot(", 14, "expected ')'"),
            ("Device.Reboot(x)", 14, "expected ')'"),
            ("Device.Boot!.", 12, "after event"),
            ("Device.Boot!!", 12, "after event"),
            ("Device.X.Y$", 10, "in name"),
            ("Device.X Y", 8, "in name"),
            ("Device.X.-Y", 9, "unexpected character"),
            ("Device.X.9Y.", 10, "after instance number"),
            ("Device.X.]", 9, "unexpected character"),
            ("Device.X.Ä", 9, "unexpected character 'Ä'"),
            ("Device.X.[", 9, "unterminated"),
            ("Device.X.[]", 10, "empty search expression"),
            ("Device.X.[ ]", 11, "empty search expression"),
            ("Device.X.[A==1", 9, "unterminated search expression"),
            ("Device.X.[A==1.", 13, "invalid number"),
            ("Device.X.[A==1].[B==2].", 16, "must follow a table name"),
            ("Device.X.[A==1&&", 9, "unterminated search expression"),
            ("Device.X.[A==1]", 15, "expected '.' after search expression"),
            ("Device.X.[A==1]X", 15, "after search expression"),
            ("Device.X.[A==1]].", 15, "after search expression"),
            ("Device.X.[[A==1]].", 10, "expected a parameter name"),
            ("Device.X.[A==1&&].", 16, "expected a parameter name"),
            ("Device.X.[A==1&B==2].", 14, "expected '&&' or ']'"),
            ("Device.X.[A==1||B==2].", 14, "expected '&&' or ']'"),
            ("Device.X.[A==1,B==2].", 14, "expected '&&' or ']'"),
            ("Device.X.[A].", 11, "comparison operator"),
            ("Device.X.[A=1].", 11, "comparison operator"),
            ("Device.X.[A===1].", 13, "expected a value"),
            ("Device.X.[A==].", 13, "expected a value"),
            ("Device.X.[==1].", 10, "expected a parameter name"),
            ("Device.X.[A.==1].", 12, "expected a parameter name"),
            ("Device.X.[A.1.B==1].", 12, "child table"),
            ("Device.X.[A.*.B==1].", 12, "child table"),
            ("Device.X.[A+==1].", 12, "must be followed by '.'"),
            ("Device.X.[A==Up].", 13, "must be a number, true or false"),
            ("Device.X.[A==TRUE].", 13, "must be a number, true or false"),
            ("Device.X.[A==\"x].", 13, "unterminated string literal"),
            ("Device.X.[A==\"a\"b\"].", 16, "must be written %22"),
            ("Device.X.[A==\"x\"\"].", 16, "must be written %22"),
            ("Device.X.[A==\"100%\"].", 17, "invalid %-escape"),
            ("Device.X.[A==\"%41\"].", 14, "invalid %-escape"),
            ("Device.X.[A==\"%2\"].", 14, "invalid %-escape"),
            ("Device.X.[Name<\"x\"].", 14, "cannot be used with a string"),
            ("Device.X.[Name>=\"x\"].", 14, "cannot be used with a string"),
            ("Device.X.[Enable<true].", 16, "cannot be used with a boolean"),
            ("Device.X.[Enable~=true].", 16, "cannot be used with a boolean"),
            ("Device.X.[A==-].", 13, "invalid number"),
            ("Device.X.[A==1.2.3].", 13, "invalid number"),
            ("Device.X.[A==12ab].", 13, "invalid number"),
            ("Device.X.[A==+1].", 13, "expected a value"),
        ];
        for (input, pos, reason) in cases {
            let e = bad(input);
            assert!(e.reason().contains(reason), "{input:?}: reason {:?} does not contain {reason:?}", e.reason());
            assert_eq!(e.position(), *pos, "{input:?}: {e}");
        }
    }

    #[test]
    fn length_limits() {
        let mut long = String::from("Device.");
        while long.len() < MAX_PATH_LEN {
            long.push('A');
        }
        assert_eq!(long.len(), MAX_PATH_LEN);
        assert!(long.parse::<Path>().is_ok());
        long.push('A');
        let e = bad(&long);
        assert_eq!(e.position(), MAX_PATH_LEN);
        assert!(e.reason().contains("longer than 4096"));
        assert!(e.to_string().len() < 400, "error message echoes a bounded prefix");

        let comps = |k: usize| {
            let terms: Vec<String> = (0..k).map(|i| format!("A{i}=={i}")).collect();
            format!("Device.X.[{}].", terms.join("&&"))
        };
        let ok = p(&comps(MAX_COMPARISONS));
        let Segment::Search(c) = &ok.segments()[2] else { panic!("expected search") };
        assert_eq!(c.len(), MAX_COMPARISONS);
        let e = bad(&comps(MAX_COMPARISONS + 1));
        assert!(e.reason().contains("more than 64 comparisons"));
    }

    #[test]
    fn equality_hash_serde() {
        use std::collections::HashSet;
        let a = p("Device.X.[ A == 1 ].");
        let b = p("Device.X.[A==1].");
        let set: HashSet<Path> = [a.clone(), b.clone()].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert_eq!(String::from(a.clone()), "Device.X.[A==1].");
        assert_eq!(a.as_ref(), "Device.X.[A==1].");
        assert_eq!(Path::try_from("Device.X.").unwrap(), p("Device.X."));
        assert_eq!(Path::try_from(String::from("Device.X.")).unwrap(), p("Device.X."));
        assert!(p("Device.A.") < p("Device.B."));

        use serde::de::value::{Error as De, StrDeserializer};
        use serde::de::IntoDeserializer;
        use serde::Deserialize;
        let d: StrDeserializer<'_, De> = "Device.X.[ A == 1 ].".into_deserializer();
        assert_eq!(Path::deserialize(d).unwrap(), b);
        let d: StrDeserializer<'_, De> = "Device.X..".into_deserializer();
        let err = Path::deserialize(d).unwrap_err();
        assert!(err.to_string().contains("empty name at position 9"), "{err}");
    }

    #[test]
    fn display_round_trip_examples() {
        for input in [
            "Device.",
            "Device.IP.Interface.[Name==\"eth0\"].",
            "Device.NAT.PortMapping.[RemoteHost==\"\"&&ExternalPort==0&&Protocol==\"TCP\"].",
            "Device.WiFi.AccessPoint.[SSIDReference+.SSID==\"MyHome\"].AssociatedDevice.*.",
            "Device.NAT.PortMapping.1.Interface+.Name",
            "Device.X.Y#2+.Z",
            "Device.X.Y#*+.Z",
            "Device.WiFi.SSID.{i}.",
            "Device.Reboot()",
            "Device.Boot!",
            "Device.LocalAgent.Subscription.*.ID",
            "Device.IP.Interface.[Stats.ErrorsSent>0].",
            "Device.WiFi.SSID.[Enable==true].",
            "Device.WiFi.SSID.[Enable==\"true\"].",
            "Device.X.[A==\"%22%25\"].",
            "Device.X.[A.B#3+.C.D#*+.E<=-0.5].F.2.G()",
        ] {
            let path = p(input);
            assert_eq!(path.to_string(), input);
            let shown = path.to_string();
            assert_eq!(p(&shown), path);
        }
    }

    // ---- property tests ---------------------------------------------------------------

    /// Independent renderer used by the generator (does not use the Display impls).
    fn text_of(segs: &[Segment], kind: PathKind) -> String {
        fn seg(out: &mut String, s: &Segment) {
            match s {
                Segment::Name(n) => out.push_str(n),
                Segment::Instance(i) => out.push_str(&i.to_string()),
                Segment::Wildcard => out.push('*'),
                Segment::Placeholder => out.push_str("{i}"),
                Segment::Reference { name, index } => {
                    out.push_str(name);
                    match index {
                        RefIndex::Default => {}
                        RefIndex::Item(k) => out.push_str(&format!("#{k}")),
                        RefIndex::All => out.push_str("#*"),
                    }
                    out.push('+');
                }
                Segment::Search(comps) => {
                    out.push('[');
                    for (i, c) in comps.iter().enumerate() {
                        if i > 0 {
                            out.push_str("&&");
                        }
                        for (j, l) in c.lhs.iter().enumerate() {
                            if j > 0 {
                                out.push('.');
                            }
                            seg(out, l);
                        }
                        out.push_str(c.op.as_str());
                        match &c.value {
                            Literal::Str(v) => {
                                out.push('"');
                                out.push_str(&v.replace('%', "%25").replace('"', "%22"));
                                out.push('"');
                            }
                            Literal::Num(v) => out.push_str(v),
                            Literal::Bool(b) => out.push_str(&b.to_string()),
                        }
                    }
                    out.push(']');
                }
            }
        }
        let mut out = String::new();
        for (i, s) in segs.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            seg(&mut out, s);
        }
        match kind {
            PathKind::Object => out.push('.'),
            PathKind::Parameter => {}
            PathKind::Command => out.push_str("()"),
            PathKind::Event => out.push('!'),
        }
        out
    }

    fn arb_name() -> impl Strategy<Value = String> {
        "[A-Za-z_][A-Za-z0-9_-]{0,8}"
    }

    fn arb_ref_index() -> impl Strategy<Value = RefIndex> {
        prop_oneof![Just(RefIndex::Default), Just(RefIndex::All), (1u32..=u32::MAX).prop_map(RefIndex::Item),]
    }

    fn arb_comparison() -> impl Strategy<Value = Comparison> {
        let lhs = (
            prop::collection::vec(
                (arb_name(), prop::option::of(arb_ref_index())).prop_map(|(name, r)| match r {
                    Some(index) => Segment::Reference { name, index },
                    None => Segment::Name(name),
                }),
                0..3,
            ),
            arb_name(),
        )
            .prop_map(|(mut v, last)| {
                v.push(Segment::Name(last));
                v
            });
        let any_op = prop_oneof![
            Just(Op::Eq),
            Just(Op::Ne),
            Just(Op::Contains),
            Just(Op::Lt),
            Just(Op::Gt),
            Just(Op::Le),
            Just(Op::Ge),
        ];
        let value_and_op = prop_oneof![
            ("-?(0|[1-9][0-9]{0,6})(\\.[0-9]{1,3})?".prop_map(Literal::Num), any_op),
            (any::<bool>().prop_map(Literal::Bool), prop_oneof![Just(Op::Eq), Just(Op::Ne)]),
            (".{0,12}".prop_map(Literal::Str), prop_oneof![Just(Op::Eq), Just(Op::Ne), Just(Op::Contains)]),
        ];
        (lhs, value_and_op).prop_map(|(lhs, (value, op))| Comparison { lhs, op, value })
    }

    #[derive(Clone, Debug)]
    enum Step {
        Name(String),
        Table(String, Segment),
        Ref(String, RefIndex),
    }

    fn arb_instance_path() -> impl Strategy<Value = (Vec<Segment>, PathKind)> {
        let inst = prop_oneof![
            (1u32..=u32::MAX).prop_map(Segment::Instance),
            Just(Segment::Wildcard),
            prop::collection::vec(arb_comparison(), 1..4).prop_map(Segment::Search),
        ];
        let step = prop_oneof![
            arb_name().prop_map(Step::Name),
            (arb_name(), inst).prop_map(|(n, i)| Step::Table(n, i)),
            (arb_name(), arb_ref_index()).prop_map(|(n, r)| Step::Ref(n, r)),
        ];
        (prop::collection::vec(step, 0..7), arb_kind(), arb_name())
            .prop_map(|(steps, kind, tail)| build(steps, kind, tail))
    }

    fn arb_supported_path() -> impl Strategy<Value = (Vec<Segment>, PathKind)> {
        let inst = prop_oneof![Just(Segment::Placeholder), (1u32..=1000).prop_map(Segment::Instance)];
        let step =
            prop_oneof![arb_name().prop_map(Step::Name), (arb_name(), inst).prop_map(|(n, i)| Step::Table(n, i)),];
        (prop::collection::vec(step, 0..7), arb_kind(), arb_name())
            .prop_map(|(steps, kind, tail)| build(steps, kind, tail))
    }

    fn arb_kind() -> impl Strategy<Value = PathKind> {
        prop_oneof![Just(PathKind::Object), Just(PathKind::Parameter), Just(PathKind::Command), Just(PathKind::Event),]
    }

    fn build(steps: Vec<Step>, kind: PathKind, tail: String) -> (Vec<Segment>, PathKind) {
        let mut segs = vec![Segment::Name("Device".to_owned())];
        for st in steps {
            match st {
                Step::Name(n) => segs.push(Segment::Name(n)),
                Step::Table(n, i) => {
                    segs.push(Segment::Name(n));
                    segs.push(i);
                }
                Step::Ref(name, index) => segs.push(Segment::Reference { name, index }),
            }
        }
        let needs_tail = kind != PathKind::Object || matches!(segs.last(), Some(Segment::Reference { .. }));
        if needs_tail {
            segs.push(Segment::Name(tail));
        }
        (segs, kind)
    }

    proptest! {
        #[test]
        fn generated_paths_round_trip((segs, kind) in arb_instance_path()) {
            let text = text_of(&segs, kind);
            let path: Path = text.parse().map_err(|e: PathError| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(path.segments(), &segs[..]);
            prop_assert_eq!(path.kind(), kind);
            prop_assert_eq!(path.to_string(), text.clone());
            let again: Path = path.to_string().parse().map_err(|e: PathError| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&again, &path);
            prop_assert_eq!(again.segments(), path.segments());
        }

        #[test]
        fn generated_supported_paths_round_trip((segs, kind) in arb_supported_path()) {
            let text = text_of(&segs, kind);
            let path: Path = text.parse().map_err(|e: PathError| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(path.segments(), &segs[..]);
            prop_assert_eq!(path.kind(), kind);
            prop_assert_eq!(path.to_string(), text);
            prop_assert!(!path.is_search());
        }

        #[test]
        fn arbitrary_strings_never_panic(input in ".{0,200}") {
            check_total(&input)?;
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            check_total(&String::from_utf8_lossy(&bytes))?;
        }

        #[test]
        fn path_like_strings_never_panic(
            tail in "[A-Za-z0-9_.*+#!(){}\\[\\]\"%=<>~&| -]{0,80}",
            prefix in prop_oneof![Just("Device."), Just("Device.X."), Just("Device.X.[A"), Just("")],
        ) {
            check_total(&format!("{prefix}{tail}"))?;
        }
    }

    /// Parsing must not panic; when it succeeds, re-parsing the display is the identity,
    /// and when it fails, the position is within the input.
    fn check_total(input: &str) -> Result<(), TestCaseError> {
        match input.parse::<Path>() {
            Ok(path) => {
                let again: Path =
                    path.to_string().parse().map_err(|e: PathError| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(&again, &path);
                prop_assert_eq!(again.segments(), path.segments());
                prop_assert_eq!(again.kind(), path.kind());
            }
            Err(e) => {
                prop_assert!(e.position() <= input.len());
                prop_assert!(!e.reason().is_empty());
            }
        }
        Ok(())
    }
}
