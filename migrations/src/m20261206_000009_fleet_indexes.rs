//! The fleet at a glance (paddock.v1.FleetService.GetFleetSummary) for one
//! organization of many: its runners counted by phase, the INACTIVE ones by
//! how long, and by release channel and reported version — each an index
//! range of the organization's own, read without touching the table.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum Runners {
    Table,
    OrganizationId,
    Phase,
    InactiveSince,
    ReleaseChannel,
    StatusVersion,
}

const PHASE_INDEX: &str = "idx_runners_org_phase";
const VERSION_INDEX: &str = "idx_runners_org_channel_version";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(PHASE_INDEX)
                    .table(Runners::Table)
                    .col(Runners::OrganizationId)
                    .col(Runners::Phase)
                    .col(Runners::InactiveSince)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(VERSION_INDEX)
                    .table(Runners::Table)
                    .col(Runners::OrganizationId)
                    .col(Runners::ReleaseChannel)
                    .col(Runners::StatusVersion)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(VERSION_INDEX).table(Runners::Table).to_owned())
            .await?;
        manager
            .drop_index(Index::drop().name(PHASE_INDEX).table(Runners::Table).to_owned())
            .await
    }
}
