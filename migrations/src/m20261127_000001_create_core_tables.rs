//! Organizations, users, groups and memberships; tokens; runners and their
//! policies; and the check that the server's secret key matches the data.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    OrganizationId,
    Name,
    OrgAdmin,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
    OrganizationId,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    GroupId,
    UserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Runners {
    Table,
    Id,
    OrganizationId,
    Name,
    Kind,
    Provider,
    RunnerManagerId,
    CreatorId,
    CreatorPrincipal,
    CreatedAt,
    UpdatedAt,
    DesiredPhase,
    Variant,
    Region,
    ReleaseChannel,
    AutoUpdate,
    MetricsEnabled,
    MetricsUrl,
    MetricsUsername,
    MetricsPasswordEncrypted,
    MetricsManagedEnabled,
    MetricsIncludeVerbose,
    LogLevel,
    DevcontainerImageCacheEnabled,
    UpdateWindowStartHour,
    UpdateWindowEndHour,
    HoneycombApiKeyEncrypted,
    ContinuousProfiling,
    Phase,
    StatusUpdatedAt,
    StatusVersion,
    StatusSystemDetails,
    StatusLogUrl,
    StatusMessage,
    StatusRegion,
    StatusAdditionalInfo,
    StatusCapabilities,
    StatusGatewayInfo,
    StatusLlmUrl,
    StatusSupportBundleUrl,
    PublicKey,
    SignedUpAt,
}

