//! The data-model explorer: one level of an agent's tree at a time, from GetSupportedDM (what
//! exists and what our role may do with it) with the current values (Get), and the rows of
//! tables (GetInstances). A field is editable only where the model says it is writable and
//! the role allows it: agents that filter GetSupportedDM by role (as the simulated home does)
//! report read-only access for what we may not write, and the Untrusted role edits nothing.

use std::collections::{BTreeMap, HashMap, HashSet};

use ipc_types::{AgentAuth, DmEntry, DmKind, ExploreArgs, ExplorerView, ParamSet};
use usp_client::ClientError;
use usp_core::msg::{CurrInstance, GetInstancesResp, ParamAccess, SupportedObjectResult, ValueType};
use usp_core::request::{self, SupportedDmOptions};

use crate::params::{is_secret_name, supported_path as schema_path};

use crate::home::{AgentConn, AppError, AppResult, Home};

fn value_type_name(n: i32) -> Option<String> {
    let t = match ValueType::from_number(n)? {
        ValueType::Unknown => return None,
        ValueType::Base64 => "base64",
        ValueType::Boolean => "boolean",
        ValueType::DateTime => "dateTime",
        ValueType::Decimal => "decimal",
        ValueType::HexBinary => "hexBinary",
        ValueType::Int => "int",
        ValueType::Long => "long",
        ValueType::String => "string",
        ValueType::UnsignedInt => "unsignedInt",
        ValueType::UnsignedLong => "unsignedLong",
    };
    Some(t.to_owned())
}

/// Whether `path` is an object path we can explore (`Device.` ... `.`).
fn valid_object_path(path: &str) -> bool {
    path.starts_with("Device.")
        && path.ends_with('.')
        && !path.contains("..")
        && path.split('.').all(|s| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
}

/// Most entries one `explore` answer holds; the window asks for the next page by offset.
const EXPLORER_PAGE: usize = ipc_types::EXPLORER_PAGE as usize;
/// Longest entry name shown (TR-181 names are short); an agent's longer ones are skipped.
const MAX_NAME_LEN: usize = 256;
/// Longest value sent to the window; a longer one is cut and can't be edited here.
const MAX_VALUE_LEN: usize = 4096;

/// A plain name segment (`SSID`, `Enable`, `3`): what may follow a path's dot.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// One entry of a level before it becomes a [`DmEntry`]: borrowed from the agent's answer, so
/// a huge level costs no copy until its page is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Item<'a> {
    /// The name as shown (`SSID`, `Reboot()`, `Boot!`).
    pub name: &'a str,
    pub kind: DmKind,
    pub writable: bool,
    pub value_type: i32,
}

impl Item<'_> {
    fn entry(&self, path: &str) -> DmEntry {
        let (path, secret) = match self.kind {
            DmKind::Object | DmKind::Table => (format!("{path}{}.", self.name), false),
            DmKind::Parameter => {
                let full = format!("{path}{}", self.name);
                let secret = is_secret_name(&full);
                (full, secret)
            }
            _ => (format!("{path}{}", self.name), false),
        };
        DmEntry {
            path,
            name: self.name.to_owned(),
            kind: self.kind,
            value: None,
            value_type: if self.kind == DmKind::Parameter { value_type_name(self.value_type) } else { None },
            writable: self.writable,
            secret,
        }
    }
}

/// The entries of one level: child objects and tables (by name), then parameters, commands
/// and events (in the agent's order), each name once. `path` is the concrete path asked for;
/// `objs` what GetSupportedDM said for its supported-model path (first level). True first when
/// `path` names a table (its rows are what to show). Linear in the size of the answer.
pub(crate) fn level_entries<'a>(
    path: &str,
    objs: &[&'a SupportedObjectResult],
    may_write: bool,
) -> (bool, Vec<Item<'a>>) {
    let here = schema_path(path);
    let table_here = format!("{here}{{i}}.");
    if !here.ends_with("{i}.") && objs.iter().any(|o| *o.supported_obj_path == *table_here && o.is_multi_instance) {
        return (true, Vec::new());
    }
    let mut children: BTreeMap<&'a str, DmKind> = BTreeMap::new();
    let mut leaves: Vec<Item<'a>> = Vec::new();
    let mut leaf_names: HashSet<&'a str> = HashSet::new();
    for obj in objs {
        let sp: &'a str = &obj.supported_obj_path;
        if sp == here {
            for p in &obj.supported_params {
                let name: &'a str = &p.param_name;
                if !valid_name(name) || !leaf_names.insert(name) {
                    continue;
                }
                let writable = may_write
                    && matches!(
                        ParamAccess::from_number(p.access),
                        Some(ParamAccess::ReadWrite | ParamAccess::WriteOnly)
                    );
                leaves.push(Item { name, kind: DmKind::Parameter, writable, value_type: p.value_type });
            }
            for c in &obj.supported_commands {
                let name: &'a str = &c.command_name;
                if !name.strip_suffix("()").is_some_and(valid_name) || !leaf_names.insert(name) {
                    continue;
                }
                leaves.push(Item { name, kind: DmKind::Command, writable: false, value_type: 0 });
            }
            for e in &obj.supported_events {
                let name: &'a str = &e.event_name;
                if !name.strip_suffix('!').is_some_and(valid_name) || !leaf_names.insert(name) {
                    continue;
                }
                leaves.push(Item { name, kind: DmKind::Event, writable: false, value_type: 0 });
            }
            continue;
        }
        let Some(rest) = sp.strip_prefix(here.as_str()) else { continue };
        // A direct child: `Name.` (object) or `Name.{i}.` (table).
        let (name, kind) = match rest.strip_suffix(".{i}.") {
            Some(n) if valid_name(n) => (n, DmKind::Table),
            _ => match rest.strip_suffix('.') {
                Some(n) if valid_name(n) => (n, DmKind::Object),
                _ => continue,
            },
        };
        children.entry(name).or_insert(kind);
    }
    let mut items: Vec<Item<'a>> =
        children.into_iter().map(|(name, kind)| Item { name, kind, writable: false, value_type: 0 }).collect();
    items.extend(leaves);
    (false, items)
}

