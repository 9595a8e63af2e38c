//! usp-client
