//! The fleet list filtered by state (paddock.v1.FleetService.ListFleetRunners,
//! and the console's state tiles), in creation order: with (organization,
//! phase, id) a page of one phase is a range read in order, where the
//! organization's id order would read past every runner of other phases —
//! at 100,000 runners, the whole organization for a rare state.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum Runners {
    Table,
    OrganizationId,
    Phase,
    Id,
}

const INDEX: &str = "idx_runners_org_phase_id";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Runners::Table)
                    .col(Runners::OrganizationId)
                    .col(Runners::Phase)
                    .col(Runners::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Runners::Table).to_owned())
            .await
    }
}
