//! sim-home
