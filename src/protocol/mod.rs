//! Protocol translation in front of the tonic services: Connect ⇄ gRPC, the
//! `/api` base-path form, and CORS for browsers.

pub mod codes;
pub mod connect;
pub mod cors;
