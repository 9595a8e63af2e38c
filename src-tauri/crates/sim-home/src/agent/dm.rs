//! The instantiated data model: object instances with their parameter values, table
//! bookkeeping (next instance number, current rows) and the log of changes that the
//! notification code turns into Notify messages.
//!
//! Objects are stored flat, keyed by their instance path with the trailing dot
//! (`Device.WiFi.SSID.2.`). Tables are keyed by their table path (`Device.WiFi.SSID.`).
//! Cloning a `Dm` is cheap enough (a few hundred objects) to give Add/Set/Delete
//! all-or-nothing semantics: work on a clone, keep it only on success.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use super::schema::{Computed, ObjId, Schema, Ty, ROOT};
use super::value;
use super::{err, UspErr};

/// An object (single-instance object or table row) in the instantiated data model.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Loc {
    /// Instance path with trailing dot (`Device.WiFi.SSID.2.`).
    pub path: String,
    pub def: ObjId,
}

impl Loc {
    pub fn new(path: impl Into<String>, def: ObjId) -> Loc {
        Loc { path: path.into(), def }
    }
}

/// Stored values of one object, indexed like `ObjDef::params`.
#[derive(Clone, Debug)]
pub struct ObjData {
    pub def: ObjId,
    pub values: Vec<String>,
}

/// A table: its current rows and the next instance number (never reused).
#[derive(Clone, Debug)]
pub struct TableData {
    pub def: ObjId,
    pub next: u32,
    pub rows: BTreeSet<u32>,
}

/// A change to the instantiated data model, as recorded for notifications.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A parameter value changed (`obj` has the trailing dot).
    Value { obj: String, param: String },
    /// A row was created (instance path).
    Created { path: String },
    /// A row was deleted (instance path).
    Deleted { path: String },
}

/// The instantiated data model of one agent.
#[derive(Clone, Debug)]
pub struct Dm {
    objs: HashMap<String, ObjData>,
    tables: HashMap<String, TableData>,
    /// Changes since the last [`Dm::take_changes`].
    changes: Vec<Change>,
    /// The current time, for computed parameters.
    pub now: SystemTime,
    /// The time of the last (simulated) boot, for `UpTime`.
    pub boot: SystemTime,
    /// What `UpTime` reads instead of the truth, when set (a lying device).
    pub uptime_lie: Option<String>,
    /// Identifies the stored contents (objects, tables, values): a fresh process-wide
    /// number on every change, so two different contents never share a stamp, even
    /// across data models (a clone shares it until either side changes).
    stamp: u64,
}

/// Source of [`Dm`] stamps.
static NEXT_STAMP: AtomicU64 = AtomicU64::new(1);

fn fresh_stamp() -> u64 {
    NEXT_STAMP.fetch_add(1, Ordering::Relaxed)
}

impl Dm {
    /// A data model with every mandatory object and empty tables.
    pub fn new(schema: &Schema, now: SystemTime) -> Dm {
        let mut dm = Dm {
            objs: HashMap::new(),
            tables: HashMap::new(),
            changes: Vec::new(),
            now,
            boot: now,
            uptime_lie: None,
            stamp: fresh_stamp(),
        };
        dm.create_obj(schema, "Device.".to_owned(), ROOT);
        dm
    }

    /// Inserts an object with default values, its mandatory single-instance children and
    /// its (empty) child tables.
    fn create_obj(&mut self, schema: &Schema, path: String, def: ObjId) {
        self.touch();
        let d = schema.obj(def);
        let values = d.params.iter().map(|p| p.default.to_owned()).collect();
        for &child in &d.children {
            let c = schema.obj(child);
            let child_path = format!("{path}{}.", c.name);
            if c.multi {
                self.tables.insert(child_path, TableData { def: child, next: 1, rows: BTreeSet::new() });
            } else if !c.optional {
                self.create_obj(schema, child_path, child);
            }
        }
        self.objs.insert(path, ObjData { def, values });
    }

    /// Creates an optional single-instance child object (e.g. `IoTCapability.1.LevelSensor.`)
    /// if it does not exist yet.
    pub fn ensure_optional(&mut self, schema: &Schema, path: &str, def: ObjId) {
        if !self.objs.contains_key(path) {
            self.create_obj(schema, path.to_owned(), def);
        }
    }

    /// The stamp of the current stored contents (see [`Dm::stamp`] field docs): equal
    /// stamps mean equal stored contents. `now` and `boot` are not part of it.
    pub fn stamp(&self) -> u64 {
        self.stamp
    }

    fn touch(&mut self) {
        self.stamp = fresh_stamp();
    }

