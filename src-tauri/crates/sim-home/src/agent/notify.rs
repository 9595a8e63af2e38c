//! Subscriptions → Notify messages, queued in the outbox at the moment of the change.
//!
//! Every data-model change is recorded by [`Dm`](super::dm::Dm); after each request, tick
//! or internal change the agent matches the changes against the enabled
//! `Device.LocalAgent.Subscription.{i}` rows (ReferenceList paths, including search
//! paths) and the recipient's permissions (`n` plus read rights), and queues one Notify
//! per match. Notify `msg_id`s are `<Kind>-<n>` with one counter per agent.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use usp_core::eid::EndpointId;
use usp_core::path::Path;
use usp_proto::usp::{self, body::MsgBody, header::MsgType, notify, request::ReqType, Msg};

use super::dm::{Change, Loc};
use super::perm::{Class, PermCtx};
use super::resolve::{covers, Item, Leaf};
use super::value::{self, split_list};
use super::{header, Agent, Outgoing, UspErr, SUPPORTED_PROTOCOLS};

/// An enabled subscription, ready for matching.
struct Sub {
    row: String,
    id: String,
    kind: String,
    refs: Vec<Path>,
    to: EndpointId,
    send_resp: bool,
    perms: PermCtx,
}

impl Sub {
    fn covers(&self, agent: &Agent, item: Item<'_>) -> bool {
        self.refs.iter().any(|r| covers(&agent.schema, &agent.dm, r, item))
    }
}

const SUBSCRIPTIONS: &str = "Device.LocalAgent.Subscription.";

impl Agent {
    /// Enabled subscriptions whose recipient is an enabled controller.
    fn subscriptions(&self) -> Vec<Sub> {
        let (schema, dm) = (&self.schema, &self.dm);
        let mut perms_cache: HashMap<String, PermCtx> = HashMap::new();
        let mut out = Vec::new();
        for row in dm.rows(SUBSCRIPTIONS) {
            let get = |n: &str| dm.raw_by_name(schema, &row, n).unwrap_or("").to_owned();
            if get("Enable") != "true" {
                continue;
            }
            let recipient = format!("{}.", get("Recipient").trim_end_matches('.'));
            if dm.raw_by_name(schema, &recipient, "Enable") != Some("true") {
                continue;
            }
            let Some(to) = dm.raw_by_name(schema, &recipient, "EndpointID").and_then(|e| e.parse::<EndpointId>().ok())
            else {
                continue;
            };
            let perms = perms_cache
                .entry(recipient.clone())
                .or_insert_with(|| PermCtx::for_controller(schema, dm, &recipient))
                .clone();
            out.push(Sub {
                id: get("ID"),
                kind: get("NotifType"),
                refs: split_list(&get("ReferenceList")).iter().filter_map(|r| r.parse::<Path>().ok()).collect(),
                to,
                send_resp: get("NotifRetry") == "true",
                perms,
                row,
            });
        }
        out
    }

    /// Turns the recorded data-model changes into notifications.
    pub(super) fn flush_changes(&mut self) {
        self.sync_bulkdata();
        let changes = self.dm.take_changes();
        if changes.is_empty() {
            return;
        }
        let subs = self.subscriptions();
        if subs.is_empty() {
            return;
        }
        let mut queued = Vec::new();
        for change in &changes {
            for sub in &subs {
                if let Some(n) = self.match_change(sub, change) {
                    queued.push((sub.to.clone(), sub.id.clone(), sub.send_resp, n));
                }
            }
        }
        for (to, id, send_resp, n) in queued {
            self.queue_notify(to, &id, send_resp, n);
        }
    }

