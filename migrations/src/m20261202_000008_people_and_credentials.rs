//! People and credentials through the API (issue 13):
//! - organization-level roles held by groups (ORG_RUNNERS_ADMIN, ORG_AUDIT_LOG_READER),
//!   removed with their group;
//! - what a token's owner and its admins see of it: a description, read-only,
//!   and when it was last used (kept apart from `used_at`, which marks an
//!   exchange token as spent);
//! - the keys paddock signs its JWTs (ID tokens, runner logs tokens) with,
//!   the private half sealed with the server's secret key.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    binary, boolean, integer, string, text, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid,
};

#[derive(DeriveIden)]
enum OrgRoleAssignments {
    Table,
    Id,
    OrganizationId,
    GroupId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
}

#[derive(DeriveIden)]
enum Tokens {
    Table,
    OrganizationId,
    Id,
    Description,
    ReadOnly,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Id,
    SealedPrivateKey,
    PublicJwk,
    CreatedAt,
    RetiredAt,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

const GROUP_ROLE_INDEX: &str = "org_role_assignments_group_role";
const ORG_INDEX: &str = "org_role_assignments_org";
const USERS_BY_NAME: &str = "users_org_name";
const TOKENS_BY_ORG: &str = "tokens_org";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(OrgRoleAssignments::Table)
                .col(uuid(OrgRoleAssignments::Id).primary_key())
                .col(uuid(OrgRoleAssignments::OrganizationId))
                .col(uuid(OrgRoleAssignments::GroupId))
                // a gitpod.v1.ResourceRole value
                .col(integer(OrgRoleAssignments::Role))
                .col(timestamp_with_time_zone(OrgRoleAssignments::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(OrgRoleAssignments::Table, OrgRoleAssignments::GroupId)
                        .to(Groups::Table, Groups::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // a group holds a role once; "does any group of this user hold the
        // role" reads (group_id, role)
        m.create_index(
            Index::create()
                .name(GROUP_ROLE_INDEX)
                .table(OrgRoleAssignments::Table)
                .col(OrgRoleAssignments::GroupId)
                .col(OrgRoleAssignments::Role)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name(ORG_INDEX)
                .table(OrgRoleAssignments::Table)
                .col(OrgRoleAssignments::OrganizationId)
                .col(OrgRoleAssignments::Id)
                .to_owned(),
        )
        .await?;
        for column in [
            string(Tokens::Description).default("").to_owned(),
            boolean(Tokens::ReadOnly).default(false).to_owned(),
            timestamp_with_time_zone_null(Tokens::LastUsedAt),
        ] {
            let mut column = column;
            m.alter_table(Table::alter().table(Tokens::Table).add_column(&mut column).to_owned())
                .await?;
        }
        // ListMembers sorted by name; ListPersonalAccessTokens of a whole organization
        // (members are sorted by name case-insensitively: an expression
        // index, written out since both databases spell it the same)
        m.get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX {USERS_BY_NAME} ON users (organization_id, lower(name), id)"
            ))
            .await?;
        m.create_index(
            Index::create()
                .name(TOKENS_BY_ORG)
                .table(Tokens::Table)
                .col(Tokens::OrganizationId)
                .col(Tokens::Id)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SigningKeys::Table)
                .col(uuid(SigningKeys::Id).primary_key())
                .col(binary(SigningKeys::SealedPrivateKey))
                .col(text(SigningKeys::PublicJwk))
                .col(timestamp_with_time_zone(SigningKeys::CreatedAt))
                .col(timestamp_with_time_zone_null(SigningKeys::RetiredAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SigningKeys::Table).to_owned()).await?;
        m.drop_index(Index::drop().name(TOKENS_BY_ORG).table(Tokens::Table).to_owned())
            .await?;
        m.drop_index(Index::drop().name(USERS_BY_NAME).table(Users::Table).to_owned())
            .await?;
        for column in [Tokens::Description, Tokens::ReadOnly, Tokens::LastUsedAt] {
            m.alter_table(Table::alter().table(Tokens::Table).drop_column(column).to_owned())
                .await?;
        }
        m.drop_table(Table::drop().table(OrgRoleAssignments::Table).to_owned())
            .await
    }
}
