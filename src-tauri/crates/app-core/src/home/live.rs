//! `impl Home` for the live use-cases (SKELETON: bodies to be written).
