//! Authentication (bearer token → principal, before dispatch) and
//! authorization (who may do what to which runner).

pub mod access;
pub mod cache;
pub mod layer;
pub mod tokens;
pub mod usage;

pub use crate::principal::Principal;
