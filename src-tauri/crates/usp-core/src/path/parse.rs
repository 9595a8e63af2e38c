//! The path parser: one left-to-right pass over the bytes that yields the segments and
//! the kind of a path, or the first [`PathError`].

use super::*;

pub(super) struct Parser<'a> {
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
    pub(super) fn new(s: &'a str) -> Self {
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

    pub(super) fn parse(mut self) -> PResult<(Vec<Segment>, PathKind)> {
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
