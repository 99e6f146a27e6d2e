//! SeaORM entities: one module per table, mirroring migrations/.

pub mod group;
pub mod membership;
pub mod organization;
pub mod runner;
pub mod runner_policy;
pub mod secret_key_check;
pub mod token;
pub mod user;