    /// Records a change (for notifications).
    pub fn record(&mut self, change: Change) {
        self.changes.push(change);
    }

    /// Drops recorded `Value` changes of objects under `prefix` (a new row's own values
    /// are reported by ObjectCreation, not ValueChange).
    pub fn forget_value_changes_under(&mut self, prefix: &str) {
        self.changes.retain(|c| !matches!(c, Change::Value { obj, .. } if obj.starts_with(prefix)));
    }

    /// Every object (path, data), in no particular order.
    pub fn objects(&self) -> impl Iterator<Item = (&String, &ObjData)> {
        self.objs.iter()
    }

    /// Takes the recorded changes.
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    /// The object at an instance path (with trailing dot).
    pub fn obj(&self, path: &str) -> Option<&ObjData> {
        self.objs.get(path)
    }

    /// True if the object exists.
    pub fn exists(&self, path: &str) -> bool {
        self.objs.contains_key(path)
    }

    /// The table at a table path (with trailing dot).
    pub fn table(&self, path: &str) -> Option<&TableData> {
        self.tables.get(path)
    }

    /// Row paths of a table, ascending.
    pub fn rows(&self, table_path: &str) -> Vec<String> {
        match self.tables.get(table_path) {
            Some(t) => t.rows.iter().map(|i| format!("{table_path}{i}.")).collect(),
            None => Vec::new(),
        }
    }

    /// Adds a row with default values; `inst` forces the instance number (scenario data).
    /// Records `Created` and the parent's `…NumberOfEntries` change.
    pub fn add_row(&mut self, schema: &Schema, table_path: &str, inst: Option<u32>) -> Result<String, UspErr> {
        let table = self.tables.get_mut(table_path).ok_or_else(|| err(7026, format!("{table_path} is not a table")))?;
        let def = table.def;
        let max = schema.obj(def).max_rows as usize;
        if table.rows.len() >= max {
            return Err(err(7005, format!("{table_path} is full ({max} rows)")));
        }
        let n = match inst {
            Some(n) if n >= 1 && !table.rows.contains(&n) => n,
            Some(n) => return Err(err(7017, format!("instance {n} cannot be used"))),
            None => table.next,
        };
        if n == u32::MAX {
            return Err(err(7005, "instance numbers exhausted"));
        }
        table.next = table.next.max(n + 1);
        table.rows.insert(n);
        self.touch();
        let path = format!("{table_path}{n}.");
        self.create_obj(schema, path.clone(), def);
        self.record(Change::Created { path: path.clone() });
        self.record_count_change(schema, table_path);
        Ok(path)
    }

    fn record_count_change(&mut self, schema: &Schema, table_path: &str) {
        let Some(def) = self.tables.get(table_path).map(|t| t.def) else {
            return;
        };
        let (parent, _) = split_last(table_path);
        self.record(Change::Value {
            obj: parent.to_owned(),
            param: format!("{}NumberOfEntries", schema.obj(def).name),
        });
    }

    /// Deletes a row and everything below it. Returns the deleted row paths (the row
    /// first, then nested rows) and records `Deleted` changes for each.
    pub fn delete_row(&mut self, schema: &Schema, row_path: &str) -> Vec<String> {
        if !self.objs.contains_key(row_path) {
            return Vec::new();
        }
        let (table_path, inst) = split_last(row_path);
        let Some(inst) = inst.parse::<u32>().ok() else {
            return Vec::new();
        };
        self.touch();
        let mut removed: Vec<(String, ObjId)> = self
            .objs
            .keys()
            .filter(|k| k.starts_with(row_path))
            .filter_map(|k| self.objs.get(k).map(|o| (k.clone(), o.def)))
            .collect();
        removed.sort_by(|a, b| natural_cmp(&a.0, &b.0));
        for (k, _) in &removed {
            self.objs.remove(k);
        }
        self.tables.retain(|k, _| !k.starts_with(row_path));
        if let Some(t) = self.tables.get_mut(table_path) {
            t.rows.remove(&inst);
        }
        let rows: Vec<String> =
            removed.into_iter().filter(|(k, def)| schema.obj(*def).multi && is_row_path(k)).map(|(k, _)| k).collect();
        for r in &rows {
            self.record(Change::Deleted { path: r.clone() });
        }
        self.record_count_change(schema, table_path);
        rows
    }

    /// Stored value of a parameter (computed parameters have no stored value).
    pub fn raw(&self, obj_path: &str, idx: usize) -> Option<&str> {
        self.objs.get(obj_path).and_then(|o| o.values.get(idx)).map(String::as_str)
    }

