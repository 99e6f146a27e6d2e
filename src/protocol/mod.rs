//! Protocol translation in front of the tonic services: Connect ⇄ gRPC, the
//! `/api` base-path form, and CORS for browsers.

pub mod answered;
pub mod codes;
pub mod connect;
pub mod cors;
pub mod header_limit;
pub mod well_known;

/// The largest request message accepted (after decompression) on every
/// protocol: tonic's limit for gRPC and gRPC-Web, the translator's for Connect.
pub const MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;
