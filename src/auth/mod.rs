//! Who is calling and what they may do: authentication, rate limits, the rules that grant capabilities, signing keys.
//! May import: fleet, store, base, protocol.
//!
//! Authentication turns a bearer token into a principal before dispatch; `access` holds the authorization
//! rules, the only code that grants capabilities; the JWT keys are published at /.well-known.

pub mod access;
pub mod cache;
pub mod layer;
pub mod limits;
pub mod signing;
pub mod tokens;
pub mod usage;
pub mod well_known;

pub use crate::base::principal::Principal;
