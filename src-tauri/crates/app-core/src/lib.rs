//! app-core
