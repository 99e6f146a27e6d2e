//! GetRunnerConfigurationSchema and ValidateRunnerConfiguration.

use prost::Message;
use uuid::Uuid;

use crate::api::runner_configuration::schemas::{self, ScmIntegrationDraft};
use crate::api::state::AppState;
use crate::api::validate::{Violations, is_uuid};
use crate::auth::{Principal, access};
use crate::base::error::{Error, Result};
use crate::protocol::proto::gitpod::v1::{self as pb, validate_runner_configuration_request as request};
use crate::store::{self, runners::Runner};

/// The schema of a runner: what it published for itself, else its provider's.
pub(super) async fn of_runner(state: &AppState, runner: &Runner) -> Result<pb::RunnerConfigurationSchema> {
    if let Some(bytes) = store::schemas::published(&state.db, runner.id).await?
        && let Ok(schema) = pb::RunnerConfigurationSchema::decode(bytes.as_slice())
    {
        return Ok(schema);
    }
    let provider = pb::RunnerProvider::try_from(runner.provider).unwrap_or_default();
    Ok(schemas::default_for(provider, &state.public_url))
}

pub(super) async fn get(
    state: &AppState,
    caller: Principal,
    req: pb::GetRunnerConfigurationSchemaRequest,
) -> Result<pb::GetRunnerConfigurationSchemaResponse> {
    let mut v = Violations::new();
    let runner_id = v.uuid("runner_id", &req.runner_id);
    let runner_id = v.finish(runner_id)?;
    let runner = access::see_runner(&state.db, &caller, runner_id).await?;
    Ok(pb::GetRunnerConfigurationSchemaResponse {
        schema: Some(of_runner(state, runner.get()).await?),
    })
}

/// The checks CreateEnvironmentClass makes, as a result instead of an error.
pub(super) fn check_environment_class(
    schema: &pb::RunnerConfigurationSchema,
    class: &pb::EnvironmentClass,
) -> pb::EnvironmentClassValidationResult {
    let length = |value: &str, max: usize| {
        let n = value.chars().count();
        (!(3..=max).contains(&n)).then(|| format!("must be 3 to {max} characters long, not {n}"))
    };
    let configuration_errors: Vec<pb::FieldValidationError> =
        schemas::check_environment_class(schema, &class.configuration)
            .into_iter()
            .map(|(key, error)| pb::FieldValidationError { key, error })
            .collect();
    let display_name_error = length(&class.display_name, 127);
    let description_error = length(&class.description, 200);
    pb::EnvironmentClassValidationResult {
        valid: display_name_error.is_none() && description_error.is_none() && configuration_errors.is_empty(),
        display_name_error,
        description_error,
        configuration_errors,
    }
}

/// Never fails for what the configuration says: the result tells what is wrong.
pub(super) async fn validate(
    state: &AppState,
    caller: Principal,
    req: pb::ValidateRunnerConfigurationRequest,
) -> Result<pb::ValidateRunnerConfigurationResponse> {
    // The reference disables message validation here; a runner id that is no
    // UUID simply names no runner.
    let runner_id = Some(req.runner_id.as_str())
        .filter(|id| is_uuid(id))
        .and_then(|id| Uuid::parse_str(id).ok());
    let runner_id = runner_id.ok_or_else(|| Error::NotFound("runner not found".into()))?;
    let runner = access::see_runner(&state.db, &caller, runner_id).await?;
    let schema = of_runner(state, runner.get()).await?;
    use pb::validate_runner_configuration_response::Result as Outcome;
    let result = match req.config {
        Some(request::Config::EnvironmentClass(class)) => {
            Outcome::EnvironmentClass(check_environment_class(&schema, &class))
        }
        Some(request::Config::ScmIntegration(scm)) => {
            let has_client_secret = match &scm.oauth_client_secret {
                Some(request::validate_scm_integration::OauthClientSecret::OauthPlaintextClientSecret(s)) => {
                    !s.is_empty()
                }
                Some(request::validate_scm_integration::OauthClientSecret::OauthEncryptedClientSecret(s)) => {
                    !s.is_empty()
                }
                None => false,
            };
            let problems = schemas::check_scm_integration(
                &schema,
                &ScmIntegrationDraft {
                    scm_id: &scm.scm_id,
                    host: &scm.host,
                    oauth_client_id: scm.oauth_client_id.as_deref(),
                    has_client_secret,
                    issuer_url: scm.issuer_url.as_deref(),
                    pat: scm.pat,
                },
            );
            Outcome::ScmIntegration(pb::ScmIntegrationValidationResult {
                valid: problems.is_empty(),
                scm_id_error: problems.scm_id,
                host_error: problems.host,
                oauth_error: problems.oauth,
                pat_error: problems.pat,
            })
        }
        None => {
            return Err(Error::invalid(
                "config",
                "give an environment_class or an scm_integration to validate",
            ));
        }
    };
    Ok(pb::ValidateRunnerConfigurationResponse { result: Some(result) })
}
