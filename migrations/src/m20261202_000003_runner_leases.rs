//! Runner leases: when a runner last said it is alive (MarkRunnerActive) and
//! when it went INACTIVE, with indexes that let the liveness sweep find the
//! runners whose lease ran out, and those to forget, without reading the fleet.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::timestamp_with_time_zone_null;

#[derive(DeriveIden)]
enum Runners {
    Table,
    LeaseRenewedAt,
    InactiveSince,
    Phase,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

const LEASE_INDEX: &str = "runners_phase_lease_renewed_at";
const INACTIVE_INDEX: &str = "runners_phase_inactive_since";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Runners::Table)
                    .add_column(timestamp_with_time_zone_null(Runners::LeaseRenewedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Runners::Table)
                    .add_column(timestamp_with_time_zone_null(Runners::InactiveSince))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INACTIVE_INDEX)
                    .table(Runners::Table)
                    .col(Runners::Phase)
                    .col(Runners::InactiveSince)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(LEASE_INDEX)
                    .table(Runners::Table)
                    .col(Runners::Phase)
                    .col(Runners::LeaseRenewedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(LEASE_INDEX).table(Runners::Table).to_owned())
            .await?;
        manager
            .drop_index(Index::drop().name(INACTIVE_INDEX).table(Runners::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Runners::Table)
                    .drop_column(Runners::InactiveSince)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Runners::Table)
                    .drop_column(Runners::LeaseRenewedAt)
                    .to_owned(),
            )
            .await
    }
}
