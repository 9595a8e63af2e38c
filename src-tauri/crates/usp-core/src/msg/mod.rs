//! The USP 1.4 Message as plain Rust types.
//!
//! One Rust type per protobuf message of `usp-msg-1-4.proto`, with the same field
//! names, so the mapping to the wire is obvious. Differences from the generated prost
//! types, all on purpose:
//! - strings are [`Text`]: shared slices of the received buffer, so decoding a
//!   10,000-parameter GetResp allocates no string at all;
//! - maps are [`Params`]: the entries in wire order (agents send them in data-model
//!   order, which is also the order a person wants to read them in);
//! - every `oneof` is a Rust enum, and a message whose `oneof` carries no member is a
//!   decode error rather than a silent default (R-ENC.3/R-ENC.5).
//!
//! The codec for these types is in [`crate::wire`].

use bytestring::ByteString;

/// An immutable UTF-8 string that can share the buffer it was decoded from.
pub type Text = ByteString;

/// A protobuf `map<string, string>`, in wire order.
///
/// Lookups are linear; USP maps are small per object (a few dozen entries), and keeping
/// the wire order costs nothing. Use [`Params::to_btree`] for many lookups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(Text, Text)>);

impl Params {
    /// An empty map.
    pub fn new() -> Self {
        Self(Vec::new())
    }
    /// The value of `key`, if present (the last one wins, as in protobuf).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| &**v)
    }
    /// Adds an entry, replacing an existing entry with the same key.
    pub fn insert(&mut self, key: impl Into<Text>, value: impl Into<Text>) {
        let key = key.into();
        let value = value.into();
        if let Some(slot) = self.0.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.0.push((key, value));
        }
    }
    /// Iterates over `(key, value)` in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The entries as a sorted map (duplicates: the last one wins).
    pub fn to_btree(&self) -> std::collections::BTreeMap<String, String> {
        self.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
    }
}

impl<K: Into<Text>, V: Into<Text>> FromIterator<(K, V)> for Params {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut p = Params::new();
        for (k, v) in iter {
            p.insert(k, v);
        }
        p
    }
}

/// Declares an enum that maps to a protobuf enum's numbers.
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $num:expr),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        #[allow(missing_docs)]
        pub enum $name {
            #[default]
            $($(#[$vm])* $var = $num),+
        }
        impl $name {
            /// The enum for a wire number, if this version of USP defines it.
            pub fn from_number(n: i32) -> Option<Self> {
                match n {
                    $($num => Some(Self::$var),)+
                    _ => None,
                }
            }
            /// The wire number.
            pub fn number(self) -> i32 {
                self as i32
            }
        }
    };
}

wire_enum!(
    /// `Header.MsgType`. Informative only: the body decides what a message is (R-MSG.10).
    MsgType {
        Error = 0, Get = 1, GetResp = 2, Notify = 3, Set = 4, SetResp = 5, Operate = 6,
        OperateResp = 7, Add = 8, AddResp = 9, Delete = 10, DeleteResp = 11,
        GetSupportedDm = 12, GetSupportedDmResp = 13, GetInstances = 14,
        GetInstancesResp = 15, NotifyResp = 16, GetSupportedProto = 17,
        GetSupportedProtoResp = 18, Register = 19, RegisterResp = 20, Deregister = 21,
        DeregisterResp = 22,
    }
);
wire_enum!(
    /// `GetSupportedDMResp.ParamAccessType`.
    ParamAccess { ReadOnly = 0, ReadWrite = 1, WriteOnly = 2 }
);
wire_enum!(
    /// `GetSupportedDMResp.ObjAccessType`.
    ObjAccess { ReadOnly = 0, AddDelete = 1, AddOnly = 2, DeleteOnly = 3 }
);
wire_enum!(
    /// `GetSupportedDMResp.ParamValueType`.
    ValueType {
        Unknown = 0, Base64 = 1, Boolean = 2, DateTime = 3, Decimal = 4, HexBinary = 5,
        Int = 6, Long = 7, String = 8, UnsignedInt = 9, UnsignedLong = 10,
    }
);
wire_enum!(
    /// `GetSupportedDMResp.ValueChangeType`.
    ValueChange { Unknown = 0, Allowed = 1, WillIgnore = 2 }
);
wire_enum!(
    /// `GetSupportedDMResp.CmdType`.
    CmdType { Unknown = 0, Sync = 1, Async = 2 }
);

/// A USP Message: header and body.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Msg {
    /// `Header.msg_id`: correlates a reply with its request.
    pub msg_id: Text,
    /// `Header.msg_type` as sent; may disagree with the body, in which case the body wins.
    /// A number this version of USP does not know is kept as `Err(n)`.
    #[serde(serialize_with = "ser_msg_type")]
    pub msg_type: Result<MsgType, i32>,
    /// `Msg.body`.
    pub body: Body,
}

