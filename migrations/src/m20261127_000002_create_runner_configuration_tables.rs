//! What RunnerConfigurationService keeps: environment classes, SCM
//! integrations, host authentication tokens, LLM integrations, and the
//! configuration schema a runner may publish for itself.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Runners {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum EnvironmentClasses {
    Table,
    Id,
    RunnerId,
    OrganizationId,
    DisplayName,
    Description,
    Configuration,
    Enabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ScmIntegrations {
    Table,
    Id,
    RunnerId,
    OrganizationId,
    ScmId,
    Host,
    OauthClientId,
    OauthClientSecretEncrypted,
    IssuerUrl,
    Pat,
    VirtualDirectory,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum HostAuthenticationTokens {
    Table,
    Id,
    RunnerId,
    OrganizationId,
    SubjectId,
    SubjectPrincipal,
    Host,
    TokenEncrypted,
    RefreshTokenEncrypted,
    Source,
    ExpiresAt,
    IntegrationId,
    Scopes,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LlmIntegrations {
    Table,
    Id,
    RunnerId,
    OrganizationId,
    Models,
    Endpoint,
    ApiKeyEncrypted,
    MaxTokens,
    Phase,
    PhaseReason,
    RequestHeaders,
    Provider,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RunnerConfigurationSchemas {
    Table,
    RunnerId,
    Schema,
    UpdatedAt,
}

fn runner_fk(table: impl IntoIden + 'static, column: impl IntoIden + 'static) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Runners::Table, Runners::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn index(name: &str, table: impl IntoIden + 'static, cols: &[&'static str], unique: bool) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(Alias::new(*col));
    }
    if unique {
        stmt.unique();
    }
    stmt.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(EnvironmentClasses::Table)
                .col(uuid(EnvironmentClasses::Id).primary_key())
                .col(uuid(EnvironmentClasses::RunnerId))
                .col(uuid(EnvironmentClasses::OrganizationId))
                .col(string(EnvironmentClasses::DisplayName))
                .col(string(EnvironmentClasses::Description))
                .col(text(EnvironmentClasses::Configuration))
                .col(boolean(EnvironmentClasses::Enabled))
                .col(timestamp_with_time_zone(EnvironmentClasses::CreatedAt))
                .col(timestamp_with_time_zone(EnvironmentClasses::UpdatedAt))
                .foreign_key(&mut runner_fk(EnvironmentClasses::Table, EnvironmentClasses::RunnerId))
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("idx_environment_classes_org", &["organization_id", "id"][..]),
            (
                "idx_environment_classes_org_enabled",
                &["organization_id", "enabled", "id"][..],
            ),
            ("idx_environment_classes_runner", &["runner_id", "id"][..]),
        ] {
            m.create_index(index(name, EnvironmentClasses::Table, cols, false))
                .await?;
        }

        m.create_table(
            Table::create()
                .table(ScmIntegrations::Table)
                .col(uuid(ScmIntegrations::Id).primary_key())
                .col(uuid(ScmIntegrations::RunnerId))
                .col(uuid(ScmIntegrations::OrganizationId))
                .col(string(ScmIntegrations::ScmId))
                .col(string(ScmIntegrations::Host))
                .col(string_null(ScmIntegrations::OauthClientId))
                .col(binary_null(ScmIntegrations::OauthClientSecretEncrypted))
                .col(string_null(ScmIntegrations::IssuerUrl))
                .col(boolean(ScmIntegrations::Pat))
                .col(string_null(ScmIntegrations::VirtualDirectory))
                .col(timestamp_with_time_zone(ScmIntegrations::CreatedAt))
                .col(timestamp_with_time_zone(ScmIntegrations::UpdatedAt))
                .foreign_key(&mut runner_fk(ScmIntegrations::Table, ScmIntegrations::RunnerId))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_scm_integrations_runner_host",
            ScmIntegrations::Table,
            &["runner_id", "host"],
            true,
        ))
        .await?;
        m.create_index(index(
            "idx_scm_integrations_runner",
            ScmIntegrations::Table,
            &["runner_id", "id"],
            false,
        ))
        .await?;
        m.create_index(index(
            "idx_scm_integrations_org",
            ScmIntegrations::Table,
            &["organization_id", "id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(HostAuthenticationTokens::Table)
                .col(uuid(HostAuthenticationTokens::Id).primary_key())
                .col(uuid(HostAuthenticationTokens::RunnerId))
                .col(uuid(HostAuthenticationTokens::OrganizationId))
                .col(uuid(HostAuthenticationTokens::SubjectId))
                .col(integer(HostAuthenticationTokens::SubjectPrincipal))
                .col(string(HostAuthenticationTokens::Host))
                .col(binary(HostAuthenticationTokens::TokenEncrypted))
                .col(binary_null(HostAuthenticationTokens::RefreshTokenEncrypted))
                .col(integer(HostAuthenticationTokens::Source))
                .col(timestamp_with_time_zone_null(HostAuthenticationTokens::ExpiresAt))
                .col(uuid_null(HostAuthenticationTokens::IntegrationId))
                .col(text(HostAuthenticationTokens::Scopes))
                .col(timestamp_with_time_zone(HostAuthenticationTokens::CreatedAt))
                .col(timestamp_with_time_zone(HostAuthenticationTokens::UpdatedAt))
                .foreign_key(&mut runner_fk(
                    HostAuthenticationTokens::Table,
                    HostAuthenticationTokens::RunnerId,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_host_tokens_runner_subject_host",
            HostAuthenticationTokens::Table,
            &["runner_id", "subject_id", "host"],
            true,
        ))
        .await?;
        for (name, cols) in [
            ("idx_host_tokens_org", &["organization_id", "id"][..]),
            (
                "idx_host_tokens_org_subject",
                &["organization_id", "subject_id", "id"][..],
            ),
            (
                "idx_host_tokens_org_runner",
                &["organization_id", "runner_id", "id"][..],
            ),
        ] {
            m.create_index(index(name, HostAuthenticationTokens::Table, cols, false))
                .await?;
        }

        m.create_table(
            Table::create()
                .table(LlmIntegrations::Table)
                .col(uuid(LlmIntegrations::Id).primary_key())
                .col(uuid(LlmIntegrations::RunnerId))
                .col(uuid(LlmIntegrations::OrganizationId))
                .col(text(LlmIntegrations::Models))
                .col(string(LlmIntegrations::Endpoint))
                .col(binary_null(LlmIntegrations::ApiKeyEncrypted))
                .col(big_integer(LlmIntegrations::MaxTokens))
                .col(integer(LlmIntegrations::Phase))
                .col(string(LlmIntegrations::PhaseReason))
                .col(text(LlmIntegrations::RequestHeaders))
                .col(integer(LlmIntegrations::Provider))
                .col(timestamp_with_time_zone(LlmIntegrations::CreatedAt))
                .col(timestamp_with_time_zone(LlmIntegrations::UpdatedAt))
                .foreign_key(&mut runner_fk(LlmIntegrations::Table, LlmIntegrations::RunnerId))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_llm_integrations_runner",
            LlmIntegrations::Table,
            &["runner_id", "id"],
            false,
        ))
        .await?;
        m.create_index(index(
            "idx_llm_integrations_org",
            LlmIntegrations::Table,
            &["organization_id", "id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(RunnerConfigurationSchemas::Table)
                .col(uuid(RunnerConfigurationSchemas::RunnerId).primary_key())
                .col(binary(RunnerConfigurationSchemas::Schema))
                .col(timestamp_with_time_zone(RunnerConfigurationSchemas::UpdatedAt))
                .foreign_key(&mut runner_fk(
                    RunnerConfigurationSchemas::Table,
                    RunnerConfigurationSchemas::RunnerId,
                ))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RunnerConfigurationSchemas::Table.into_iden(),
            LlmIntegrations::Table.into_iden(),
            HostAuthenticationTokens::Table.into_iden(),
            ScmIntegrations::Table.into_iden(),
            EnvironmentClasses::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
