//! Who is calling and what they may do: authentication (bearer token →
//! principal, before dispatch, with rate limits on failures), authorization
//! (`access`: the rules that grant capabilities), and the keys paddock signs
//! JWTs with (published at /.well-known).
//! May import: fleet, store, base, protocol.

pub mod access;
pub mod cache;
pub mod layer;
pub mod limits;
pub mod signing;
pub mod tokens;
pub mod usage;
pub mod well_known;

pub use crate::base::principal::Principal;