    /// Stored value by parameter name.
    pub fn raw_by_name(&self, schema: &Schema, obj_path: &str, name: &str) -> Option<&str> {
        let o = self.objs.get(obj_path)?;
        let idx = schema.obj(o.def).param_index(name)?;
        o.values.get(idx).map(String::as_str)
    }

    /// Current value of a parameter, computing it when needed.
    pub fn value(&self, schema: &Schema, obj_path: &str, idx: usize) -> Option<String> {
        let o = self.objs.get(obj_path)?;
        let p = schema.obj(o.def).params.get(idx)?;
        match p.computed {
            None => o.values.get(idx).cloned(),
            Some(Computed::UpTime) if self.uptime_lie.is_some() => self.uptime_lie.clone(),
            Some(Computed::UpTime) => {
                Some(self.now.duration_since(self.boot).map(|d| d.as_secs()).unwrap_or(0).to_string())
            }
            Some(Computed::Count(child)) => {
                let t = format!("{obj_path}{}.", schema.obj(child).name);
                Some(self.tables.get(&t).map(|t| t.rows.len()).unwrap_or(0).to_string())
            }
            Some(Computed::ScheduleStatus) => Some(self.schedule_status(schema, obj_path)),
            Some(Computed::LocalTime) => Some(value::format_datetime(self.now)),
        }
    }

    /// Current value by parameter name.
    pub fn value_by_name(&self, schema: &Schema, obj_path: &str, name: &str) -> Option<String> {
        let o = self.objs.get(obj_path)?;
        let idx = schema.obj(o.def).param_index(name)?;
        self.value(schema, obj_path, idx)
    }

    fn schedule_status(&self, schema: &Schema, path: &str) -> String {
        let get = |n: &str| self.raw_by_name(schema, path, n).unwrap_or("");
        if get("Enable") != "true" {
            return "Disabled".to_owned();
        }
        let days: Vec<usize> = value::split_list(get("Day"))
            .iter()
            .filter_map(|d| {
                ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
                    .iter()
                    .position(|x| x == d)
            })
            .collect();
        let Some(start) = value::parse_hhmm(get("StartTime")) else {
            return "Error".to_owned();
        };
        let duration_min = get("Duration").parse::<u64>().unwrap_or(0) / 60;
        let (weekday, minute) = value::weekday_and_minute(self.now);
        // Minutes since the start on each listed day (this week's or last week's).
        let now_min = weekday as i64 * 1440 + minute as i64;
        let inside = days.iter().any(|&d| {
            let start_min = d as i64 * 1440 + start as i64;
            let since = (now_min - start_min).rem_euclid(7 * 1440);
            duration_min > 0 && (since as u64) < duration_min
        });
        let inverse = get("InverseMode") == "true";
        if inside != inverse { "Active" } else { "Inactive" }.to_owned()
    }

    /// Stores a value (no checks). Records a `Value` change when it differs.
    pub fn set_raw(&mut self, schema: &Schema, obj_path: &str, idx: usize, value: String) -> bool {
        let Some(o) = self.objs.get_mut(obj_path) else {
            return false;
        };
        let Some(slot) = o.values.get_mut(idx) else {
            return false;
        };
        if *slot == value {
            return false;
        }
        *slot = value;
        self.stamp = fresh_stamp();
        let name = schema.obj(o.def).params[idx].name.clone();
        self.record(Change::Value { obj: obj_path.to_owned(), param: name });
        true
    }

    /// Stores a value by name (no checks).
    pub fn set_by_name(&mut self, schema: &Schema, obj_path: &str, name: &str, value: &str) -> bool {
        let Some(idx) = self.objs.get(obj_path).and_then(|o| schema.obj(o.def).param_index(name)) else {
            return false;
        };
        self.set_raw(schema, obj_path, idx, value.to_owned())
    }

    /// Finds `Sub.Param` relative to an object, through existing single-instance children.
    pub fn locate_param(&self, schema: &Schema, obj: &Loc, rel: &str) -> Option<(Loc, usize)> {
        let mut parts: Vec<&str> = rel.split('.').collect();
        let last = parts.pop()?;
        let mut cur = obj.clone();
        for part in parts {
            let child = schema.child(cur.def, part)?;
            if schema.obj(child).multi {
                return None;
            }
            let path = format!("{}{part}.", cur.path);
            if !self.exists(&path) {
                return None;
            }
            cur = Loc::new(path, child);
        }
        let idx = schema.obj(cur.def).param_index(last)?;
        Some((cur, idx))
    }

