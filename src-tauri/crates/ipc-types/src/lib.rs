//! ipc-types
