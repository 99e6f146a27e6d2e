//! The audit log: one row per change (and per credential handed out), written
//! in the transaction of the change. Ids are UUIDv7, so id order is time
//! order and lists page by id; every filter of ListAuditLogs has an index
//! starting with the organization.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, string, timestamp_with_time_zone, uuid};

#[derive(DeriveIden, Clone, Copy)]
enum AuditLogs {
    Table,
    Id,
    OrganizationId,
    ActorId,
    ActorPrincipal,
    SubjectId,
    SubjectType,
    Action,
    Kind,
    CreatedAt,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: &[(&str, &[AuditLogs])] = &[
    (
        "audit_logs_organization_id",
        &[AuditLogs::OrganizationId, AuditLogs::Id],
    ),
    (
        "audit_logs_organization_actor",
        &[AuditLogs::OrganizationId, AuditLogs::ActorId, AuditLogs::Id],
    ),
    (
        "audit_logs_organization_subject",
        &[AuditLogs::OrganizationId, AuditLogs::SubjectId, AuditLogs::Id],
    ),
    (
        "audit_logs_organization_subject_type",
        &[AuditLogs::OrganizationId, AuditLogs::SubjectType, AuditLogs::Id],
    ),
    (
        "audit_logs_organization_actor_principal",
        &[AuditLogs::OrganizationId, AuditLogs::ActorPrincipal, AuditLogs::Id],
    ),
    // retention prunes by time across organizations
    ("audit_logs_created_at", &[AuditLogs::CreatedAt]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLogs::Table)
                    .col(uuid(AuditLogs::Id).primary_key())
                    .col(uuid(AuditLogs::OrganizationId))
                    .col(uuid(AuditLogs::ActorId))
                    .col(integer(AuditLogs::ActorPrincipal))
                    .col(uuid(AuditLogs::SubjectId))
                    .col(integer(AuditLogs::SubjectType))
                    .col(string(AuditLogs::Action))
                    .col(integer(AuditLogs::Kind))
                    .col(timestamp_with_time_zone(AuditLogs::CreatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in INDEXES {
            let mut index = Index::create();
            index.name(*name).table(AuditLogs::Table);
            for column in columns.iter() {
                index.col(*column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditLogs::Table).to_owned())
            .await
    }
}
