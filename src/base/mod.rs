//! What every layer stands on: errors, principals, capabilities, page tokens, secrets, events, beats, metrics.
//! May import: protocol.

pub mod beat;
pub mod capability;
pub mod duration;
pub mod error;
pub mod events;
pub mod metrics;
pub mod pagination;
pub mod principal;
pub mod secrets;
