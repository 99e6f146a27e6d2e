//! The fleet's own lifecycle: leases (written in batches), the liveness sweep, audit retention, releases.
//! May import: store, base, protocol.

pub mod audit_retention;
pub mod liveness;
pub mod releases;
pub mod webhooks;
