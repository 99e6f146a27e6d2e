//! Environment classes: Create, Get, List, Update.

use super::owned;
use super::schema::{check_environment_class, of_runner};
use crate::api::state::AppState;
use crate::api::validate::Violations;
use crate::api::{convert, keyset_page};
use crate::auth::{Principal, access};
use crate::base::error::{Error, FieldViolation, Result};
use crate::protocol::proto::gitpod::v1 as pb;
use crate::store::environment_classes::{self as store, EnvironmentClassChanges, EnvironmentClassFilter};

pub(super) async fn create(
    state: &AppState,
    caller: Principal,
    req: pb::CreateEnvironmentClassRequest,
) -> Result<pb::CreateEnvironmentClassResponse> {
    let mut v = Violations::new();
    let runner_id = v.uuid("runner_id", &req.runner_id);
    v.length("display_name", &req.display_name, 3, 127);
    v.length("description", &req.description, 3, 200);
    v.storable("display_name", &req.display_name);
    v.storable("description", &req.description);
    let runner_id = v.finish(runner_id)?;
    let runner = access::manage_runner(&state.db, &caller, runner_id).await?;

    // the configuration must fit the runner's schema, key by key
    let schema = of_runner(state, runner.get()).await?;
    let draft = pb::EnvironmentClass {
        configuration: req.configuration.clone(),
        ..Default::default()
    };
    let errors = check_environment_class(&schema, &draft).configuration_errors;
    if !errors.is_empty() {
        return Err(Error::InvalidArgument(
            errors
                .into_iter()
                .map(|e| FieldViolation {
                    field: format!("configuration[{}]", e.key),
                    description: e.error,
                })
                .collect(),
        ));
    }
    let class = store::create(
        &state.db,
        &runner,
        store::NewEnvironmentClass {
            display_name: req.display_name,
            description: req.description,
            configuration: req.configuration.into_iter().map(|f| (f.key, f.value)).collect(),
        },
    )
    .await?;
    Ok(pb::CreateEnvironmentClassResponse {
        id: class.id.to_string(),
    })
}

const WHAT: &str = "environment class";

pub(super) async fn get(
    state: &AppState,
    caller: Principal,
    req: pb::GetEnvironmentClassRequest,
) -> Result<pb::GetEnvironmentClassResponse> {
    let id = ("environment_class_id", req.environment_class_id.as_str());
    let class = owned::get(state, &caller, id, WHAT, |id| store::get(&state.db, id)).await?;
    Ok(pb::GetEnvironmentClassResponse {
        environment_class: Some(convert::environment_class(class)),
    })
}

pub(super) async fn list(
    state: &AppState,
    caller: Principal,
    req: pb::ListEnvironmentClassesRequest,
) -> Result<pb::ListEnvironmentClassesResponse> {
    let filter = req.filter.unwrap_or_default();
    let mut v = Violations::new();
    let scope = owned::scope(&mut v, &caller, req.pagination.as_ref(), &filter.runner_ids);
    v.max_items("filter.runner_kinds", &filter.runner_kinds, 25);
    v.max_items("filter.runner_providers", &filter.runner_providers, 25);
    v.finish(())?;

    // "can create environments": enabled classes of runners that take new environments
    let usable = filter.can_create_environments == Some(true);
    let mut store_filter = EnvironmentClassFilter {
        scope,
        enabled: if usable { Some(true) } else { filter.enabled },
        runner_kinds: filter.runner_kinds,
        runner_providers: filter.runner_providers,
        usable_runners_only: usable,
    };
    if usable && filter.enabled == Some(false) {
        // enabled=false and can_create_environments=true exclude each other
        return Ok(pb::ListEnvironmentClassesResponse {
            pagination: Some(pb::PaginationResponse::default()),
            environment_classes: vec![],
        });
    }
    store_filter.runner_kinds.sort_unstable();
    store_filter.runner_providers.sort_unstable();
    let (rows, pagination) = keyset_page(
        &state.secrets,
        "environment_classes",
        &store_filter,
        req.pagination,
        |c: &store::EnvironmentClass| c.id,
        |page| store::list(&state.db, &store_filter, page),
    )
    .await?;
    Ok(pb::ListEnvironmentClassesResponse {
        pagination,
        environment_classes: rows.into_iter().map(convert::environment_class).collect(),
    })
}

pub(super) async fn update(
    state: &AppState,
    caller: Principal,
    req: pb::UpdateEnvironmentClassRequest,
) -> Result<pb::UpdateEnvironmentClassResponse> {
    let mut v = Violations::new();
    let id = v.uuid("environment_class_id", &req.environment_class_id);
    if let Some(name) = &req.display_name {
        v.length("display_name", name, 3, 127);
        v.storable("display_name", name);
    }
    if let Some(description) = &req.description {
        v.length("description", description, 3, 200);
        v.storable("description", description);
    }
    let id = v.finish(id)?;
    let (runner, _) = access::manage_owned(&state.db, &caller, store::get(&state.db, id).await?, WHAT).await?;
    let changes = EnvironmentClassChanges {
        display_name: req.display_name,
        description: req.description,
        enabled: req.enabled,
    };
    store::update(&state.db, &runner, id, changes).await?;
    Ok(pb::UpdateEnvironmentClassResponse {})
}
