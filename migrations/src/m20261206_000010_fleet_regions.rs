//! The fleet's regions (paddock.v1.FleetService): the distinct regions of an
//! organization's runners, and a region filter, read from an index range of
//! the organization's own — a runner's region is the one it reports, or the
//! configured one until it reports one, so the index holds both.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum Runners {
    Table,
    OrganizationId,
    StatusRegion,
    Region,
}

const REGION_INDEX: &str = "idx_runners_org_regions";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(REGION_INDEX)
                    .table(Runners::Table)
                    .col(Runners::OrganizationId)
                    .col(Runners::StatusRegion)
                    .col(Runners::Region)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(REGION_INDEX).table(Runners::Table).to_owned())
            .await
    }
}
