//! Groups as GroupService shows them: a description and when they last
//! changed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string, timestamp_with_time_zone_null};

#[derive(DeriveIden)]
enum Groups {
    Table,
    Description,
    UpdatedAt,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // one column per ALTER: SQLite adds one at a time
        manager
            .alter_table(
                Table::alter()
                    .table(Groups::Table)
                    .add_column(string(Groups::Description).default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Groups::Table)
                    .add_column(timestamp_with_time_zone_null(Groups::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Groups::Description, Groups::UpdatedAt] {
            manager
                .alter_table(Table::alter().table(Groups::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
