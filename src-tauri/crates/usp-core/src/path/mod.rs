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

mod parse;

use parse::Parser;

#[cfg(test)]
mod tests;
