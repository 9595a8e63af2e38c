//! The data-model explorer: one level of an agent's tree at a time, from GetSupportedDM (what
//! exists and what our role may do with it) with the current values (Get), and the rows of
//! tables (GetInstances). A field is editable only where the model says it is writable and
//! the role allows it: agents that filter GetSupportedDM by role (as the simulated home does)
//! report read-only access for what we may not write, and the Untrusted role edits nothing.

use ipc_types::{AgentAuth, DmEntry, DmKind, ExploreArgs, ExplorerView, ParamSet};
use usp_client::ClientError;
use usp_core::msg::{GetInstancesResp, GetSupportedDmResp, ParamAccess, SupportedObjectResult, ValueType};
use usp_core::request::{self, SupportedDmOptions};

use super::{AgentConn, AppError, AppResult, Home};

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

/// `Device.WiFi.SSID.3.` → `Device.WiFi.SSID.{i}.` (the supported-model path).
pub(crate) fn schema_path(path: &str) -> String {
    path.split('.')
        .map(|seg| if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) { "{i}" } else { seg })
        .collect::<Vec<_>>()
        .join(".")
}

/// Whether `path` is an object path we can explore (`Device.` ... `.`).
fn valid_object_path(path: &str) -> bool {
    path.starts_with("Device.")
        && path.ends_with('.')
        && !path.contains("..")
        && path.split('.').all(|s| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
}

/// The entries of one level. `path` is the concrete path asked for; `objs` what GetSupportedDM
/// said for its supported-model path (first level).
pub(crate) fn level_entries(path: &str, objs: &[SupportedObjectResult], may_write: bool) -> (bool, Vec<DmEntry>) {
    let here = schema_path(path);
    let table_here = format!("{here}{{i}}.");
    // The path names a table: its rows are what to show.
    if objs.iter().any(|o| *o.supported_obj_path == *table_here && o.is_multi_instance) && !here.ends_with("{i}.") {
        return (true, Vec::new());
    }
    let mut children = Vec::new();
    let mut leaves = Vec::new();
    for obj in objs {
        let sp: &str = &obj.supported_obj_path;
        if sp == here {
            for p in &obj.supported_params {
                let writable = may_write
                    && matches!(
                        ParamAccess::from_number(p.access),
                        Some(ParamAccess::ReadWrite | ParamAccess::WriteOnly)
                    );
                leaves.push(DmEntry {
                    path: format!("{path}{}", p.param_name),
                    name: p.param_name.to_string(),
                    kind: DmKind::Parameter,
                    value: None,
                    value_type: value_type_name(p.value_type),
                    writable,
                });
            }
            for c in &obj.supported_commands {
                leaves.push(DmEntry {
                    path: format!("{path}{}", c.command_name),
                    name: c.command_name.to_string(),
                    kind: DmKind::Command,
                    value: None,
                    value_type: None,
                    writable: false,
                });
            }
            for e in &obj.supported_events {
                leaves.push(DmEntry {
                    path: format!("{path}{}", e.event_name),
                    name: e.event_name.to_string(),
                    kind: DmKind::Event,
                    value: None,
                    value_type: None,
                    writable: false,
                });
            }
            continue;
        }
        let Some(rest) = sp.strip_prefix(here.as_str()) else { continue };
        // A direct child: `Name.` (object) or `Name.{i}.` (table).
        let (name, kind) = match rest.strip_suffix(".{i}.") {
            Some(n) if !n.contains('.') => (n, DmKind::Table),
            _ => match rest.strip_suffix('.') {
                Some(n) if !n.contains('.') => (n, DmKind::Object),
                _ => continue,
            },
        };
        if children.iter().any(|c: &DmEntry| c.name == name) {
            continue;
        }
        children.push(DmEntry {
            path: format!("{path}{name}."),
            name: name.to_owned(),
            kind,
            value: None,
            value_type: None,
            writable: false,
        });
    }
    children.sort_by(|a, b| a.name.cmp(&b.name));
    children.extend(leaves);
    (false, children)
}

impl Home {
    /// `explore`: one level of the agent's data model under `path` (`Device.` for the root).
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for a path that is no object path, [`AppError::NotFound`]
    /// when the agent has (or shows us) nothing there, [`AppError::Offline`], refusals.
    pub async fn explore(&self, args: ExploreArgs) -> AppResult<ExplorerView> {
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
        let req =
            request::get_supported_dm([schema_path(&path)], opts).map_err(|e| AppError::Internal(e.to_string()))?;
        let resp: GetSupportedDmResp = conn
            .client
            .request(req)
            .await
            .and_then(|r| {
                r.try_into().map_err(|e: usp_core::request::WrongResponse| ClientError::Protocol(e.to_string()))
            })
            .map_err(|e| AppError::from_client(&conn.name, action, &e))?;
        let mut objs: Vec<SupportedObjectResult> = Vec::new();
        for (_, result) in resp.per_path() {
            match result {
                Ok(list) => objs.extend(list.iter().cloned()),
                Err(e) if e.code == 7026 || e.code == 7016 => {
                    return Err(AppError::NotFound(format!("{} shows nothing at {path}.", conn.name)))
                }
                Err(e) => return Err(AppError::from_client(&conn.name, action, &ClientError::Usp(e))),
            }
        }
        let (table, mut entries) = level_entries(&path, &objs, may_write);
        if table {
            entries = self.instances(&conn, &path).await?;
        } else if entries.iter().any(|e| e.kind == DmKind::Parameter) {
            self.fill_values(&conn, &path, &mut entries).await;
        }
        Ok(ExplorerView { agent: conn.eid.clone(), path, entries })
    }

    async fn instances(&self, conn: &AgentConn, table: &str) -> AppResult<Vec<DmEntry>> {
        let req = request::get_instances([table], true).map_err(|e| AppError::Internal(e.to_string()))?;
        let resp: GetInstancesResp = conn
            .client
            .request(req)
            .await
            .and_then(|r| {
                r.try_into().map_err(|e: usp_core::request::WrongResponse| ClientError::Protocol(e.to_string()))
            })
            .map_err(|e| AppError::from_client(&conn.name, "list the rows of this table", &e))?;
        let mut rows = Vec::new();
        for (_, result) in resp.per_path() {
            let list =
                result.map_err(|e| AppError::from_client(&conn.name, "list this table", &ClientError::Usp(e)))?;
            for inst in list {
                let p = inst.instantiated_obj_path.to_string();
                let p = if p.ends_with('.') { p } else { format!("{p}.") };
                let Some(num) = p.strip_prefix(table).map(|r| r.trim_end_matches('.').to_owned()) else { continue };
                if num.contains('.') {
                    continue;
                }
                let alias = inst.unique_keys.get("Alias").filter(|a| !a.is_empty()).map(str::to_owned);
                rows.push((
                    num.parse::<u64>().unwrap_or(u64::MAX),
                    DmEntry {
                        path: p,
                        name: num,
                        kind: DmKind::Instance,
                        value: alias,
                        value_type: None,
                        writable: false,
                    },
                ));
            }
        }
        rows.sort_by_key(|(n, _)| *n);
        Ok(rows.into_iter().map(|(_, e)| e).collect())
    }

    /// Current values of the parameters of `path` (unreadable ones stay empty).
    async fn fill_values(&self, conn: &AgentConn, path: &str, entries: &mut [DmEntry]) {
        let resp = match conn.client.get(&[path], 1).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(path, error = %e, "values not readable");
                return;
            }
        };
        for e in entries.iter_mut().filter(|e| e.kind == DmKind::Parameter) {
            e.value = resp.value(&e.path).map(str::to_owned);
        }
    }

    /// `param_set`: sets one parameter.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for a path that is no parameter path,
    /// [`AppError::Permission`] when our role may not write it, [`AppError::Refused`] with the
    /// agent's reason (e.g. an invalid value), [`AppError::Offline`].
    pub async fn param_set(&self, args: ParamSet) -> AppResult<()> {
        let path = args.path.trim();
        if !path.starts_with("Device.") || path.ends_with('.') || path.ends_with(')') || path.ends_with('!') {
            return Err(AppError::InvalidInput("Only a parameter (not an object or command) can be set.".into()));
        }
        let conn = self.conn(&args.agent).await?;
        super::wifi::check_secret_link(&conn, [path])?;
        let action = "change this setting";
        match conn.client.set(&[(path, args.value.as_str())]).await {
            Ok(_) => {
                self.changed(&super::live::topics_of(path));
                Ok(())
            }
            Err(ClientError::Usp(e)) => {
                // A refused required parameter comes as 7021 with the parameter's own error.
                let (code, message) = match e.param_errs.first() {
                    Some((_, code, msg)) if e.code == 7021 => (*code, msg.clone()),
                    _ => (e.code, e.message.clone()),
                };
                Err(match code {
                    7006 => AppError::Permission { name: conn.name.clone(), action: action.to_owned() },
                    _ => AppError::Refused {
                        name: conn.name.clone(),
                        message: if message.trim().is_empty() {
                            usp_core::engine::error_code_text(code).to_owned()
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
        let objs = vec![
            obj("Device.WiFi.", false, &[("SSIDNumberOfEntries", ParamAccess::ReadOnly)]),
            obj("Device.WiFi.SSID.{i}.", true, &[]),
            obj("Device.WiFi.DataElements.", false, &[]),
        ];
        let (table, entries) = level_entries("Device.WiFi.", &objs, true);
        assert!(!table);
        let names: Vec<_> = entries.iter().map(|e| (e.name.as_str(), e.kind)).collect();
        assert_eq!(
            names,
            vec![("DataElements", DmKind::Object), ("SSID", DmKind::Table), ("SSIDNumberOfEntries", DmKind::Parameter)]
        );
        assert_eq!(entries[1].path, "Device.WiFi.SSID.");
        let row = vec![obj("Device.WiFi.SSID.{i}.", true, &[("SSID", ParamAccess::ReadWrite)])];
        let (_, entries) = level_entries("Device.WiFi.SSID.3.", &row, true);
        assert_eq!(entries[0].path, "Device.WiFi.SSID.3.SSID");
        assert!(entries[0].writable);
        let (_, entries) = level_entries("Device.WiFi.SSID.3.", &row, false);
        assert!(!entries[0].writable, "the Untrusted role edits nothing");
        let (table, _) = level_entries("Device.WiFi.SSID.", &row, true);
        assert!(table);
    }
}
