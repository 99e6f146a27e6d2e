//! The fleet's own lifecycle: runners' leases (kept in memory, written in
//! batches), the liveness sweep that ends them, the audit log's retention.
//! May import: store, base, protocol.

pub mod audit_retention;
pub mod liveness;
pub mod releases;
