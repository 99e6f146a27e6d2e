//! What every layer stands on: the one error type, who is calling
//! (principals) and what a check allowed (capabilities), keyset page tokens,
//! sealed secrets, change events, the beat of background work, and the
//! metric instruments calls are counted with.
//! May import: protocol (nothing else of paddock).

pub mod beat;
pub mod capability;
pub mod duration;
pub mod error;
pub mod events;
pub mod metrics;
pub mod pagination;
pub mod principal;
pub mod secrets;
