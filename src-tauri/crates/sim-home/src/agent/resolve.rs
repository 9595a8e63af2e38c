//! Resolving USP paths (instance numbers, `*`, search expressions, unique-key addressing,
//! reference following) against the instantiated data model, and matching concrete
//! paths against path patterns (permission `Targets`, subscription `ReferenceList`s).

use std::collections::HashSet;

use usp_core::path::{Comparison, Literal, Op, Path, PathKind, RefIndex, Segment};

use super::dm::{Dm, Loc};
use super::schema::{ObjId, Schema, Ty, ROOT};
use super::value;
use super::{err, UspErr};

/// Most objects one path may resolve to before the request is refused with 7005.
pub const MAX_RESOLVED: usize = 100_000;

/// Decides whether a parameter may be read while evaluating a search expression
/// (obj path, obj def, param name). Unreadable parameters never match.
pub type CanRead<'a> = &'a dyn Fn(&str, ObjId, &str) -> bool;

/// Where a path leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An object or object instance.
    Obj(Loc),
    /// A table addressed without instance (`Device.WiFi.SSID.`); `def` is the table.
    Table(Loc),
    /// A parameter of an object (index into the object's params).
    Param(Loc, usize),
    /// A command of an object.
    Command(Loc, &'static str),
    /// An event of an object.
    Event(Loc, &'static str),
}

impl Target {
    /// The object holding the target (the table itself for `Table`).
    pub fn loc(&self) -> &Loc {
        match self {
            Target::Obj(l) | Target::Table(l) | Target::Param(l, _) => l,
            Target::Command(l, _) | Target::Event(l, _) => l,
        }
    }
}

/// The result of resolving one path.
#[derive(Clone, Debug)]
pub struct Resolution {
    pub targets: Vec<Target>,
    /// True when the path may match any number of objects (wildcard, search expression
    /// that is not unique-key addressing, reference following). A non-search path that
    /// matches nothing addresses something that does not exist.
    pub search: bool,
}

/// Parses a path (7008 on bad syntax).
pub fn parse(path: &str) -> Result<Path, UspErr> {
    path.parse::<Path>().map_err(|e| err(7008, format!("invalid path syntax: {}", e.reason())))
}

#[derive(Clone)]
enum Cursor {
    Obj(Loc),
    Table(Loc),
}

/// Resolves a parsed path. Errors: 7026 (not in the supported data model), 7005 (too
/// many matches). A `{i}` placeholder is not valid in the instantiated data model.
pub fn resolve(schema: &Schema, dm: &Dm, path: &Path, can_read: CanRead<'_>) -> Result<Resolution, UspErr> {
    let invalid = || err(7026, format!("{} is not a path of the supported data model", path.as_str()));
    if !check_schema(schema, path) {
        return Err(invalid());
    }
    let segs = path.segments();
    let kind = path.kind();
    let root = Loc::new("Device.", ROOT);
    if segs.len() == 1 {
        return Ok(Resolution { targets: vec![Target::Obj(root)], search: false });
    }
    let mut search = false;
    let mut cursors = vec![Cursor::Obj(root)];
    let mut out = Vec::new();
    for (i, seg) in segs.iter().enumerate().skip(1) {
        let leaf = i + 1 == segs.len() && kind != PathKind::Object;
        let mut next = Vec::new();
        match seg {
            Segment::Name(name) => {
                for cur in &cursors {
                    // Past a reference the data decides; mismatches simply do not match.
                    let Cursor::Obj(loc) = cur else { continue };
                    let def = schema.obj(loc.def);
                    if leaf {
                        match kind {
                            PathKind::Parameter => {
                                if let Some(idx) = def.param_index(name) {
                                    out.push(Target::Param(loc.clone(), idx));
                                }
                            }
                            PathKind::Command => {
                                if let Some(c) = def.command(name) {
                                    out.push(Target::Command(loc.clone(), c.name));
                                }
                            }
                            PathKind::Event => {
                                if let Some(e) = def.event(name) {
                                    out.push(Target::Event(loc.clone(), e.name));
                                }
                            }
                            PathKind::Object => {}
                        }
                        continue;
                    }
                    let Some(child) = schema.child(loc.def, name) else {
                        continue;
                    };
                    let child_path = child_path(&loc.path, name);
                    if schema.obj(child).multi {
                        next.push(Cursor::Table(Loc::new(child_path, child)));
                    } else if dm.exists(&child_path) {
                        next.push(Cursor::Obj(Loc::new(child_path, child)));
                    }
                }
            }
            Segment::Instance(n) => {
                for cur in &cursors {
                    let Cursor::Table(t) = cur else { continue };
                    let row = format!("{}{n}.", t.path);
                    if dm.exists(&row) {
                        next.push(Cursor::Obj(Loc::new(row, t.def)));
                    }
                }
            }
            Segment::Wildcard => {
                search = true;
                for cur in &cursors {
                    let Cursor::Table(t) = cur else { continue };
                    for row in dm.rows(&t.path) {
                        next.push(Cursor::Obj(Loc::new(row, t.def)));
                    }
                    if next.len() > MAX_RESOLVED {
                        return Err(too_many());
                    }
                }
            }
            Segment::Search(cmps) => {
                let def = cursors
                    .iter()
                    .find_map(|c| match c {
                        Cursor::Table(t) => Some(t.def),
                        Cursor::Obj(_) => None,
                    })
                    .or_else(|| table_def_at(schema, segs, i));
                if !def.is_some_and(|d| is_unique_key_addressing(schema, d, cmps)) {
                    search = true;
                }
                for cur in &cursors {
                    let Cursor::Table(t) = cur else { continue };
                    for row in dm.rows(&t.path) {
                        let row = Loc::new(row, t.def);
                        if matches_all(schema, dm, &row, cmps, can_read) {
                            next.push(Cursor::Obj(row));
                        }
                    }
                    if next.len() > MAX_RESOLVED {
                        return Err(too_many());
                    }
                }
            }
            Segment::Reference { name, index } => {
                search = true;
                for cur in &cursors {
                    let Cursor::Obj(loc) = cur else { continue };
                    let Some(idx) = schema.obj(loc.def).param_index(name) else {
                        continue;
                    };
                    if !can_read(&loc.path, loc.def, name) {
                        continue;
                    }
                    let v = dm.value(schema, &loc.path, idx).unwrap_or_default();
                    for target in follow(dm, &v, *index) {
                        next.push(Cursor::Obj(target));
                    }
                    if next.len() > MAX_RESOLVED {
                        return Err(too_many());
                    }
                }
                // References can lead to the same object many times (or in circles).
                let mut seen = HashSet::new();
                next.retain(|c| match c {
                    Cursor::Obj(l) | Cursor::Table(l) => seen.insert(l.path.clone()),
                });
            }
            Segment::Placeholder => return Err(invalid()),
        }
        if leaf {
            break;
        }
        if next.len() > MAX_RESOLVED {
            return Err(too_many());
        }
        cursors = next;
    }
    if kind == PathKind::Object {
        out = cursors
            .into_iter()
            .map(|c| match c {
                Cursor::Obj(l) => Target::Obj(l),
                Cursor::Table(l) => Target::Table(l),
            })
            .collect();
    }
    if out.len() > MAX_RESOLVED {
        return Err(too_many());
    }
    Ok(Resolution { targets: out, search })
}

/// `{parent}{name}.` without going through `format!`.
fn child_path(parent: &str, name: &str) -> String {
    let mut p = String::with_capacity(parent.len() + name.len() + 1);
    p.push_str(parent);
    p.push_str(name);
    p.push('.');
    p
}

fn too_many() -> UspErr {
    err(7005, format!("the path matches more than {MAX_RESOLVED} objects"))
}

/// Checks a path against the supported data model (names, tables where instances are
/// addressed, search-expression parameters). Past a reference the target object depends
/// on data, so checking stops there.
pub fn check_schema(schema: &Schema, path: &Path) -> bool {
    let segs = path.segments();
    let mut cur = ROOT;
    // True right after a table name: an instance, `*` or `[...]` must follow.
    let mut at_table = false;
    let kind = path.kind();
    for (i, seg) in segs.iter().enumerate().skip(1) {
        let last = i + 1 == segs.len();
        match seg {
            Segment::Name(n) => {
                if at_table {
                    return false;
                }
                if last && kind != PathKind::Object {
                    let d = schema.obj(cur);
                    return match kind {
                        PathKind::Parameter => d.param(n).is_some(),
                        PathKind::Command => d.command(n).is_some(),
                        PathKind::Event => d.event(n).is_some(),
                        PathKind::Object => true,
                    };
                }
                match schema.child(cur, n) {
                    Some(c) => cur = c,
                    None => return false,
                }
                at_table = schema.obj(cur).multi;
            }
            Segment::Instance(_) | Segment::Wildcard | Segment::Search(_) | Segment::Placeholder => {
                if !at_table {
                    return false;
                }
                at_table = false;
                if let Segment::Search(cmps) = seg {
                    if !cmps.iter().all(|c| validate_lhs(schema, cur, &c.lhs)) {
                        return false;
                    }
                }
            }
            Segment::Reference { name, .. } => {
                return !at_table && schema.obj(cur).param(name).is_some();
            }
        }
    }
    true
}

/// The table definition a search segment at index `i` applies to (from the schema).
fn table_def_at(schema: &Schema, segs: &[Segment], i: usize) -> Option<ObjId> {
    let mut cur = ROOT;
    for seg in segs.iter().take(i).skip(1) {
        match seg {
            Segment::Name(n) => cur = schema.child(cur, n)?,
            Segment::Instance(_) | Segment::Wildcard | Segment::Search(_) => {}
            _ => return None,
        }
    }
    schema.obj(cur).multi.then_some(cur)
}

/// Checks that the left-hand side of a comparison names a parameter of the table's rows
/// (possibly through single-instance sub-objects and references).
fn validate_lhs(schema: &Schema, def: ObjId, lhs: &[Segment]) -> bool {
    let mut cur = def;
    for (i, seg) in lhs.iter().enumerate() {
        let last = i + 1 == lhs.len();
        match seg {
            Segment::Name(n) if last => return schema.obj(cur).param(n).is_some(),
            Segment::Name(n) => match schema.child(cur, n) {
                Some(child) if !schema.obj(child).multi => cur = child,
                _ => return false,
            },
            Segment::Reference { name, .. } => match schema.obj(cur).param(name).map(|p| p.ty) {
                Some(Ty::Ref(target, _)) => match schema.by_path(target) {
                    Some(t) => cur = t,
                    None => return false,
                },
                // A free-form path parameter: the target is only known from data.
                Some(_) => return true,
                None => return false,
            },
            _ => return false,
        }
    }
    false
}

/// `[Key=="v"&&Other=="w"]` using exactly one unique key set of the table, all with `==`.
fn is_unique_key_addressing(schema: &Schema, def: ObjId, cmps: &[Comparison]) -> bool {
    if cmps.iter().any(|c| c.op != Op::Eq || c.lhs.len() != 1) {
        return false;
    }
    let mut names: Vec<&str> = cmps
        .iter()
        .filter_map(|c| match c.lhs.first() {
            Some(Segment::Name(n)) => Some(n.as_str()),
            _ => None,
        })
        .collect();
    names.sort_unstable();
    schema.obj(def).keys.iter().any(|set| {
        let mut k = set.clone();
        k.sort_unstable();
        k == names
    })
}

/// Follows a reference value (comma-separated list of object paths) per the index.
pub fn follow(dm: &Dm, value: &str, index: RefIndex) -> Vec<Loc> {
    let items = value::split_list(value);
    let picked: Vec<&str> = match index {
        RefIndex::Default => items.first().copied().into_iter().collect(),
        RefIndex::Item(n) => (n as usize).checked_sub(1).and_then(|i| items.get(i)).copied().into_iter().collect(),
        RefIndex::All => items,
    };
    picked
        .into_iter()
        .filter_map(|p| {
            let path = format!("{}.", p.trim_end_matches('.'));
            if !dm.exists(&path) {
                return None;
            }
            let def = dm.obj(&path)?.def;
            Some(Loc::new(path, def))
        })
        .collect()
}

/// True if the row satisfies every comparison.
pub fn matches_all(schema: &Schema, dm: &Dm, row: &Loc, cmps: &[Comparison], can_read: CanRead<'_>) -> bool {
    cmps.iter().all(|c| matches_one(schema, dm, row, c, can_read))
}

fn matches_one(schema: &Schema, dm: &Dm, row: &Loc, c: &Comparison, can_read: CanRead<'_>) -> bool {
    // Collect the candidate (object, param name) pairs the lhs leads to.
    let mut objs = vec![row.clone()];
    for (i, seg) in c.lhs.iter().enumerate() {
        let last = i + 1 == c.lhs.len();
        let mut next = Vec::new();
        for o in &objs {
            match seg {
                Segment::Name(n) if last => {
                    let def = schema.obj(o.def);
                    let Some(idx) = def.param_index(n) else {
                        continue;
                    };
                    if !can_read(&o.path, o.def, n) {
                        continue;
                    }
                    let p = &def.params[idx];
                    if p.secured {
                        // Secured values never take part in searches.
                        continue;
                    }
                    if let Some(v) = dm.value(schema, &o.path, idx) {
                        if compare(p.ty, &v, c.op, &c.value) {
                            return true;
                        }
                    }
                }
                Segment::Name(n) => {
                    if let Some(child) = schema.child(o.def, n) {
                        let path = format!("{}{n}.", o.path);
                        if !schema.obj(child).multi && dm.exists(&path) {
                            next.push(Loc::new(path, child));
                        }
                    }
                }
                Segment::Reference { name, index } => {
                    if !can_read(&o.path, o.def, name) {
                        continue;
                    }
                    if let Some(v) = dm.value_by_name(schema, &o.path, name) {
                        next.extend(follow(dm, &v, *index));
                    }
                }
                _ => {}
            }
        }
        let mut seen = HashSet::new();
        next.retain(|l| seen.insert(l.path.clone()));
        objs = next;
    }
    false
}

/// Compares a parameter value with a search literal.
pub fn compare(ty: Ty, v: &str, op: Op, lit: &Literal) -> bool {
    let lit_text = match lit {
        Literal::Str(s) => s.clone(),
        Literal::Num(n) => n.clone(),
        Literal::Bool(b) => b.to_string(),
    };
    match op {
        Op::Contains => value::split_list(v).iter().any(|item| *item == lit_text),
        Op::Eq => equals(ty, v, lit),
        Op::Ne => !equals(ty, v, lit),
        Op::Lt | Op::Gt | Op::Le | Op::Ge => {
            let (Some(a), Some(b)) = (value::parse_number(v), value::parse_number(&lit_text)) else {
                return false;
            };
            match op {
                Op::Lt => a < b,
                Op::Gt => a > b,
                Op::Le => a <= b,
                _ => a >= b,
            }
        }
    }
}

fn equals(ty: Ty, v: &str, lit: &Literal) -> bool {
    match lit {
        Literal::Bool(b) => match v {
            "true" | "1" => *b,
            "false" | "0" => !*b,
            _ => false,
        },
        Literal::Num(n) => match (value::parse_number(v), value::parse_number(n)) {
            (Some(a), Some(b)) => a == b,
            _ => v == n,
        },
        Literal::Str(s) => {
            if ty == Ty::Mac {
                v.eq_ignore_ascii_case(s)
            } else {
                v == s
            }
        }
    }
}

// ----------------------------------------------------------------------------------------
// Pattern matching (permission Targets, subscription ReferenceLists)

/// A concrete item: an object path plus, optionally, a parameter / command / event name.
#[derive(Clone, Copy, Debug)]
pub struct Item<'a> {
    /// Object path with trailing dot (instance path, table path, or supported path).
    pub obj: &'a str,
    pub leaf: Leaf<'a>,
}

