//! The logic of each feature, free of I/O: from the parameters an agent reported to the DTOs the
//! UI shows, and from the user's intent to the parameters to set. Unit-tested on plain data; the
//! `home` module does the requests.
//!
//! Every decoder here reads agent data through [`params::Params`], which tolerates anything an
//! agent may send: missing parameters, values of the wrong type, absurdly long tables. A decoder
//! skips what it can't understand (or shows it as unknown) and never panics.

pub mod devices;
pub mod guest;
pub mod mesh;
pub mod params;
pub mod parental;
pub mod qr;
pub mod smart;
pub mod wifi;