/// The page of `total` entries that starts at `offset`: (start, end, next page's start).
fn page(offset: u32, total: usize) -> (usize, usize, Option<u32>) {
    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(total);
    let end = start.saturating_add(EXPLORER_PAGE).min(total);
    (start, end, (end < total).then(|| u32::try_from(end).unwrap_or(u32::MAX)))
}

/// `value` cut to [`MAX_VALUE_LEN`] bytes (on a character boundary); true when cut.
fn capped(value: &str) -> (String, bool) {
    (usp_core::text::capped(value, MAX_VALUE_LEN), value.len() > MAX_VALUE_LEN)
}

impl Home {
    /// `explore`: one level of the agent's data model under `path` (`Device.` for the root),
    /// one page of at most [`EXPLORER_PAGE`] entries from `offset`. Secret values (see
    /// [`is_secret_name`]) are never read into the answer.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for a path that is no object path, [`AppError::NotFound`]
    /// when the agent has (or shows us) nothing there, [`AppError::Offline`], refusals.
    pub async fn explore(&self, args: ExploreArgs) -> AppResult<ExplorerView> {
        let who = args.agent.clone();
        self.within(crate::home::COMMAND_DEADLINE, Some(&who), self.explore_inner(args)).await
    }

    async fn explore_inner(&self, args: ExploreArgs) -> AppResult<ExplorerView> {
        let path = args.path.trim().to_owned();
        if !valid_object_path(&path) {
            return Err(AppError::InvalidInput(
                "Give an object path that starts with Device. and ends with a dot, like Device.WiFi.".into(),
            ));
        }
        let conn = self.conn(&args.agent).await?;
        let may_write = self.with_agent(&args.agent, |e| matches!(e.auth, AgentAuth::Paired { .. })).unwrap_or(false);
        let action = "show this part of its data model";
        let opts = SupportedDmOptions {
            first_level_only: true,
            commands: true,
            events: true,
            params: true,
            unique_key_sets: false,
        };
        let resp = conn
            .client
            .get_supported_dm(&[schema_path(&path)], opts)
            .await
            .map_err(|e| AppError::from_client(&conn.name, action, &e))?;
        let mut objs: Vec<&SupportedObjectResult> = Vec::new();
        for (_, result) in resp.per_path() {
            match result {
                Ok(list) => objs.extend(list.iter()),
                Err(e) if e.code == usp_core::code::INVALID_PATH || e.code == usp_core::code::OBJECT_DOES_NOT_EXIST => {
                    return Err(AppError::NotFound(format!("{} shows nothing at {path}.", conn.name)))
                }
                Err(e) => return Err(AppError::from_client(&conn.name, action, &ClientError::Usp(e))),
            }
        }
        let (table, items) = level_entries(&path, &objs, may_write);
        let (entries, total, next_offset) = if table {
            self.instances(&conn, &path, args.offset).await?
        } else {
            let (start, end, next) = page(args.offset, items.len());
            let slice = items.get(start..end).unwrap_or_default();
            let mut entries: Vec<DmEntry> = slice.iter().map(|i| i.entry(&path)).collect();
            if entries.iter().any(|e| e.kind == DmKind::Parameter && !e.secret) {
                self.fill_values(&conn, &path, &mut entries).await;
            }
            (entries, items.len(), next)
        };
        let offset = if entries.is_empty() { 0 } else { args.offset };
        Ok(ExplorerView {
            agent: conn.eid.clone(),
            path,
            entries,
            offset,
            total: u32::try_from(total).unwrap_or(u32::MAX),
            next_offset,
        })
    }