fn ser_msg_type<S: serde::Serializer>(t: &Result<MsgType, i32>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Ok(t) => serde::Serialize::serialize(t, s),
        Err(n) => s.serialize_i32(*n),
    }
}

impl serde::Serialize for Params {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(&**k, &**v)?;
        }
        m.end()
    }
}

impl Msg {
    /// A message whose header type matches its body.
    pub fn new(msg_id: impl Into<Text>, body: Body) -> Self {
        let msg_type = Ok(body.msg_type());
        Self { msg_id: msg_id.into(), msg_type, body }
    }
}

/// `Body.msg_body`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// A request (controller to agent, or Notify/Register from an agent).
    Request(Request),
    /// A successful response.
    Response(Response),
    /// A whole-message error.
    Error(Error),
}

impl Body {
    /// The header type that belongs to this body.
    pub fn msg_type(&self) -> MsgType {
        match self {
            Body::Request(r) => r.msg_type(),
            Body::Response(r) => r.msg_type(),
            Body::Error(_) => MsgType::Error,
        }
    }
}

/// `Request.req_type`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    Get(Get),
    GetSupportedDm(GetSupportedDm),
    GetInstances(GetInstances),
    Set(Set),
    Add(Add),
    Delete(Delete),
    Operate(Operate),
    Notify(Notify),
    GetSupportedProtocol(GetSupportedProtocol),
    Register(Register),
    Deregister(Deregister),
}

impl Request {
    /// The matching header type.
    pub fn msg_type(&self) -> MsgType {
        match self {
            Request::Get(_) => MsgType::Get,
            Request::GetSupportedDm(_) => MsgType::GetSupportedDm,
            Request::GetInstances(_) => MsgType::GetInstances,
            Request::Set(_) => MsgType::Set,
            Request::Add(_) => MsgType::Add,
            Request::Delete(_) => MsgType::Delete,
            Request::Operate(_) => MsgType::Operate,
            Request::Notify(_) => MsgType::Notify,
            Request::GetSupportedProtocol(_) => MsgType::GetSupportedProto,
            Request::Register(_) => MsgType::Register,
            Request::Deregister(_) => MsgType::Deregister,
        }
    }
    /// The response type a well-behaved agent answers this request with.
    pub fn expected_response(&self) -> MsgType {
        match self {
            Request::Get(_) => MsgType::GetResp,
            Request::GetSupportedDm(_) => MsgType::GetSupportedDmResp,
            Request::GetInstances(_) => MsgType::GetInstancesResp,
            Request::Set(_) => MsgType::SetResp,
            Request::Add(_) => MsgType::AddResp,
            Request::Delete(_) => MsgType::DeleteResp,
            Request::Operate(_) => MsgType::OperateResp,
            Request::Notify(_) => MsgType::NotifyResp,
            Request::GetSupportedProtocol(_) => MsgType::GetSupportedProtoResp,
            Request::Register(_) => MsgType::RegisterResp,
            Request::Deregister(_) => MsgType::DeregisterResp,
        }
    }
}

/// `Response.resp_type`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    GetResp(GetResp),
    GetSupportedDmResp(GetSupportedDmResp),
    GetInstancesResp(GetInstancesResp),
    SetResp(SetResp),
    AddResp(AddResp),
    DeleteResp(DeleteResp),
    OperateResp(OperateResp),
    NotifyResp(NotifyResp),
    GetSupportedProtocolResp(GetSupportedProtocolResp),
    RegisterResp(RegisterResp),
    DeregisterResp(DeregisterResp),
}

impl Response {
    /// The matching header type.
    pub fn msg_type(&self) -> MsgType {
        match self {
            Response::GetResp(_) => MsgType::GetResp,
            Response::GetSupportedDmResp(_) => MsgType::GetSupportedDmResp,
            Response::GetInstancesResp(_) => MsgType::GetInstancesResp,
            Response::SetResp(_) => MsgType::SetResp,
            Response::AddResp(_) => MsgType::AddResp,
            Response::DeleteResp(_) => MsgType::DeleteResp,
            Response::OperateResp(_) => MsgType::OperateResp,
            Response::NotifyResp(_) => MsgType::NotifyResp,
            Response::GetSupportedProtocolResp(_) => MsgType::GetSupportedProtoResp,
            Response::RegisterResp(_) => MsgType::RegisterResp,
            Response::DeregisterResp(_) => MsgType::DeregisterResp,
        }
    }
}

/// `Error`: a whole-message error.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Error {
    /// `err_code` (fixed32).
    pub err_code: u32,
    /// `err_msg`.
    pub err_msg: Text,
    /// `param_errs`.
    pub param_errs: Vec<ParamError>,
}

/// `Error.ParamError`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ParamError {
    /// `param_path`.
    pub param_path: Text,
    /// `err_code` (fixed32).
    pub err_code: u32,
    /// `err_msg`.
    pub err_msg: Text,
}

mod edit;
mod get;
mod notify;

pub use edit::*;
pub use get::*;
pub use notify::*;