/// What an [`Item`] designates inside its object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leaf<'a> {
    /// The object itself.
    None,
    Param(&'a str),
    Command(&'a str),
    Event(&'a str),
}

/// Does `pattern` cover `item`? An object pattern covers everything at or below the
/// object; a parameter / command / event pattern covers exactly that item. Pattern
/// segments: names, instance numbers, `*` (any instance, also `{i}`), search
/// expressions (evaluated against the data), `{i}`. Reference following in patterns
/// is not supported (never matches).
pub fn covers(schema: &Schema, dm: &Dm, pattern: &Path, item: Item<'_>) -> bool {
    let trimmed = item.obj.trim_end_matches('.');
    let token_count = trimmed.split('.').count();
    let segs = pattern.segments();
    let (obj_segs, leaf) = match pattern.kind() {
        PathKind::Object => (segs, None),
        kind => {
            let Some((Segment::Name(n), rest)) = segs.split_last() else {
                return false;
            };
            (rest, Some((kind, n.as_str())))
        }
    };
    if let Some((kind, name)) = leaf {
        let same_leaf = match (kind, item.leaf) {
            (PathKind::Parameter, Leaf::Param(p)) => p == name,
            (PathKind::Command, Leaf::Command(c)) => c == name,
            (PathKind::Event, Leaf::Event(e)) => e == name,
            _ => false,
        };
        if !same_leaf || obj_segs.len() != token_count {
            return false;
        }
    } else if obj_segs.len() > token_count {
        return false;
    }
    // Byte offset of the current token in `trimmed`: `trimmed[..start]` is the object
    // path up to (and with the dot after) the previous token.
    let mut start = 0;
    for (seg, tok) in obj_segs.iter().zip(trimmed.split('.')) {
        let tok = &tok;
        let ok = match seg {
            Segment::Name(n) => n == tok,
            Segment::Instance(n) => tok.parse::<u32>().ok() == Some(*n),
            Segment::Wildcard => *tok == "{i}" || tok.parse::<u32>().is_ok(),
            Segment::Placeholder => *tok == "{i}" || tok.parse::<u32>().is_ok(),
            Segment::Search(cmps) => {
                let row = format!("{}{tok}.", &trimmed[..start]);
                match dm.obj(&row) {
                    Some(o) => matches_all(schema, dm, &Loc::new(row.clone(), o.def), cmps, &|_, _, _| true),
                    None => false,
                }
            }
            Segment::Reference { .. } => false,
        };
        if !ok {
            return false;
        }
        start += tok.len() + 1;
    }
    true
}
