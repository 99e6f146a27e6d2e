//! paddock's schema migrations. One file per change, never edited once
//! released; migrations never import the application's entities, so an old
//! migration does not change when an entity does.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_create_core_tables;
mod m20261127_000002_create_runner_configuration_tables;
mod m20261202_000003_runner_leases;
mod m20261202_000004_audit_logs;
mod m20261202_000005_group_details;
mod m20261202_000006_membership_ids;
mod m20261202_000007_runner_policy_ids;
mod m20261202_000008_people_and_credentials;
mod m20261206_000009_fleet_indexes;
mod m20261206_000010_fleet_regions;
mod m20261206_000011_fleet_state_order;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_core_tables::Migration),
            Box::new(m20261127_000002_create_runner_configuration_tables::Migration),
            Box::new(m20261202_000003_runner_leases::Migration),
            Box::new(m20261202_000004_audit_logs::Migration),
            Box::new(m20261202_000005_group_details::Migration),
            Box::new(m20261202_000006_membership_ids::Migration),
            Box::new(m20261202_000007_runner_policy_ids::Migration),
            Box::new(m20261202_000008_people_and_credentials::Migration),
            Box::new(m20261206_000009_fleet_indexes::Migration),
            Box::new(m20261206_000010_fleet_regions::Migration),
            Box::new(m20261206_000011_fleet_state_order::Migration),
        ]
    }
}
