//! Memberships get an id of their own (GroupService's DeleteMembership names
//! one). Existing rows are given one here; new ones get theirs when made.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::uuid_null;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

#[derive(DeriveIden)]
enum Memberships {
    Table,
    Id,
    GroupId,
    UserId,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

const ID_INDEX: &str = "memberships_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Memberships::Table)
                    .add_column(uuid_null(Memberships::Id))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let select = Query::select()
            .columns([Memberships::GroupId, Memberships::UserId])
            .from(Memberships::Table)
            .to_owned();
        let rows = db.query_all(backend.build(&select)).await?;
        for row in rows {
            let group_id: uuid::Uuid = row.try_get("", "group_id")?;
            let user_id: uuid::Uuid = row.try_get("", "user_id")?;
            let update = Query::update()
                .table(Memberships::Table)
                .value(Memberships::Id, uuid::Uuid::now_v7())
                .and_where(Expr::col(Memberships::GroupId).eq(group_id))
                .and_where(Expr::col(Memberships::UserId).eq(user_id))
                .to_owned();
            let statement: Statement = backend.build(&update);
            db.execute(statement).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(ID_INDEX)
                    .table(Memberships::Table)
                    .col(Memberships::Id)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(ID_INDEX).table(Memberships::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Memberships::Table)
                    .drop_column(Memberships::Id)
                    .to_owned(),
            )
            .await
    }
}
