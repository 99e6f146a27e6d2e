//! paddock's integration tests: one binary (one link on a 2-core machine),
//! one module per behaviour area.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

mod compat_descriptors;
mod authentication;
mod authorization;
mod lifecycle;
mod runners;
mod validation;