    /// One page of the rows of `table`, in numeric order: (rows, number of rows, next page).
    async fn instances(
        &self,
        conn: &AgentConn,
        table: &str,
        offset: u32,
    ) -> AppResult<(Vec<DmEntry>, usize, Option<u32>)> {
        let req = request::get_instances([table], true).map_err(|e| AppError::Internal(e.to_string()))?;
        let resp: GetInstancesResp = conn
            .client
            .call(req)
            .await
            .map_err(|e| AppError::from_client(&conn.name, "list the rows of this table", &e))?;
        let mut rows: Vec<(u64, &str, &CurrInstance)> = Vec::new();
        for (_, result) in resp.per_path() {
            let list =
                result.map_err(|e| AppError::from_client(&conn.name, "list this table", &ClientError::Usp(e)))?;
            for inst in list {
                let Some(rest) = inst.instantiated_obj_path.strip_prefix(table) else { continue };
                let num = rest.strip_suffix('.').unwrap_or(rest);
                if !valid_name(num) {
                    continue;
                }
                rows.push((num.parse::<u64>().unwrap_or(u64::MAX), num, inst));
            }
        }
        rows.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        rows.dedup_by(|a, b| a.1 == b.1);
        let (start, end, next) = page(offset, rows.len());
        let entries = rows
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .map(|(_, num, inst)| DmEntry {
                path: format!("{table}{num}."),
                name: (*num).to_owned(),
                kind: DmKind::Instance,
                value: inst.unique_keys.get("Alias").filter(|a| !a.is_empty()).map(|a| capped(a).0),
                value_type: None,
                writable: false,
                secret: false,
            })
            .collect();
        Ok((entries, rows.len(), next))
    }

