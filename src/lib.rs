//! paddock: a self-hostable control plane for dev-environment runners that
//! speaks Gitpod/Ona's gitpod.v1 Runner APIs.

pub mod admin;
pub mod agent;
pub mod api;
pub mod audit_retention;
pub mod auth;
pub mod capability;
pub mod config;
pub mod configuration_schema;
pub mod connection;
/// The browser console (src/console/), served at `/`.
pub mod console;
pub mod error;
pub mod events;
/// Entry points for the fuzz targets in tests/fuzz (not an API).
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod limits;
pub mod liveness;
pub mod log_writer;
pub mod metrics;
pub mod pagination;
pub mod periodic;
pub mod principal;
pub mod proto;
pub mod protocol;
pub mod scm;
pub mod secrets;
pub mod server;
pub mod signing;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod validate;

/// The organization that CLI-created users and the bootstrap admin join
/// unless told otherwise.
pub const DEFAULT_ORGANIZATION: &str = "default";
