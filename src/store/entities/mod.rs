//! SeaORM entities: one module per table, mirroring migrations/.

pub mod audit_log;
pub mod environment_class;
pub mod group;
pub mod host_authentication_token;
pub mod llm_integration;
pub mod membership;
pub mod org_role_assignment;
pub mod organization;
pub mod runner;
pub mod runner_configuration_schema;
pub mod runner_policy;
pub mod scm_integration;
pub mod secret_key_check;
pub mod signing_key;
pub mod token;
pub mod user;