    /// Current values of the parameters among `entries`, all children of `path` (unreadable
    /// ones stay empty; secret ones are never copied). One pass over the answer.
    async fn fill_values(&self, conn: &AgentConn, path: &str, entries: &mut [DmEntry]) {
        let resp = match conn.client.get(&[path], 1).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(path, error = %usp_core::text::for_log(&e.to_string()), "values not readable");
                return;
            }
        };
        let wanted: HashMap<&str, usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kind == DmKind::Parameter && !e.secret)
            .map(|(i, e)| (e.name.as_str(), i))
            .collect();
        let mut found: Vec<(usize, &str)> = Vec::new();
        for res in resp.req_path_results.iter().filter(|r| r.err_code == 0).flat_map(|r| r.resolved_path_results.iter())
        {
            if *res.resolved_path != *path {
                continue;
            }
            for (key, value) in res.result_params.iter() {
                if let Some(&i) = wanted.get(key) {
                    found.push((i, value));
                }
            }
        }
        for (i, value) in found {
            if let Some(e) = entries.get_mut(i) {
                let (value, cut) = capped(value);
                e.value = Some(value);
                if cut {
                    e.writable = false;
                }
            }
        }
    }

    /// `param_set`: sets one parameter.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for a path that is no parameter path,
    /// [`AppError::Permission`] when our role may not write it, [`AppError::Refused`] with the
    /// agent's reason (e.g. an invalid value), [`AppError::Offline`].
    pub async fn param_set(&self, args: ParamSet) -> AppResult<()> {
        let who = args.agent.clone();
        self.within(crate::home::COMMAND_DEADLINE, Some(&who), self.param_set_inner(args)).await
    }

    async fn param_set_inner(&self, args: ParamSet) -> AppResult<()> {
        let path = args.path.trim();
        if !path.starts_with("Device.") || path.ends_with('.') || path.ends_with(')') || path.ends_with('!') {
            return Err(AppError::InvalidInput("Only a parameter (not an object or command) can be set.".into()));
        }
        let conn = self.conn(&args.agent).await?;
        crate::agent_io::check_secret_link(&conn, [path])?;
        let action = "change this setting";
        match conn.client.set(&[(path, args.value.as_str())]).await {
            Ok(_) => {
                self.changed(&crate::home::topics_of(path));
                Ok(())
            }
            Err(ClientError::Usp(e)) => {
                // A refused required parameter comes as 7021 with the parameter's own error.
                let (code, message) = match e.param_errs.first() {
                    Some((_, code, msg)) if e.code == usp_core::code::REQUIRED_PARAMETER_FAILED => (*code, msg.clone()),
                    _ => (e.code, e.message.clone()),
                };
                Err(match code {
                    usp_core::code::PERMISSION_DENIED => {
                        AppError::Permission { name: conn.name.clone(), action: action.to_owned() }
                    }
                    _ => AppError::Refused {
                        name: conn.name.clone(),
                        message: if message.trim().is_empty() {
                            usp_core::error::error_code_text(code).to_owned()
                        } else {
                            message.trim().to_owned()
                        },
                        usp_code: code,
                    },
                })
            }
            Err(e) => Err(AppError::from_client(&conn.name, action, &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use usp_core::msg::SupportedParamResult;

    fn obj(path: &str, multi: bool, params: &[(&str, ParamAccess)]) -> SupportedObjectResult {
        SupportedObjectResult {
            supported_obj_path: path.into(),
            is_multi_instance: multi,
            supported_params: params
                .iter()
                .map(|(n, a)| SupportedParamResult {
                    param_name: (*n).into(),
                    access: a.number(),
                    value_type: ValueType::String.number(),
                    value_change: 0,
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn schema_paths_replace_instance_numbers() {
        assert_eq!(schema_path("Device.WiFi.SSID.3."), "Device.WiFi.SSID.{i}.");
        assert_eq!(schema_path("Device."), "Device.");
        assert!(valid_object_path("Device.WiFi.SSID.3."));
        assert!(!valid_object_path("Device.WiFi.SSID.3.SSID"));
        assert!(!valid_object_path("Device.[x]."));
    }

    #[test]
    fn a_level_lists_children_then_fields() {
        let objs = [
            obj("Device.WiFi.", false, &[("SSIDNumberOfEntries", ParamAccess::ReadOnly)]),
            obj("Device.WiFi.SSID.{i}.", true, &[]),
            obj("Device.WiFi.DataElements.", false, &[]),
        ];
        let refs: Vec<&SupportedObjectResult> = objs.iter().collect();
        let (table, items) = level_entries("Device.WiFi.", &refs, true);
        assert!(!table);
        let entries: Vec<DmEntry> = items.iter().map(|i| i.entry("Device.WiFi.")).collect();
        let names: Vec<_> = entries.iter().map(|e| (e.name.as_str(), e.kind)).collect();
        assert_eq!(
            names,
            vec![("DataElements", DmKind::Object), ("SSID", DmKind::Table), ("SSIDNumberOfEntries", DmKind::Parameter)]
        );
        assert_eq!(entries[1].path, "Device.WiFi.SSID.");
        let row = [obj("Device.WiFi.SSID.{i}.", true, &[("SSID", ParamAccess::ReadWrite)])];
        let row: Vec<&SupportedObjectResult> = row.iter().collect();
        let (_, items) = level_entries("Device.WiFi.SSID.3.", &row, true);
        let entry = items[0].entry("Device.WiFi.SSID.3.");
        assert_eq!(entry.path, "Device.WiFi.SSID.3.SSID");
        assert!(entry.writable);
        let (_, items) = level_entries("Device.WiFi.SSID.3.", &row, false);
        assert!(!items[0].writable, "the Untrusted role edits nothing");
        let (table, _) = level_entries("Device.WiFi.SSID.", &row, true);
        assert!(table);
    }

    #[test]
    fn repeated_odd_and_secret_names_are_handled() {
        let objs = [
            obj(
                "Device.WiFi.AccessPoint.{i}.Security.",
                false,
                &[
                    ("KeyPassphrase", ParamAccess::ReadWrite),
                    ("ModeEnabled", ParamAccess::ReadWrite),
                    ("ModeEnabled", ParamAccess::ReadOnly),
                    ("bad name\nforged", ParamAccess::ReadOnly),
                    ("RadiusSecret", ParamAccess::ReadWrite),
                ],
            ),
            obj("Device.WiFi.AccessPoint.{i}.Security.X.", false, &[]),
            obj("Device.WiFi.AccessPoint.{i}.Security.X.", false, &[]),
        ];
        let refs: Vec<&SupportedObjectResult> = objs.iter().collect();
        let at = "Device.WiFi.AccessPoint.1.Security.";
        let (_, items) = level_entries(at, &refs, true);
        let entries: Vec<DmEntry> = items.iter().map(|i| i.entry(at)).collect();
        let names: Vec<(&str, bool)> = entries.iter().map(|e| (e.name.as_str(), e.secret)).collect();
        assert_eq!(names, [("X", false), ("KeyPassphrase", true), ("ModeEnabled", false), ("RadiusSecret", true)]);
    }

    #[test]
    fn pages_and_long_values() {
        assert_eq!(page(0, 10), (0, 10, None));
        assert_eq!(page(0, 1200), (0, 500, Some(500)));
        assert_eq!(page(1000, 1200), (1000, 1200, None));
        assert_eq!(page(u32::MAX, 3), (3, 3, None));
        let (v, cut) = capped(&"é".repeat(5000));
        assert!(cut && v.len() <= MAX_VALUE_LEN + 3 && v.ends_with('…'));
        assert_eq!(capped("short"), ("short".to_owned(), false));
    }
}