    fn match_change(&self, sub: &Sub, change: &Change) -> Option<notify::Notification> {
        let (schema, dm) = (&self.schema, &self.dm);
        match (sub.kind.as_str(), change) {
            ("ValueChange", Change::Value { obj, param }) => {
                let o = dm.obj(obj)?;
                let idx = schema.obj(o.def).param_index(param)?;
                let p = &schema.obj(o.def).params[idx];
                if p.volatile || !sub.covers(self, Item { obj, leaf: Leaf::Param(param) }) {
                    return None;
                }
                let bits = sub.perms.param(schema, dm, obj, param);
                if !bits.r || !bits.n {
                    return None;
                }
                let v = if p.secured && !sub.perms.secured {
                    String::new()
                } else {
                    dm.value(schema, obj, idx).unwrap_or_default()
                };
                Some(notify::Notification::ValueChange(notify::ValueChange {
                    param_path: format!("{obj}{param}"),
                    param_value: v,
                }))
            }
            ("ObjectCreation", Change::Created { path }) => {
                if *path == sub.row || !dm.exists(path) {
                    return None;
                }
                if !sub.covers(self, Item { obj: path, leaf: Leaf::None }) {
                    return None;
                }
                let b = sub.perms.obj(schema, dm, path, Class::Obj);
                if !b.r || !b.n {
                    return None;
                }
                let def = dm.obj(path)?.def;
                let loc = Loc::new(path.clone(), def);
                let mut unique_keys = BTreeMap::new();
                for k in schema.obj(def).key_params() {
                    if let Some(idx) = schema.obj(def).param_index(k) {
                        if let Some(v) = sub.perms.visible_value(schema, dm, &loc, idx) {
                            unique_keys.insert(k.to_owned(), v);
                        }
                    }
                }
                Some(notify::Notification::ObjCreation(notify::ObjectCreation { obj_path: path.clone(), unique_keys }))
            }
            ("ObjectDeletion", Change::Deleted { path }) => {
                if *path == sub.row || !sub.covers(self, Item { obj: path, leaf: Leaf::None }) {
                    return None;
                }
                let b = sub.perms.obj(schema, dm, path, Class::InstObj);
                if !b.r || !b.n {
                    return None;
                }
                Some(notify::Notification::ObjDeletion(notify::ObjectDeletion { obj_path: path.clone() }))
            }
            _ => None,
        }
    }

    /// An event (`Device.Boot!`, ...) to the subscribers of NotifType Event.
    pub(super) fn emit_event(&mut self, obj: &str, name: &str, params: BTreeMap<String, String>) {
        let n = notify::Notification::Event(notify::Event {
            obj_path: obj.to_owned(),
            event_name: format!("{name}!"),
            params,
        });
        self.notify_covering("Event", Item { obj, leaf: Leaf::Event(name) }, n, None);
    }

    /// An event to the Event subscribers of one controller only (by Endpoint ID), or of
    /// every controller when `to` is None.
    pub(super) fn emit_event_to(&mut self, obj: &str, name: &str, params: BTreeMap<String, String>, to: Option<&str>) {
        let n = notify::Notification::Event(notify::Event {
            obj_path: obj.to_owned(),
            event_name: format!("{name}!"),
            params,
        });
        self.notify_covering("Event", Item { obj, leaf: Leaf::Event(name) }, n, to);
    }

    /// The result of an asynchronous command, to the subscribers of NotifType
    /// OperationComplete whose ReferenceList covers the command.
    pub(super) fn emit_oper_complete(
        &mut self,
        obj: &str,
        command: &str,
        command_key: &str,
        result: &Result<BTreeMap<String, String>, UspErr>,
    ) {
        use notify::operation_complete::{CommandFailure, OperationResp, OutputArgs};
        let resp = match result {
            Ok(args) => OperationResp::ReqOutputArgs(OutputArgs { output_args: args.clone() }),
            Err(e) => OperationResp::CmdFailure(CommandFailure { err_code: e.code, err_msg: e.msg.clone() }),
        };
        let n = notify::Notification::OperComplete(notify::OperationComplete {
            obj_path: obj.to_owned(),
            command_name: format!("{command}()"),
            command_key: command_key.to_owned(),
            operation_resp: Some(resp),
        });
        self.notify_covering("OperationComplete", Item { obj, leaf: Leaf::Command(command) }, n, None);
    }