    /// Checks that every reference in a `Ty::Ref` value points at an existing row.
    pub fn check_refs(&self, schema: &Schema, ty: Ty, value: &str) -> Result<(), UspErr> {
        let Ty::Ref(target, _) = ty else {
            return Ok(());
        };
        let target_def = schema.by_path(target);
        for item in value::split_list(value) {
            let path = format!("{}.", item.trim_end_matches('.'));
            let ok = is_row_path(&path)
                && self.exists(&path)
                && schema.def_of_path(&path).is_some()
                && schema.def_of_path(&path) == target_def;
            if !ok {
                return Err(err(7012, format!("{item:?} does not reference an existing {target}")));
            }
        }
        Ok(())
    }

    /// The unique key set that another row of the same table already uses, if any.
    pub fn key_conflict(&self, schema: &Schema, row: &Loc) -> Option<Vec<&'static str>> {
        let def = schema.obj(row.def);
        if !def.multi {
            return None;
        }
        let (table_path, _) = split_last(&row.path);
        for set in &def.keys {
            let mine: Vec<&str> = set.iter().map(|k| self.raw_by_name(schema, &row.path, k).unwrap_or("")).collect();
            for other in self.rows(table_path) {
                if other == row.path {
                    continue;
                }
                let same = set.iter().zip(&mine).all(|(k, v)| self.raw_by_name(schema, &other, k).unwrap_or("") == *v);
                if same {
                    return Some(set.clone());
                }
            }
        }
        None
    }

    /// Values of all unique-key parameters of a row.
    pub fn unique_keys(&self, schema: &Schema, row: &Loc) -> Vec<(&'static str, String)> {
        schema
            .obj(row.def)
            .key_params()
            .into_iter()
            .map(|k| (k, self.value_by_name(schema, &row.path, k).unwrap_or_default()))
            .collect()
    }

    /// Every object below (and including) `loc`, depth first, with its depth (loc = 1).
    /// Table rows count as one level below the object holding the table.
    pub fn walk(&self, schema: &Schema, loc: &Loc, max_depth: u32, out: &mut Vec<(Loc, u32)>, cap: usize) {
        self.walk_inner(schema, loc, 1, max_depth, out, cap);
    }

    fn walk_inner(
        &self,
        schema: &Schema,
        loc: &Loc,
        depth: u32,
        max_depth: u32,
        out: &mut Vec<(Loc, u32)>,
        cap: usize,
    ) {
        if out.len() > cap {
            return;
        }
        out.push((loc.clone(), depth));
        if max_depth != 0 && depth >= max_depth {
            return;
        }
        for &child in &schema.obj(loc.def).children {
            let c = schema.obj(child);
            let path = format!("{}{}.", loc.path, c.name);
            if c.multi {
                for row in self.rows(&path) {
                    self.walk_inner(schema, &Loc::new(row, child), depth + 1, max_depth, out, cap);
                }
            } else if self.exists(&path) {
                self.walk_inner(schema, &Loc::new(path, child), depth + 1, max_depth, out, cap);
            }
        }
    }

    /// All rows of all tables below `loc` (not `loc` itself), depth first.
    pub fn rows_below(&self, schema: &Schema, loc: &Loc, first_level_only: bool, out: &mut Vec<Loc>) {
        for &child in &schema.obj(loc.def).children {
            let c = schema.obj(child);
            let path = format!("{}{}.", loc.path, c.name);
            if c.multi {
                for row in self.rows(&path) {
                    let row = Loc::new(row, child);
                    out.push(row.clone());
                    if !first_level_only {
                        self.rows_below(schema, &row, false, out);
                    }
                }
            } else if self.exists(&path) {
                self.rows_below(schema, &Loc::new(path, child), first_level_only, out);
            }
        }
    }
}

/// `Device.WiFi.SSID.2.` → (`Device.WiFi.SSID.`, `2`); `Device.WiFi.` → (`Device.`, `WiFi`).
pub fn split_last(path: &str) -> (&str, &str) {
    let trimmed = path.strip_suffix('.').unwrap_or(path);
    match trimmed.rfind('.') {
        Some(i) => (&path[..i + 1], &trimmed[i + 1..]),
        None => ("", trimmed),
    }
}

/// True if the last segment of an object path is an instance number.
pub fn is_row_path(path: &str) -> bool {
    let (_, last) = split_last(path);
    !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit())
}

/// Orders paths segment by segment, numbers numerically (`SSID.2.` < `SSID.10.`).
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let mut ai = a.split('.');
    let mut bi = b.split('.');
    loop {
        match (ai.next(), bi.next()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => {
                let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    _ => x.cmp(y),
                };
                if ord != std::cmp::Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}
