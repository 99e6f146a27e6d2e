//! Runner policies get an id of their own: a policy is also a role assignment
//! (GroupService), and DeleteRoleAssignment names one by id. Existing rows
//! are given one here; new ones get theirs when made.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::uuid_null;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

#[derive(DeriveIden)]
enum RunnerPolicies {
    Table,
    Id,
    RunnerId,
    GroupId,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

const ID_INDEX: &str = "runner_policies_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RunnerPolicies::Table)
                    .add_column(uuid_null(RunnerPolicies::Id))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let select = Query::select()
            .columns([RunnerPolicies::RunnerId, RunnerPolicies::GroupId])
            .from(RunnerPolicies::Table)
            .to_owned();
        let rows = db.query_all(backend.build(&select)).await?;
        for row in rows {
            let runner_id: uuid::Uuid = row.try_get("", "runner_id")?;
            let group_id: uuid::Uuid = row.try_get("", "group_id")?;
            let update = Query::update()
                .table(RunnerPolicies::Table)
                .value(RunnerPolicies::Id, uuid::Uuid::now_v7())
                .and_where(Expr::col(RunnerPolicies::RunnerId).eq(runner_id))
                .and_where(Expr::col(RunnerPolicies::GroupId).eq(group_id))
                .to_owned();
            let statement: Statement = backend.build(&update);
            db.execute(statement).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(ID_INDEX)
                    .table(RunnerPolicies::Table)
                    .col(RunnerPolicies::Id)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(ID_INDEX).table(RunnerPolicies::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(RunnerPolicies::Table)
                    .drop_column(RunnerPolicies::Id)
                    .to_owned(),
            )
            .await
    }
}
