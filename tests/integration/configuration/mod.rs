//! RunnerConfigurationService: environment classes, the configuration schema
//! and validation, SCM integrations, host tokens and LLM integrations, and
//! who may see and change them.

use tonic::Code;

use crate::harness::*;

mod access;
mod environment_classes;
mod host_tokens;
mod llm_integrations;
mod schema;
mod scm_integrations;

type Config = RunnerConfigurationServiceClient<Transport>;

fn fv(key: &str, value: &str) -> pb::FieldValue {
    pb::FieldValue {
        key: key.into(),
        value: value.into(),
    }
}

async fn runner(
    server: &TestServer,
    protocol: Protocol,
    token: &str,
    name: &str,
    provider: pb::RunnerProvider,
) -> String {
    let mut api = server.runners(protocol, token).await;
    let request = pb::CreateRunnerRequest {
        name: name.into(),
        provider: provider as i32,
        ..Default::default()
    };
    api.create_runner(request)
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id
}

fn class(runner_id: &str, name: &str, configuration: Vec<pb::FieldValue>) -> pb::CreateEnvironmentClassRequest {
    pb::CreateEnvironmentClassRequest {
        runner_id: runner_id.into(),
        display_name: name.into(),
        description: format!("{name} machines"),
        configuration,
    }
}

async fn create_class(config: &mut Config, runner_id: &str, name: &str) -> String {
    let request = class(runner_id, name, vec![fv("cpu", "4"), fv("memory", "16")]);
    config.create_environment_class(request).await.unwrap().into_inner().id
}

/// A server with a Linux runner and one environment class (the keeper) that
/// every refused request must leave as they are.
struct Keepers {
    server: TestServer,
    config: Config,
    linux: String,
    class_id: String,
}

async fn keepers(protocol: Protocol) -> Keepers {
    let server = TestServer::start().await;
    let token = server.admin.token.clone();
    let linux = runner(&server, protocol, &token, "linux", pb::RunnerProvider::LinuxHost).await;
    let mut config = server.configuration(protocol, &token).await;
    let class_id = create_class(&mut config, &linux, "Keeper").await;
    Keepers {
        server,
        config,
        linux,
        class_id,
    }
}

impl Keepers {
    /// Nothing was written; what was there is still there.
    async fn assert_untouched(mut self) {
        let classes = self
            .config
            .list_environment_classes(pb::ListEnvironmentClassesRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            classes
                .environment_classes
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>(),
            vec![self.class_id.as_str()]
        );
        let scms = self
            .config
            .list_scm_integrations(pb::ListScmIntegrationsRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert!(scms.integrations.is_empty());
        let tokens = self
            .config
            .list_host_authentication_tokens(pb::ListHostAuthenticationTokensRequest::default())
            .await
            .unwrap();
        assert!(tokens.into_inner().tokens.is_empty());
        self.server.stop().await;
    }
}

/// Broken requests and what became of them.
#[derive(Default)]
struct Cases {
    checked: usize,
    failures: Vec<String>,
}

impl Cases {
    /// The call must have been INVALID_ARGUMENT whose BadRequest names
    /// exactly `expected`.
    fn check<T>(&mut self, name: &str, result: Result<tonic::Response<T>, tonic::Status>, expected: &[&str]) {
        self.checked += 1;
        match result {
            Ok(_) => self.failures.push(format!("{name}: accepted")),
            Err(status) if status.code() != Code::InvalidArgument => {
                self.failures
                    .push(format!("{name}: {:?} {}", status.code(), status.message()))
            }
            Err(status) => {
                let fields = violated_fields(&status);
                if fields != expected {
                    self.failures
                        .push(format!("{name}: fields {fields:?}, expected {expected:?}"));
                }
            }
        }
    }

    /// Every case was refused as expected, and there were `count` of them.
    fn assert_all_refused(self, count: usize) {
        assert!(self.failures.is_empty(), "{}", self.failures.join("\n"));
        assert_eq!(self.checked, count);
    }
}

fn page(page_size: i32) -> Option<pb::PaginationRequest> {
    Some(pb::PaginationRequest {
        page_size,
        token: String::new(),
    })
}

/// An id that is not a UUID.
const BAD_ID: &str = "not-a-uuid";

/// 26 ids, one more than a filter takes.
fn too_many_ids() -> Vec<String> {
    (0..26).map(|_| uuid::Uuid::now_v7().to_string()).collect()
}
