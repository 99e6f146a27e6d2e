//! paddock: a self-hostable control plane for dev-environment runners that
//! speaks Gitpod/Ona's gitpod.v1 Runner APIs.
//!
//! The folders are the layers, top to bottom (each may import only those
//! below it; tests/integration/architecture.rs checks):
//! `server` (the running process) → `api` (the services) → `auth` (who may)
//! → `fleet` (leases, sweeps) → `store` (the database) → `base` (errors,
//! principals, capabilities, pages, secrets, events) → `protocol` (the wire).
//! `agent` is the runner's side, a client of the public API.

pub mod agent;
pub mod api;
pub mod auth;
pub mod base;
pub mod fleet;
pub mod protocol;
pub mod server;
pub mod store;

/// The organization that CLI-created users and the bootstrap admin join
/// unless told otherwise.
pub const DEFAULT_ORGANIZATION: &str = "default";
