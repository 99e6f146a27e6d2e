//! The wire, from the accepted connection to a gRPC call: generated types, connections, Connect ⇄ gRPC, CORS, limits.
//! May import: nothing of paddock.
//!
//! A leaf: it knows no server, store or auth.

pub mod answered;
pub mod codes;
pub mod connect;
pub mod connection;
pub mod cors;
pub mod header_limit;
pub mod proto;

/// The largest request message accepted (after decompression) on every
/// protocol: tonic's limit for gRPC and gRPC-Web, the translator's for Connect.
pub const MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;