    /// Queues `n` for each subscription of NotifType `kind` whose ReferenceList covers
    /// `item` (a command or an event) and whose controller may read it and be notified of it
    /// (only the controller with Endpoint ID `only`, when given).
    fn notify_covering(&mut self, kind: &str, item: Item<'_>, n: notify::Notification, only: Option<&str>) {
        let subs = self.subscriptions();
        let mut queued = Vec::new();
        for sub in subs.iter().filter(|s| s.kind == kind && only.is_none_or(|eid| s.to.as_str() == eid)) {
            if !sub.covers(self, item) {
                continue;
            }
            let b = sub.perms.bits(&self.schema, &self.dm, item, Class::CmdEvent);
            if !b.r || !b.n {
                continue;
            }
            queued.push((sub.to.clone(), sub.id.clone(), sub.send_resp));
        }
        for (to, id, send_resp) in queued {
            self.queue_notify(to, &id, send_resp, n.clone());
        }
    }

    /// OnBoardRequest to one controller (subscription_id "", send_resp true).
    pub(super) fn send_onboard(&mut self, to: EndpointId) {
        let di = "Device.DeviceInfo.";
        let get = |n: &str| self.dm.value_by_name(&self.schema, di, n).unwrap_or_default();
        let n = notify::Notification::OnBoardReq(notify::OnBoardRequest {
            oui: get("ManufacturerOUI"),
            product_class: get("ProductClass"),
            serial_number: get("SerialNumber"),
            agent_supported_protocol_versions: SUPPORTED_PROTOCOLS.to_owned(),
        });
        self.queue_notify(to, "", true, n);
    }

    fn queue_notify(&mut self, to: EndpointId, sub_id: &str, send_resp: bool, n: notify::Notification) {
        self.notify_seq += 1;
        let kind = match &n {
            notify::Notification::Event(_) => "Event",
            notify::Notification::ValueChange(_) => "ValueChange",
            notify::Notification::ObjCreation(_) => "ObjectCreation",
            notify::Notification::ObjDeletion(_) => "ObjectDeletion",
            notify::Notification::OperComplete(_) => "OperationComplete",
            notify::Notification::OnBoardReq(_) => "OnBoardRequest",
        };
        let msg = Msg {
            header: header(&format!("{kind}-{}", self.notify_seq), MsgType::Notify),
            body: Some(usp::Body {
                msg_body: Some(MsgBody::Request(usp::Request {
                    req_type: Some(ReqType::Notify(usp::Notify {
                        subscription_id: sub_id.to_owned(),
                        send_resp,
                        notification: Some(n),
                    })),
                })),
            }),
        };
        if self.disconnected.contains(to.as_str()) {
            if send_resp || self.hold_all {
                let held = self.held.entry(to.as_str().to_owned()).or_default();
                // Keep the newest notifications if a controller stays away for long.
                if held.len() >= MAX_HELD {
                    held.remove(0);
                }
                held.push(msg);
            }
            return;
        }
        self.outbox.push(Outgoing { to, msg });
    }

    /// (expiry time, row) of every Subscription with a TimeToLive.
    pub(super) fn subscription_expiries(&self) -> Vec<(SystemTime, String)> {
        let (schema, dm) = (&self.schema, &self.dm);
        dm.rows(SUBSCRIPTIONS)
            .into_iter()
            .filter_map(|row| {
                let ttl: u64 = dm.raw_by_name(schema, &row, "TimeToLive")?.parse().ok()?;
                if ttl == 0 {
                    return None;
                }
                let created = value::parse_datetime(dm.raw_by_name(schema, &row, "CreationDate")?)?;
                Some((value::add_secs(created, ttl), row))
            })
            .collect()
    }
}

/// Most notifications held for one disconnected controller.
const MAX_HELD: usize = 1_000;