#[derive(DeriveIden)]
enum RunnerPolicies {
    Table,
    RunnerId,
    GroupId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Tokens {
    Table,
    Id,
    Hash,
    Kind,
    OrganizationId,
    UserId,
    RunnerId,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum SecretKeyCheck {
    Table,
    Id,
    Sealed,
    CreatedAt,
}

fn fk(
    from: (impl IntoIden + 'static, impl IntoIden + 'static),
    to: (impl IntoIden + 'static, impl IntoIden + 'static),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn index(name: &str, table: impl IntoIden + 'static, cols: &[&'static str]) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(Alias::new(*col));
    }
    stmt.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Organizations::Table)
                .col(uuid(Organizations::Id).primary_key())
                .col(string_uniq(Organizations::Name))
                .col(timestamp_with_time_zone(Organizations::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(uuid(Users::Id).primary_key())
                .col(uuid(Users::OrganizationId))
                .col(string(Users::Name))
                .col(boolean(Users::OrgAdmin))
                .col(timestamp_with_time_zone(Users::CreatedAt))
                .foreign_key(&mut fk(
                    (Users::Table, Users::OrganizationId),
                    (Organizations::Table, Organizations::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_users_org", Users::Table, &["organization_id", "id"]))
            .await?;

        m.create_table(
            Table::create()
                .table(Groups::Table)
                .col(uuid(Groups::Id).primary_key())
                .col(uuid(Groups::OrganizationId))
                .col(string(Groups::Name))
                .col(timestamp_with_time_zone(Groups::CreatedAt))
                .foreign_key(&mut fk(
                    (Groups::Table, Groups::OrganizationId),
                    (Organizations::Table, Organizations::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_groups_org", Groups::Table, &["organization_id", "id"]))
            .await?;

        m.create_table(
            Table::create()
                .table(Memberships::Table)
                .col(uuid(Memberships::GroupId))
                .col(uuid(Memberships::UserId))
                .col(timestamp_with_time_zone(Memberships::CreatedAt))
                .primary_key(Index::create().col(Memberships::GroupId).col(Memberships::UserId))
                .foreign_key(&mut fk(
                    (Memberships::Table, Memberships::GroupId),
                    (Groups::Table, Groups::Id),
                ))
                .foreign_key(&mut fk(
                    (Memberships::Table, Memberships::UserId),
                    (Users::Table, Users::Id),
                ))
                .to_owned(),
        )
        .await?;
        // "which groups is this user in" drives every authorization check
        m.create_index(index(
            "idx_memberships_user",
            Memberships::Table,
            &["user_id", "group_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Runners::Table)
                .col(uuid(Runners::Id).primary_key())
                .col(uuid(Runners::OrganizationId))
                .col(string(Runners::Name))
                .col(integer(Runners::Kind))
                .col(integer(Runners::Provider))
                .col(uuid_null(Runners::RunnerManagerId))
                .col(uuid(Runners::CreatorId))
                .col(integer(Runners::CreatorPrincipal))
                .col(timestamp_with_time_zone(Runners::CreatedAt))
                .col(timestamp_with_time_zone(Runners::UpdatedAt))
                .col(integer(Runners::DesiredPhase))
                .col(integer(Runners::Variant))
                .col(string(Runners::Region))
                .col(integer(Runners::ReleaseChannel))
                .col(boolean(Runners::AutoUpdate))
                .col(boolean(Runners::MetricsEnabled))
                .col(string(Runners::MetricsUrl))
                .col(string(Runners::MetricsUsername))
                .col(binary_null(Runners::MetricsPasswordEncrypted))
                .col(boolean(Runners::MetricsManagedEnabled))
                .col(boolean(Runners::MetricsIncludeVerbose))
                .col(integer(Runners::LogLevel))
                .col(boolean(Runners::DevcontainerImageCacheEnabled))
                .col(integer_null(Runners::UpdateWindowStartHour))
                .col(integer_null(Runners::UpdateWindowEndHour))
                .col(binary_null(Runners::HoneycombApiKeyEncrypted))
                .col(boolean(Runners::ContinuousProfiling))
                .col(integer(Runners::Phase))
                .col(timestamp_with_time_zone_null(Runners::StatusUpdatedAt))
                .col(string(Runners::StatusVersion))
                .col(text(Runners::StatusSystemDetails))
                .col(string(Runners::StatusLogUrl))
                .col(text(Runners::StatusMessage))
                .col(string(Runners::StatusRegion))
                .col(text(Runners::StatusAdditionalInfo))
                .col(text(Runners::StatusCapabilities))
                .col(text(Runners::StatusGatewayInfo))
                .col(string(Runners::StatusLlmUrl))
                .col(string(Runners::StatusSupportBundleUrl))
                .col(binary_null(Runners::PublicKey))
                .col(timestamp_with_time_zone_null(Runners::SignedUpAt))
                .foreign_key(&mut fk(
                    (Runners::Table, Runners::OrganizationId),
                    (Organizations::Table, Organizations::Id),
                ))
                .to_owned(),
        )
        .await?;
        // Lists page by id (UUIDv7: creation order) within an organization,
        // optionally filtered by creator, kind or provider.
        m.create_index(index("idx_runners_org", Runners::Table, &["organization_id", "id"]))
            .await?;
        m.create_index(index(
            "idx_runners_org_creator",
            Runners::Table,
            &["organization_id", "creator_id", "id"],
        ))
        .await?;
        m.create_index(index(
            "idx_runners_org_kind",
            Runners::Table,
            &["organization_id", "kind", "id"],
        ))
        .await?;
        m.create_index(index(
            "idx_runners_org_provider",
            Runners::Table,
            &["organization_id", "provider", "id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(RunnerPolicies::Table)
                .col(uuid(RunnerPolicies::RunnerId))
                .col(uuid(RunnerPolicies::GroupId))
                .col(integer(RunnerPolicies::Role))
                .col(timestamp_with_time_zone(RunnerPolicies::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(RunnerPolicies::RunnerId)
                        .col(RunnerPolicies::GroupId),
                )
                .foreign_key(&mut fk(
                    (RunnerPolicies::Table, RunnerPolicies::RunnerId),
                    (Runners::Table, Runners::Id),
                ))
                .foreign_key(&mut fk(
                    (RunnerPolicies::Table, RunnerPolicies::GroupId),
                    (Groups::Table, Groups::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_runner_policies_group",
            RunnerPolicies::Table,
            &["group_id", "runner_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Tokens::Table)
                .col(uuid(Tokens::Id).primary_key())
                .col(binary_len_uniq(Tokens::Hash, 32))
                .col(string(Tokens::Kind))
                .col(uuid(Tokens::OrganizationId))
                .col(uuid_null(Tokens::UserId))
                .col(uuid_null(Tokens::RunnerId))
                .col(timestamp_with_time_zone(Tokens::CreatedAt))
                .col(timestamp_with_time_zone_null(Tokens::ExpiresAt))
                .col(timestamp_with_time_zone_null(Tokens::UsedAt))
                .col(timestamp_with_time_zone_null(Tokens::RevokedAt))
                .foreign_key(&mut fk(
                    (Tokens::Table, Tokens::OrganizationId),
                    (Organizations::Table, Organizations::Id),
                ))
                .foreign_key(&mut fk((Tokens::Table, Tokens::UserId), (Users::Table, Users::Id)))
                .foreign_key(&mut fk(
                    (Tokens::Table, Tokens::RunnerId),
                    (Runners::Table, Runners::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_tokens_runner", Tokens::Table, &["runner_id"]))
            .await?;
        m.create_index(index("idx_tokens_user", Tokens::Table, &["user_id"]))
            .await?;

        m.create_table(
            Table::create()
                .table(SecretKeyCheck::Table)
                .col(integer(SecretKeyCheck::Id).primary_key())
                .col(binary(SecretKeyCheck::Sealed))
                .col(timestamp_with_time_zone(SecretKeyCheck::CreatedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SecretKeyCheck::Table.into_iden(),
            Tokens::Table.into_iden(),
            RunnerPolicies::Table.into_iden(),
            Runners::Table.into_iden(),
            Memberships::Table.into_iden(),
            Groups::Table.into_iden(),
            Users::Table.into_iden(),
            Organizations::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
