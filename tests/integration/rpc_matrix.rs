//! Who may call what: every RPC paddock serves × every kind of caller × the
//! code it answers, in one table. The RPCs are read from the server's own
//! reflection, so an RPC without a row fails the test: a new RPC cannot ship
//! without saying who may call it.
//!
//! Unary calls go through the Connect protocol in JSON, as curl or a browser
//! would send them; streams through gRPC. Each call acts on resources made for
//! it where it would change what later calls see (a deleted runner, a revoked
//! token), so the cells do not depend on each other.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::{Value, json};
use tonic::Code;

use crate::connect::Http;
use crate::harness::*;

/// The callers, one column each, in this order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Caller {
    /// No Authorization header.
    Anonymous,
    /// A well-formed token paddock never issued.
    Unknown,
    /// A personal access token its user deleted.
    Revoked,
    /// A personal access token past its `valid_for`.
    Expired,
    /// The admin of another organization.
    OtherOrgAdmin,
    /// A member of the organization with no role on anything.
    Member,
    /// A member of a group with RUNNER_ROLE_USER on the runner.
    RunnerUser,
    /// A member of a group with RUNNER_ROLE_ADMIN on the runner.
    RunnerAdmin,
    /// The (plain) member who created the runner.
    Creator,
    /// A member of a group with RESOURCE_ROLE_ORG_RUNNERS_ADMIN.
    OrgRunnersAdmin,
    /// A member of a group with RESOURCE_ROLE_ORG_AUDIT_LOG_READER.
    AuditLogReader,
    /// An organization admin.
    OrgAdmin,
    /// A read-only personal access token of the organization admin.
    ReadOnly,
    /// The runner's own access token.
    Runner,
    /// Another runner's access token.
    OtherRunner,
    /// A runner's exchange token, used as a bearer token before it was exchanged.
    ExchangeToken,
}

const CALLERS: [Caller; 16] = [
    Caller::Anonymous,
    Caller::Unknown,
    Caller::Revoked,
    Caller::Expired,
    Caller::OtherOrgAdmin,
    Caller::Member,
    Caller::RunnerUser,
    Caller::RunnerAdmin,
    Caller::Creator,
    Caller::OrgRunnersAdmin,
    Caller::AuditLogReader,
    Caller::OrgAdmin,
    Caller::ReadOnly,
    Caller::Runner,
    Caller::OtherRunner,
    Caller::ExchangeToken,
];

/// What each caller gets from each RPC: one column per caller, in CALLERS'
/// order; O ok, U unauthenticated, P permission denied, N not found (what a
/// caller may not see does not exist for them), X unimplemented, F failed
/// precondition (no host token of the caller's for that host), V unavailable
/// (got past authorization to the SCM host, which this test makes
/// unreachable). Every RPC served has a line; a new RPC needs one.
const EXPECTED: &str = "
                                                                      anon unkn revk expd othr memb rusr radm crtr orad audt admn rdon self orun exch
gitpod.v1.RunnerService/CreateRunner                                  U    U    U    U    O    O    O    O    O    O    O    O    P    P    P    U
gitpod.v1.RunnerService/GetRunner                                     U    U    U    U    N    O    O    O    O    O    O    O    O    O    N    U
gitpod.v1.RunnerService/ListRunners                                   U    U    U    U    O    O    O    O    O    O    O    O    O    O    O    U
gitpod.v1.RunnerService/UpdateRunner                                  U    U    U    U    N    P    P    O    O    O    P    O    P    P    N    U
gitpod.v1.RunnerService/DeleteRunner                                  U    U    U    U    N    P    P    O    O    O    P    O    P    P    N    U
gitpod.v1.RunnerService/CreateRunnerToken                             U    U    U    U    N    P    P    O    O    O    P    O    P    P    N    U
gitpod.v1.RunnerService/CreateRunnerLogsToken                         U    U    U    U    N    P    P    O    O    O    P    O    P    P    N    U
gitpod.v1.RunnerService/ParseContextURL                               U    U    U    U    N    O    O    O    O    O    O    V    P    O    N    U
gitpod.v1.RunnerService/SearchRepositories                            U    U    U    U    N    F    F    F    F    F    F    V    P    F    N    U
gitpod.v1.RunnerService/ListSCMOrganizations                          U    U    U    U    N    F    F    F    F    F    F    V    P    F    N    U
gitpod.v1.RunnerService/CheckAuthenticationForHost                    U    U    U    U    N    O    O    O    O    O    O    O    P    O    N    U
gitpod.v1.RunnerService/CheckRepositoryAccess                         U    U    U    U    N    F    F    F    F    F    F    V    P    F    N    U
gitpod.v1.RunnerService/ListRunnerPolicies                            U    U    U    U    N    O    O    O    O    O    O    O    O    O    N    U
gitpod.v1.RunnerService/CreateRunnerPolicy                            U    U    U    U    N    P    P    O    O    O    P    O    P    P    N    U
gitpod.v1.RunnerService/UpdateRunnerPolicy                            U    U    U    U    N    P    P    O    O    O    P    O    P    P    N    U
gitpod.v1.RunnerService/DeleteRunnerPolicy                            U    U    U    U    N    P    P    O    O    O    P    O    P    P    N    U
gitpod.v1.RunnerConfigurationService/CreateHostAuthenticationToken    U    U    U    U    N    O    O    O    O    O    O    O    P    P    P    U
gitpod.v1.RunnerConfigurationService/GetHostAuthenticationToken       U    U    U    U    N    N    N    N    N    N    N    O    O    N    N    U
gitpod.v1.RunnerConfigurationService/ListHostAuthenticationTokens     U    U    U    U    O    O    O    O    O    O    O    O    O    O    O    U
gitpod.v1.RunnerConfigurationService/UpdateHostAuthenticationToken    U    U    U    U    N    N    N    N    N    N    N    O    P    N    N    U
gitpod.v1.RunnerConfigurationService/DeleteHostAuthenticationToken    U    U    U    U    N    N    N    N    N    N    N    O    P    N    N    U
gitpod.v1.RunnerConfigurationService/GetRunnerConfigurationSchema     U    U    U    U    N    O    O    O    O    O    O    O    O    O    N    U
gitpod.v1.RunnerConfigurationService/CreateSCMIntegration             U    U    U    U    N    P    P    O    O    O    P    O    P    P    N    U
gitpod.v1.RunnerConfigurationService/GetSCMIntegration                U    U    U    U    N    O    O    O    O    O    O    O    O    O    N    U
gitpod.v1.RunnerConfigurationService/ListSCMIntegrations              U    U    U    U    O    O    O    O    O    O    O    O    O    O    O    U
gitpod.v1.RunnerConfigurationService/UpdateSCMIntegration             U    U    U    U    N    P    P    O    O    O    P    O    P    P    N    U
gitpod.v1.RunnerConfigurationService/DeleteSCMIntegration             U    U    U    U    N    P    P    O    O    O    P    O    P    P    N    U
gitpod.v1.RunnerConfigurationService/CreateEnvironmentClass           U    U    U    U    N    P    P    O    O    O    P    O    P    P    N    U
gitpod.v1.RunnerConfigurationService/GetEnvironmentClass              U    U    U    U    N    O    O    O    O    O    O    O    O    O    N    U
gitpod.v1.RunnerConfigurationService/ListEnvironmentClasses           U    U    U    U    O    O    O    O    O    O    O    O    O    O    O    U
gitpod.v1.RunnerConfigurationService/UpdateEnvironmentClass           U    U    U    U    N    P    P    O    O    O    P    O    P    P    N    U
gitpod.v1.RunnerConfigurationService/ValidateRunnerConfiguration      U    U    U    U    N    O    O    O    O    O    O    O    P    O    N    U
gitpod.v1.RunnerConfigurationService/CreateLLMIntegration             U    U    U    U    N    P    P    O    O    O    P    O    P    P    N    U
gitpod.v1.RunnerConfigurationService/GetLLMIntegration                U    U    U    U    N    O    O    O    O    O    O    O    O    O    N    U
gitpod.v1.RunnerConfigurationService/ListLLMIntegrations              U    U    U    U    O    O    O    O    O    O    O    O    O    O    O    U
gitpod.v1.RunnerConfigurationService/UpdateLLMIntegration             U    U    U    U    N    P    P    O    O    O    P    O    P    P    N    U
gitpod.v1.RunnerConfigurationService/DeleteLLMIntegration             U    U    U    U    N    P    P    O    O    O    P    O    P    P    N    U
gitpod.v1.IdentityService/GetIDToken                                  U    U    U    U    O    O    O    O    O    O    O    O    P    O    O    U
gitpod.v1.IdentityService/GetAuthenticatedIdentity                    U    U    U    U    O    O    O    O    O    O    O    O    O    O    O    U
gitpod.v1.IdentityService/ExchangeToken                               O    O    O    O    O    O    O    O    O    O    O    O    O    O    O    O
gitpod.v1.RunnerInteractionService/Signup                             U    U    U    U    P    P    P    P    P    P    P    P    P    O    O    U
gitpod.v1.RunnerInteractionService/MarkRunnerActive                   U    U    U    U    P    P    P    P    P    P    P    P    P    O    N    U
gitpod.v1.RunnerInteractionService/UpdateRunnerStatus                 U    U    U    U    P    P    P    P    P    P    P    P    P    O    N    U
gitpod.v1.RunnerInteractionService/GetLatestVersion                   U    U    U    U    P    P    P    P    P    P    P    P    P    O    N    U
gitpod.v1.RunnerInteractionService/ListRunnerEnvironmentClasses       U    U    U    U    P    P    P    P    P    P    P    P    P    O    N    U
gitpod.v1.RunnerInteractionService/ListRunnerSCMIntegrations          U    U    U    U    P    P    P    P    P    P    P    P    P    O    N    U
gitpod.v1.RunnerInteractionService/GetHostAuthenticationTokenValue    U    U    U    U    P    P    P    P    P    P    P    P    P    O    N    U
gitpod.v1.RunnerInteractionService/UpdateRunnerConfigurationSchema    U    U    U    U    P    P    P    P    P    P    P    P    P    O    N    U
gitpod.v1.EventService/WatchEvents                                    U    U    U    U    O    O    O    O    O    O    O    O    O    O    O    U
gitpod.v1.EventService/ListAuditLogs                                  U    U    U    U    O    P    P    P    P    P    O    O    O    P    P    U
gitpod.v1.EventService/GetAuditLog                                    U    U    U    U    N    P    P    P    P    P    O    O    O    P    P    U
gitpod.v1.GroupService/CreateGroup                                    U    U    U    U    N    P    P    P    P    P    P    O    P    P    P    U
gitpod.v1.GroupService/GetGroup                                       U    U    U    U    N    O    O    O    O    O    O    O    O    P    P    U
gitpod.v1.GroupService/ListGroups                                     U    U    U    U    O    O    O    O    O    O    O    O    O    P    P    U
gitpod.v1.GroupService/UpdateGroup                                    U    U    U    U    N    P    P    P    P    P    P    O    P    P    P    U
gitpod.v1.GroupService/DeleteGroup                                    U    U    U    U    N    P    P    P    P    P    P    O    P    P    P    U
gitpod.v1.GroupService/CreateMembership                               U    U    U    U    N    P    P    P    P    P    P    O    P    P    P    U
gitpod.v1.GroupService/DeleteMembership                               U    U    U    U    N    P    P    P    P    P    P    O    P    P    P    U
gitpod.v1.GroupService/GetMembership                                  U    U    U    U    N    O    O    O    O    O    O    O    O    P    P    U
gitpod.v1.GroupService/ListMemberships                                U    U    U    U    N    O    O    O    O    O    O    O    O    P    P    U
gitpod.v1.GroupService/CreateRoleAssignment (on the runner)           U    U    U    U    N    P    P    O    O    O    P    O    P    P    N    U
gitpod.v1.GroupService/CreateRoleAssignment (on the organization)     U    U    U    U    N    P    P    P    P    P    P    O    P    P    P    U
gitpod.v1.GroupService/ListRoleAssignments                            U    U    U    U    O    O    O    O    O    O    O    O    O    P    P    U
gitpod.v1.GroupService/DeleteRoleAssignment (on the runner)           U    U    U    U    N    P    P    O    O    O    P    O    P    P    N    U
gitpod.v1.GroupService/DeleteRoleAssignment (on the organization)     U    U    U    U    N    P    P    P    P    P    P    O    P    P    P    U
gitpod.v1.GroupService/ShareResourceWithPrincipal                     U    U    U    U    X    X    X    X    X    X    X    X    P    X    X    U
gitpod.v1.GroupService/UnshareResourceWithPrincipal                   U    U    U    U    X    X    X    X    X    X    X    X    P    X    X    U
gitpod.v1.UserService/GetAuthenticatedUser                            U    U    U    U    O    O    O    O    O    O    O    O    O    P    P    U
gitpod.v1.UserService/GetUser                                         U    U    U    U    N    O    O    O    O    O    O    O    O    P    P    U
gitpod.v1.UserService/SetSuspended                                    U    U    U    U    X    X    X    X    X    X    X    X    P    X    X    U
gitpod.v1.UserService/DeleteUser                                      U    U    U    U    X    X    X    X    X    X    X    X    P    X    X    U
gitpod.v1.UserService/CreatePersonalAccessToken (for themselves)      U    U    U    U    O    O    O    O    O    O    O    O    P    P    P    U
gitpod.v1.UserService/CreatePersonalAccessToken (for the admin)       U    U    U    U    P    P    P    P    P    P    P    O    P    P    P    U
gitpod.v1.UserService/GetPersonalAccessToken                          U    U    U    U    N    N    N    N    N    N    N    O    O    P    P    U
gitpod.v1.UserService/ListPersonalAccessTokens                        U    U    U    U    O    O    O    O    O    O    O    O    O    P    P    U
gitpod.v1.UserService/DeletePersonalAccessToken                       U    U    U    U    N    N    N    N    N    N    N    O    P    P    P    U
gitpod.v1.UserService/SetPreference                                   U    U    U    U    X    X    X    X    X    X    X    X    P    X    X    U
gitpod.v1.UserService/GetPreference                                   U    U    U    U    X    X    X    X    X    X    X    X    X    X    X    U
gitpod.v1.UserService/ListPreferences                                 U    U    U    U    X    X    X    X    X    X    X    X    X    X    X    U
gitpod.v1.UserService/DeletePreference                                U    U    U    U    X    X    X    X    X    X    X    X    P    X    X    U
gitpod.v1.UserService/GetDotfilesConfiguration                        U    U    U    U    X    X    X    X    X    X    X    X    X    X    X    U
gitpod.v1.UserService/SetDotfilesConfiguration                        U    U    U    U    X    X    X    X    X    X    X    X    P    X    X    U
gitpod.v1.OrganizationService/GetOrganization                         U    U    U    U    N    O    O    O    O    O    O    O    O    O    O    U
gitpod.v1.OrganizationService/ListMembers                             U    U    U    U    N    O    O    O    O    O    O    O    O    P    P    U
gitpod.v1.OrganizationService/SetRole                                 U    U    U    U    N    P    P    P    P    P    P    O    P    P    P    U
paddock.v1.RunnerTokenService/ListRunnerTokens                        U    U    U    U    N    P    P    O    O    O    P    O    O    P    N    U
paddock.v1.RunnerTokenService/RevokeRunnerToken                       U    U    U    U    N    P    P    O    O    O    P    O    P    P    N    U
paddock.v1.RunnerTokenService/RotateRunnerToken                       U    U    U    U    N    P    P    O    O    O    P    O    P    P    N    U
paddock.v1.FleetService/GetFleetSummary                               U    U    U    U    O    O    O    O    O    O    O    O    O    P    P    U
paddock.v1.FleetService/DeleteRunners                                 U    U    U    U    N    P    P    O    O    O    P    O    P    P    P    U
paddock.v1.FleetService/ListFleetRunners                              U    U    U    U    O    O    O    O    O    O    O    O    O    P    P    U
paddock.v1.FleetService/RevokeRunnerCredentials                       U    U    U    U    N    P    P    O    O    O    P    O    P    P    P    U
grpc.health.v1.Health/Check                                           O    O    O    O    O    O    O    O    O    O    O    O    O    O    O    O
grpc.health.v1.Health/Watch                                           O    O    O    O    O    O    O    O    O    O    O    O    O    O    O    O
grpc.reflection.v1.ServerReflection/ServerReflectionInfo              O    O    O    O    O    O    O    O    O    O    O    O    O    O    O    O
grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo         O    O    O    O    O    O    O    O    O    O    O    O    O    O    O    O
";

/// The expected letters of each line of EXPECTED, by RPC (and case).
fn expected() -> Vec<(String, Vec<char>)> {
    EXPECTED
        .lines()
        .skip(2)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let (name, codes) = words.split_at(words.len() - CALLERS.len());
            let codes = codes
                .iter()
                .map(|c| {
                    c.chars()
                        .next()
                        .filter(|_| c.len() == 1)
                        .unwrap_or_else(|| panic!("{line}: {c}"))
                })
                .collect();
            (name.join(" "), codes)
        })
        .collect()
}

/// One letter per answer.
fn letter(code: Code) -> char {
    match code {
        Code::Ok => 'O',
        Code::Unauthenticated => 'U',
        Code::PermissionDenied => 'P',
        Code::NotFound => 'N',
        Code::Unimplemented => 'X',
        Code::FailedPrecondition => 'F',
        Code::InvalidArgument => 'I',
        Code::AlreadyExists => 'A',
        Code::Unavailable => 'V',
        other => panic!("no letter for {other:?}"),
    }
}

fn code_of(connect_code: &str) -> Code {
    match connect_code {
        "unauthenticated" => Code::Unauthenticated,
        "permission_denied" => Code::PermissionDenied,
        "not_found" => Code::NotFound,
        "unimplemented" => Code::Unimplemented,
        "failed_precondition" => Code::FailedPrecondition,
        "invalid_argument" => Code::InvalidArgument,
        "already_exists" => Code::AlreadyExists,
        "unavailable" => Code::Unavailable,
        other => panic!("unexpected Connect code {other}"),
    }
}

/// A runner and its own access token: the runner the "self" column is the
/// token of.
#[derive(Clone)]
struct Scene {
    runner_id: String,
    token: String,
}

struct World {
    server: TestServer,
    /// The runner every row acts on unless it makes its own: created by the
    /// creator, both groups hold their policy on it, signed up, with an
    /// environment class, an SCM integration, an LLM integration and a host
    /// token of the admin's.
    runner: Scene,
    creator: User,
    runner_users: String,
    runner_admins: String,
    environment_class_id: String,
    scm_integration_id: String,
    llm_integration_id: String,
    host_token_id: String,
    audit_entry_id: String,
    /// The bearer token of each caller but `Runner`, which is the scene's.
    tokens: Vec<Option<String>>,
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// How to call one RPC (or one case of it: "Rpc (case)") as any caller.
struct Row {
    rpc: &'static str,
    call: for<'a> fn(&'a World, Caller) -> BoxFuture<'a, Code>,
}

/// A unary row acting on the world's runner: the body is built per call.
macro_rules! unary {
    ($rpc:literal, |$w:ident| $body:expr) => {
        Row {
            rpc: $rpc,
            call: |$w, who| {
                Box::pin(async move {
                    let body: Value = $body;
                    $w.connect(who, None, $rpc, body).await
                })
            },
        }
    };
}

/// A unary row acting on a runner made for the call (`$scene`).
macro_rules! unary_on {
    ($rpc:literal, |$w:ident, $scene:ident| $body:expr) => {
        Row {
            rpc: $rpc,
            call: |$w, who| {
                Box::pin(async move {
                    let $scene = $w.fresh_runner().await;
                    let body: Value = $body;
                    $w.connect(who, Some(&$scene), $rpc, body).await
                })
            },
        }
    };
}

const P: Protocol = Protocol::Grpc;
const GITLAB: &str = "gitlab.example.com";

fn unique(prefix: &str) -> String {
    format!("{prefix} {}", uuid::Uuid::now_v7())
}

/// Asks reflection (of one version) for its services as `who`: the code.
macro_rules! list_services {
    ($name:ident, $version:ident) => {
        async fn $name(&self, who: Caller) -> Code {
            use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
            use tonic_reflection::pb::$version::{ServerReflectionRequest, server_reflection_request::MessageRequest};
            let transport = self
                .server
                .transport(Protocol::Grpc, self.token(who, None).as_deref())
                .await;
            let request = ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            };
            let mut reflection = ServerReflectionClient::new(transport);
            match reflection
                .server_reflection_info(tokio_stream::iter([request]))
                .await
            {
                Ok(replies) => grpc_code(replies.into_inner().message().await),
                Err(status) => status.code(),
            }
        }
    };
}

impl World {
    async fn new() -> World {
        // the SCM host's API is a closed port: calls that get past
        // authorization to it answer UNAVAILABLE without leaving the machine
        let server = TestServer::start_with(|settings| {
            settings
                .scm_api_urls
                .insert(GITLAB.into(), "http://127.0.0.1:9/api/v4".into());
            // the table fails to authenticate hundreds of times a second from
            // one address, and exchanges as many tokens: limits.rs tests those
            settings.limits.failed_auth_per_address = 0;
            settings.limits.failed_auth_per_token = 0;
            settings.limits.exchange_per_address = 0;
        })
        .await;
        let admin = server.admin.clone();
        let org = admin.organization_id;
        let other_org_admin = server.user_in("elsewhere", "olga", true).await;
        let member = server.member("mia").await;
        let creator = server.member("cara").await;
        let runner_user = server.member("ruth").await;
        let runner_admin = server.member("rae").await;
        let runners_admin = server.member("ora").await;
        let auditor = server.member("audrey").await;

        let (runner_id, runner_token) = server.runner_with_token(P, &creator, "the runner").await;
        let key = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
        server
            .interaction(P, &runner_token)
            .await
            .signup(pb::SignupRequest {
                public_key: key.public_key().as_bytes().to_vec(),
                environment_classes: vec![class("4 cores")],
            })
            .await
            .expect("signup");
        let (_, other_runner_token) = server.runner_with_token(P, &admin, "another runner").await;
        let exchange_token = server
            .runners(P, &admin.token)
            .await
            .create_runner(linux_runner("never exchanged"))
            .await
            .expect("runner")
            .into_inner()
            .exchange_token;

        let runner_users = server.group(org, "runner users", &[&runner_user]).await.to_string();
        let runner_admins = server.group(org, "runner admins", &[&runner_admin]).await.to_string();
        let fleet = server.group(org, "fleet", &[&runners_admin]).await;
        let auditors = server.group(org, "auditors", &[&auditor]).await;
        let mut groups = server.groups(P, &admin.token).await;
        for (group, role) in [
            (fleet, pb::ResourceRole::OrgRunnersAdmin),
            (auditors, pb::ResourceRole::OrgAuditLogReader),
        ] {
            groups
                .create_role_assignment(pb::CreateRoleAssignmentRequest {
                    group_id: group.to_string(),
                    resource_type: pb::ResourceType::Organization as i32,
                    resource_id: org.to_string(),
                    resource_role: role as i32,
                })
                .await
                .expect("org role");
        }

        let mut users = server.users(P, &admin.token).await;
        let read_only = users
            .create_personal_access_token(pb::CreatePersonalAccessTokenRequest {
                user_id: admin.id.to_string(),
                description: "read-only".into(),
                valid_for: None,
                read_only: true,
            })
            .await
            .expect("read-only token")
            .into_inner()
            .token;
        let revoked = revoked_token(&server, &member).await;
        let expired = server
            .users(P, &member.token)
            .await
            .create_personal_access_token(pb::CreatePersonalAccessTokenRequest {
                user_id: member.id.to_string(),
                description: "short-lived".into(),
                valid_for: Some(prost_types::Duration { seconds: 1, nanos: 0 }),
                read_only: false,
            })
            .await
            .expect("short-lived token")
            .into_inner()
            .token;
        let expires = tokio::time::Instant::now() + Duration::from_millis(1100);

        let mut world = World {
            server,
            runner: Scene {
                runner_id,
                token: runner_token,
            },
            creator,
            runner_users,
            runner_admins,
            environment_class_id: String::new(),
            scm_integration_id: String::new(),
            llm_integration_id: String::new(),
            host_token_id: String::new(),
            audit_entry_id: String::new(),
            tokens: vec![
                None,
                Some(format!("pdk_pat_{}", "A".repeat(43))),
                Some(revoked),
                Some(expired),
                Some(other_org_admin.token),
                Some(member.token),
                Some(runner_user.token),
                Some(runner_admin.token),
                Some(String::new()), // the creator's, set below
                Some(runners_admin.token),
                Some(auditor.token),
                Some(admin.token.clone()),
                Some(read_only),
                None, // the scene's runner
                Some(other_runner_token),
                Some(exchange_token),
            ],
        };
        world.tokens[8] = Some(world.creator.token.clone());
        world.grant_policies(&world.runner.runner_id.clone()).await;
        let runner = world.runner.runner_id.clone();
        world.environment_class_id = world
            .admin_call(
                "gitpod.v1.RunnerConfigurationService/ListEnvironmentClasses",
                json!({"filter": {"runnerIds": [runner]}}),
            )
            .await["environmentClasses"][0]["id"]
            .as_str()
            .expect("environment class")
            .to_owned();
        world.scm_integration_id = world.new_scm_integration(GITLAB).await;
        world.llm_integration_id = world.new_llm_integration().await;
        world.host_token_id = world.new_host_token(GITLAB).await;
        world.audit_entry_id = world
            .admin_call("gitpod.v1.EventService/ListAuditLogs", json!({}))
            .await["entries"][0]["id"]
            .as_str()
            .expect("an audit entry")
            .to_owned();
        tokio::time::sleep_until(expires).await;
        world
    }

    fn org(&self) -> String {
        self.server.admin.organization_id.to_string()
    }

    fn admin_id(&self) -> String {
        self.server.admin.id.to_string()
    }

    fn token(&self, who: Caller, scene: Option<&Scene>) -> Option<String> {
        match who {
            Caller::Runner => Some(scene.unwrap_or(&self.runner).token.clone()),
            other => {
                let column = CALLERS.iter().position(|c| *c == other).expect("a column");
                self.tokens[column].clone()
            }
        }
    }

    /// Calls `rpc` over Connect JSON as `who`: the code it answers.
    async fn connect(&self, who: Caller, scene: Option<&Scene>, rpc: &str, body: Value) -> Code {
        self.connect_answer(who, scene, rpc, body)
            .await
            .err()
            .unwrap_or(Code::Ok)
    }

    /// Calls `rpc` over Connect JSON as `who`: the answer, or its code.
    async fn connect_answer(&self, who: Caller, scene: Option<&Scene>, rpc: &str, body: Value) -> Result<Value, Code> {
        let token = self.token(who, scene);
        // a row's name may say which case of its RPC it is: "Rpc (case)"
        let path = rpc.split(' ').next().unwrap_or(rpc);
        let answer = Http::new(&self.server, token.as_deref())
            .json(&format!("/{path}"), body)
            .await;
        if answer.status.is_success() {
            return Ok(answer.json());
        }
        let error = answer.json();
        let code = error["code"]
            .as_str()
            .unwrap_or_else(|| panic!("{rpc}: no code in {error}"));
        Err(code_of(code))
    }

    /// Calls `rpc` as the organization admin; it must succeed.
    async fn admin_call(&self, rpc: &str, body: Value) -> Value {
        let answer = Http::new(&self.server, Some(&self.server.admin.token))
            .json(&format!("/{rpc}"), body)
            .await;
        assert!(answer.status.is_success(), "{rpc} as the admin: {:?}", answer.body);
        answer.json()
    }

    /// The runner-users group's RUNNER_ROLE_USER and the runner-admins
    /// group's RUNNER_ROLE_ADMIN on `runner_id`.
    async fn grant_policies(&self, runner_id: &str) {
        for (group, role) in [(&self.runner_users, 2), (&self.runner_admins, 1)] {
            self.admin_call(
                "gitpod.v1.RunnerService/CreateRunnerPolicy",
                json!({"runnerId": runner_id, "groupId": group, "role": role}),
            )
            .await;
        }
    }

    /// A runner like the world's (same creator, same policies) with its own
    /// access token, for a call that would spoil the world's runner.
    async fn fresh_runner(&self) -> Scene {
        let (runner_id, token) = self.server.runner_with_token(P, &self.creator, &unique("fresh")).await;
        self.grant_policies(&runner_id).await;
        Scene { runner_id, token }
    }

    async fn fresh_group(&self) -> String {
        self.server
            .group(self.server.admin.organization_id, &unique("g"), &[])
            .await
            .to_string()
    }

    /// An SCM integration of the world's runner, for `host`.
    async fn new_scm_integration(&self, host: &str) -> String {
        self.admin_call(
            "gitpod.v1.RunnerConfigurationService/CreateSCMIntegration",
            json!({"runnerId": self.runner.runner_id, "scmId": "gitlab", "host": host, "pat": true}),
        )
        .await["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    async fn new_llm_integration(&self) -> String {
        self.admin_call(
            "gitpod.v1.RunnerConfigurationService/CreateLLMIntegration",
            json!({"runnerId": self.runner.runner_id, "models": [8], "endpoint": "https://llm.example.com/v1", "apiKey": "sk-matrix", "maxTokens": 1024}),
        )
        .await["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// A host token of the admin's on the world's runner, for `host`.
    async fn new_host_token(&self, host: &str) -> String {
        self.admin_call(
            "gitpod.v1.RunnerConfigurationService/CreateHostAuthenticationToken",
            json!({"runnerId": self.runner.runner_id, "host": host, "token": "glpat-matrix", "source": 1,
                   "subject": {"id": self.admin_id(), "principal": 2}}),
        )
        .await["token"]["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// A personal access token of the admin's: its id.
    async fn admins_fresh_pat(&self) -> String {
        let description = unique("t");
        self.admin_call(
            "gitpod.v1.UserService/CreatePersonalAccessToken",
            json!({"userId": self.admin_id(), "description": description}),
        )
        .await;
        let mut page = String::new();
        loop {
            let listed = self
                .admin_call(
                    "gitpod.v1.UserService/ListPersonalAccessTokens",
                    json!({"pagination": {"pageSize": 100, "token": page}}),
                )
                .await;
            let tokens = listed["personalAccessTokens"].as_array().expect("tokens");
            if let Some(token) = tokens.iter().find(|t| t["description"] == description.as_str()) {
                return token["id"].as_str().expect("id").to_owned();
            }
            page = listed["pagination"]["nextToken"]
                .as_str()
                .expect("the new token is listed")
                .to_owned();
        }
    }

    /// A fresh access token of the world's runner (from a new exchange
    /// token): its id.
    async fn runners_fresh_token(&self) -> String {
        let exchange = self
            .admin_call(
                "gitpod.v1.RunnerService/CreateRunnerToken",
                json!({"runnerId": self.runner.runner_id}),
            )
            .await["exchangeToken"]
            .as_str()
            .expect("exchange token")
            .to_owned();
        let listed = self
            .admin_call(
                "paddock.v1.RunnerTokenService/ListRunnerTokens",
                json!({"runnerId": self.runner.runner_id, "pagination": {"pageSize": 100}}),
            )
            .await;
        drop(exchange);
        listed["tokens"]
            .as_array()
            .expect("tokens")
            .iter()
            .rfind(|t| t["kind"] == "RUNNER_TOKEN_KIND_EXCHANGE")
            .expect("the new exchange token")["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// A new group holding RUNNER_ROLE_USER on the world's runner: its id.
    async fn fresh_policy(&self) -> String {
        let group = self.fresh_group().await;
        self.admin_call(
            "gitpod.v1.RunnerService/CreateRunnerPolicy",
            json!({"runnerId": self.runner.runner_id, "groupId": group, "role": 2}),
        )
        .await;
        group
    }

    /// A new group with the admin as its member: the group's and the membership's ids.
    async fn fresh_membership(&self) -> (String, String) {
        let group = self.fresh_group().await;
        let membership = self
            .admin_call(
                "gitpod.v1.GroupService/CreateMembership",
                json!({"groupId": group, "subject": {"id": self.admin_id(), "principal": 2}}),
            )
            .await["member"]["id"]
            .as_str()
            .expect("membership id")
            .to_owned();
        (group, membership)
    }

    /// A new group's role assignment on a resource: its id.
    async fn fresh_assignment(&self, resource_type: i32, resource_id: String, role: i32) -> String {
        let group = self.fresh_group().await;
        self.admin_call(
            "gitpod.v1.GroupService/CreateRoleAssignment",
            json!({"groupId": group, "resourceType": resource_type, "resourceId": resource_id, "resourceRole": role}),
        )
        .await["assignment"]["id"]
            .as_str()
            .expect("assignment id")
            .to_owned()
    }

    /// A runner's exchange token, not yet exchanged.
    async fn fresh_exchange_token(&self) -> String {
        self.admin_call(
            "gitpod.v1.RunnerService/CreateRunner",
            json!({"name": unique("to exchange"), "provider": 2}),
        )
        .await["exchangeToken"]
            .as_str()
            .expect("exchange token")
            .to_owned()
    }

    /// The user `who` is, or the nil id when they are none.
    async fn caller_id(&self, who: Caller) -> String {
        let token = self.token(who, None);
        let answer = Http::new(&self.server, token.as_deref())
            .json("/gitpod.v1.IdentityService/GetAuthenticatedIdentity", json!({}))
            .await;
        let identity = if answer.status.is_success() {
            answer.json()
        } else {
            json!({})
        };
        match identity["subject"]["principal"].as_str() {
            Some("PRINCIPAL_USER") => identity["subject"]["id"].as_str().expect("id").to_owned(),
            _ => uuid::Uuid::nil().to_string(),
        }
    }

    list_services!(list_services_v1, v1);
    list_services!(list_services_v1alpha, v1alpha);

    async fn fresh_member(&self) -> String {
        self.server.member(&unique("m")).await.id.to_string()
    }
}

/// A personal access token of `user`'s that they then deleted.
async fn revoked_token(server: &TestServer, user: &User) -> String {
    let mut users = server.users(P, &user.token).await;
    let token = users
        .create_personal_access_token(pb::CreatePersonalAccessTokenRequest {
            user_id: user.id.to_string(),
            description: "to be revoked".into(),
            valid_for: None,
            read_only: false,
        })
        .await
        .expect("token")
        .into_inner()
        .token;
    let id = users
        .list_personal_access_tokens(pb::ListPersonalAccessTokensRequest::default())
        .await
        .expect("list")
        .into_inner()
        .personal_access_tokens
        .into_iter()
        .find(|t| t.description == "to be revoked")
        .expect("listed")
        .id;
    users
        .delete_personal_access_token(pb::DeletePersonalAccessTokenRequest {
            personal_access_token_id: id,
        })
        .await
        .expect("revoke");
    token
}

fn unique_host() -> String {
    format!("{}.example.com", uuid::Uuid::now_v7())
}

/// A runner's public key, base64 as Connect JSON spells bytes.
fn public_key() -> String {
    use base64::Engine;
    let key = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
    base64::engine::general_purpose::STANDARD.encode(key.public_key().as_bytes())
}

/// The code a gRPC call answered: streams answer when their headers arrive.
fn grpc_code<T>(result: Result<T, tonic::Status>) -> Code {
    match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

fn rows() -> Vec<Row> {
    vec![
        // RunnerService
        unary!(
            "gitpod.v1.RunnerService/CreateRunner",
            |w| json!({"name": unique("new"), "provider": 2})
        ),
        unary!(
            "gitpod.v1.RunnerService/GetRunner",
            |w| json!({"runnerId": w.runner.runner_id})
        ),
        unary!("gitpod.v1.RunnerService/ListRunners", |w| json!({})),
        unary!(
            "gitpod.v1.RunnerService/UpdateRunner",
            |w| json!({"runnerId": w.runner.runner_id, "name": unique("renamed")})
        ),
        unary_on!(
            "gitpod.v1.RunnerService/DeleteRunner",
            |w, s| json!({"runnerId": s.runner_id})
        ),
        unary_on!(
            "gitpod.v1.RunnerService/CreateRunnerToken",
            |w, s| json!({"runnerId": s.runner_id})
        ),
        unary!(
            "gitpod.v1.RunnerService/CreateRunnerLogsToken",
            |w| json!({"runnerId": w.runner.runner_id})
        ),
        unary!(
            "gitpod.v1.RunnerService/ParseContextURL",
            |w| json!({"runnerId": w.runner.runner_id, "contextUrl": format!("https://{GITLAB}/group/project")})
        ),
        unary!(
            "gitpod.v1.RunnerService/SearchRepositories",
            |w| json!({"runnerId": w.runner.runner_id, "scmHost": GITLAB, "searchString": "project"})
        ),
        unary!(
            "gitpod.v1.RunnerService/ListSCMOrganizations",
            |w| json!({"runnerId": w.runner.runner_id, "scmHost": GITLAB})
        ),
        unary!(
            "gitpod.v1.RunnerService/CheckAuthenticationForHost",
            |w| json!({"runnerId": w.runner.runner_id, "host": GITLAB})
        ),
        unary!(
            "gitpod.v1.RunnerService/CheckRepositoryAccess",
            |w| json!({"runnerId": w.runner.runner_id, "repositoryUrl": format!("https://{GITLAB}/group/project")})
        ),
        unary!(
            "gitpod.v1.RunnerService/ListRunnerPolicies",
            |w| json!({"runnerId": w.runner.runner_id})
        ),
        unary!(
            "gitpod.v1.RunnerService/CreateRunnerPolicy",
            |w| json!({"runnerId": w.runner.runner_id, "groupId": w.fresh_group().await, "role": 2})
        ),
        unary!(
            "gitpod.v1.RunnerService/UpdateRunnerPolicy",
            |w| json!({"runnerId": w.runner.runner_id, "groupId": w.fresh_policy().await, "role": 1})
        ),
        unary!(
            "gitpod.v1.RunnerService/DeleteRunnerPolicy",
            |w| json!({"runnerId": w.runner.runner_id, "groupId": w.fresh_policy().await})
        ),
        // RunnerConfigurationService
        unary!(
            "gitpod.v1.RunnerConfigurationService/CreateHostAuthenticationToken",
            |w| json!({"runnerId": w.runner.runner_id, "host": unique_host(), "token": "glpat-own", "source": 1})
        ),
        unary!(
            "gitpod.v1.RunnerConfigurationService/GetHostAuthenticationToken",
            |w| json!({"id": w.host_token_id})
        ),
        unary!(
            "gitpod.v1.RunnerConfigurationService/ListHostAuthenticationTokens",
            |w| json!({"filter": {"runnerId": w.runner.runner_id}})
        ),
        unary!(
            "gitpod.v1.RunnerConfigurationService/UpdateHostAuthenticationToken",
            |w| json!({"id": w.host_token_id, "token": "glpat-updated"})
        ),
        unary!(
            "gitpod.v1.RunnerConfigurationService/DeleteHostAuthenticationToken",
            |w| json!({"id": w.new_host_token(&unique_host()).await})
        ),
        unary!(
            "gitpod.v1.RunnerConfigurationService/GetRunnerConfigurationSchema",
            |w| json!({"runnerId": w.runner.runner_id})
        ),
        unary!(
            "gitpod.v1.RunnerConfigurationService/CreateSCMIntegration",
            |w| json!({"runnerId": w.runner.runner_id, "scmId": "gitlab", "host": unique_host(), "pat": true})
        ),
        unary!(
            "gitpod.v1.RunnerConfigurationService/GetSCMIntegration",
            |w| json!({"id": w.scm_integration_id})
        ),
        unary!(
            "gitpod.v1.RunnerConfigurationService/ListSCMIntegrations",
            |w| json!({"filter": {"runnerIds": [w.runner.runner_id]}})
        ),
        unary!(
            "gitpod.v1.RunnerConfigurationService/UpdateSCMIntegration",
            |w| json!({"id": w.scm_integration_id, "pat": true})
        ),
        unary!(
            "gitpod.v1.RunnerConfigurationService/DeleteSCMIntegration",
            |w| json!({"id": w.new_scm_integration(&unique_host()).await})
        ),
        unary!(
            "gitpod.v1.RunnerConfigurationService/CreateEnvironmentClass",
            |w| json!({"runnerId": w.runner.runner_id, "displayName": unique("class"), "description": "2 cores", "configuration": [{"key": "cpu", "value": "2"}]})
        ),
        unary!(
            "gitpod.v1.RunnerConfigurationService/GetEnvironmentClass",
            |w| json!({"environmentClassId": w.environment_class_id})
        ),
        unary!(
            "gitpod.v1.RunnerConfigurationService/ListEnvironmentClasses",
            |w| json!({"filter": {"runnerIds": [w.runner.runner_id]}})
        ),
        unary!(
            "gitpod.v1.RunnerConfigurationService/UpdateEnvironmentClass",
            |w| json!({"environmentClassId": w.environment_class_id, "description": unique("now")})
        ),
        unary!(
            "gitpod.v1.RunnerConfigurationService/ValidateRunnerConfiguration",
            |w| json!({"runnerId": w.runner.runner_id, "environmentClass": {"displayName": "8 cores", "configuration": [{"key": "cpu", "value": "8"}]}})
        ),
        unary!(
            "gitpod.v1.RunnerConfigurationService/CreateLLMIntegration",
            |w| json!({"runnerId": w.runner.runner_id, "models": [8], "endpoint": "https://llm.example.com/v1", "apiKey": "sk-matrix-2", "maxTokens": 1024})
        ),
        unary!(
            "gitpod.v1.RunnerConfigurationService/GetLLMIntegration",
            |w| json!({"id": w.llm_integration_id})
        ),
        unary!(
            "gitpod.v1.RunnerConfigurationService/ListLLMIntegrations",
            |w| json!({"filter": {"runnerIds": [w.runner.runner_id]}})
        ),
        unary!(
            "gitpod.v1.RunnerConfigurationService/UpdateLLMIntegration",
            |w| json!({"id": w.llm_integration_id, "maxTokens": 2048})
        ),
        unary!(
            "gitpod.v1.RunnerConfigurationService/DeleteLLMIntegration",
            |w| json!({"id": w.new_llm_integration().await})
        ),
        // IdentityService
        unary!(
            "gitpod.v1.IdentityService/GetIDToken",
            |w| json!({"audience": ["https://aud.example.com"]})
        ),
        unary!("gitpod.v1.IdentityService/GetAuthenticatedIdentity", |w| json!({})),
        unary!(
            "gitpod.v1.IdentityService/ExchangeToken",
            |w| json!({"exchangeToken": w.fresh_exchange_token().await})
        ),
        // RunnerInteractionService: the runner's own calls
        unary_on!(
            "gitpod.v1.RunnerInteractionService/Signup",
            |w, s| json!({"publicKey": public_key()})
        ),
        unary!(
            "gitpod.v1.RunnerInteractionService/MarkRunnerActive",
            |w| json!({"runnerId": w.runner.runner_id})
        ),
        unary!(
            "gitpod.v1.RunnerInteractionService/UpdateRunnerStatus",
            |w| json!({"runnerId": w.runner.runner_id, "version": "1.0.0"})
        ),
        unary!(
            "gitpod.v1.RunnerInteractionService/GetLatestVersion",
            |w| json!({"runnerId": w.runner.runner_id, "currentVersion": "0.0.1"})
        ),
        unary!(
            "gitpod.v1.RunnerInteractionService/ListRunnerEnvironmentClasses",
            |w| json!({"runnerId": w.runner.runner_id})
        ),
        unary!(
            "gitpod.v1.RunnerInteractionService/ListRunnerSCMIntegrations",
            |w| json!({"runnerId": w.runner.runner_id})
        ),
        unary!(
            "gitpod.v1.RunnerInteractionService/GetHostAuthenticationTokenValue",
            |w| json!({"runnerId": w.runner.runner_id, "host": GITLAB, "principalId": w.admin_id()})
        ),
        unary!(
            "gitpod.v1.RunnerInteractionService/UpdateRunnerConfigurationSchema",
            |w| json!({"runnerId": w.runner.runner_id, "configSchema": {"version": unique("v")}})
        ),
        // EventService
        Row {
            rpc: "gitpod.v1.EventService/WatchEvents",
            call: |w, who| {
                Box::pin(async move {
                    let transport = w.server.transport(Protocol::Grpc, w.token(who, None).as_deref()).await;
                    let mut events = EventServiceClient::new(transport);
                    grpc_code(
                        events
                            .watch_events(pb::WatchEventsRequest {
                                scope: Some(pb::watch_events_request::Scope::Organization(true)),
                                resource_type_filters: vec![],
                            })
                            .await,
                    )
                })
            },
        },
        unary!("gitpod.v1.EventService/ListAuditLogs", |w| json!({})),
        unary!(
            "gitpod.v1.EventService/GetAuditLog",
            |w| json!({"auditLogEntryId": w.audit_entry_id})
        ),
        // GroupService
        unary!(
            "gitpod.v1.GroupService/CreateGroup",
            |w| json!({"organizationId": w.org(), "name": unique("new")})
        ),
        unary!("gitpod.v1.GroupService/GetGroup", |w| json!({"id": w.runner_admins})),
        unary!("gitpod.v1.GroupService/ListGroups", |w| json!({})),
        unary!(
            "gitpod.v1.GroupService/UpdateGroup",
            |w| json!({"groupId": w.fresh_group().await, "name": unique("renamed")})
        ),
        unary!(
            "gitpod.v1.GroupService/DeleteGroup",
            |w| json!({"groupId": w.fresh_group().await})
        ),
        unary!(
            "gitpod.v1.GroupService/CreateMembership",
            |w| json!({"groupId": w.fresh_group().await, "subject": {"id": w.admin_id(), "principal": 2}})
        ),
        unary!(
            "gitpod.v1.GroupService/DeleteMembership",
            |w| json!({"membershipId": w.fresh_membership().await.1})
        ),
        unary!(
            "gitpod.v1.GroupService/GetMembership",
            |w| json!({"groupId": w.fresh_membership().await.0, "subject": {"id": w.admin_id(), "principal": 2}})
        ),
        unary!(
            "gitpod.v1.GroupService/ListMemberships",
            |w| json!({"groupId": w.runner_admins})
        ),
        unary!(
            "gitpod.v1.GroupService/CreateRoleAssignment (on the runner)",
            |w| json!({"groupId": w.fresh_group().await, "resourceType": 2, "resourceId": w.runner.runner_id, "resourceRole": 17})
        ),
        unary!(
            "gitpod.v1.GroupService/CreateRoleAssignment (on the organization)",
            |w| json!({"groupId": w.fresh_group().await, "resourceType": 7, "resourceId": w.org(), "resourceRole": 64})
        ),
        unary!("gitpod.v1.GroupService/ListRoleAssignments", |w| json!({})),
        unary!(
            "gitpod.v1.GroupService/DeleteRoleAssignment (on the runner)",
            |w| json!({"assignmentId": w.fresh_assignment(2, w.runner.runner_id.clone(), 17).await})
        ),
        unary!(
            "gitpod.v1.GroupService/DeleteRoleAssignment (on the organization)",
            |w| json!({"assignmentId": w.fresh_assignment(7, w.org(), 64).await})
        ),
        unary!(
            "gitpod.v1.GroupService/ShareResourceWithPrincipal",
            |w| json!({"resourceType": 2, "resourceId": w.runner.runner_id, "principal": 2, "principalId": w.fresh_member().await, "role": 17})
        ),
        unary!(
            "gitpod.v1.GroupService/UnshareResourceWithPrincipal",
            |w| json!({"resourceType": 2, "resourceId": w.runner.runner_id, "principal": 2, "principalId": w.fresh_member().await})
        ),
        // UserService
        unary!("gitpod.v1.UserService/GetAuthenticatedUser", |w| json!({})),
        unary!("gitpod.v1.UserService/GetUser", |w| json!({"userId": w.admin_id()})),
        unary!(
            "gitpod.v1.UserService/SetSuspended",
            |w| json!({"userId": w.fresh_member().await, "suspended": true})
        ),
        unary!(
            "gitpod.v1.UserService/DeleteUser",
            |w| json!({"userId": w.fresh_member().await})
        ),
        Row {
            rpc: "gitpod.v1.UserService/CreatePersonalAccessToken (for themselves)",
            call: |w, who| {
                Box::pin(async move {
                    let user_id = w.caller_id(who).await;
                    w.connect(
                        who,
                        None,
                        "gitpod.v1.UserService/CreatePersonalAccessToken",
                        json!({"userId": user_id, "description": unique("own")}),
                    )
                    .await
                })
            },
        },
        unary!(
            "gitpod.v1.UserService/CreatePersonalAccessToken (for the admin)",
            |w| json!({"userId": w.admin_id(), "description": unique("theirs")})
        ),
        unary!(
            "gitpod.v1.UserService/GetPersonalAccessToken",
            |w| json!({"personalAccessTokenId": w.admins_fresh_pat().await})
        ),
        unary!("gitpod.v1.UserService/ListPersonalAccessTokens", |w| json!({})),
        unary!(
            "gitpod.v1.UserService/DeletePersonalAccessToken",
            |w| json!({"personalAccessTokenId": w.admins_fresh_pat().await})
        ),
        unary!(
            "gitpod.v1.UserService/SetPreference",
            |w| json!({"key": "theme", "value": "dark"})
        ),
        unary!(
            "gitpod.v1.UserService/GetPreference",
            |w| json!({"preferenceKey": "theme"})
        ),
        unary!("gitpod.v1.UserService/ListPreferences", |w| json!({})),
        unary!(
            "gitpod.v1.UserService/DeletePreference",
            |w| json!({"userPreferenceId": uuid::Uuid::now_v7().to_string()})
        ),
        unary!("gitpod.v1.UserService/GetDotfilesConfiguration", |w| json!({})),
        unary!(
            "gitpod.v1.UserService/SetDotfilesConfiguration",
            |w| json!({"repository": "https://github.com/a/dotfiles"})
        ),
        // OrganizationService
        unary!(
            "gitpod.v1.OrganizationService/GetOrganization",
            |w| json!({"organizationId": w.org()})
        ),
        unary!(
            "gitpod.v1.OrganizationService/ListMembers",
            |w| json!({"organizationId": w.org()})
        ),
        unary!(
            "gitpod.v1.OrganizationService/SetRole",
            |w| json!({"organizationId": w.org(), "userId": w.fresh_member().await, "role": 2})
        ),
        // paddock.v1.RunnerTokenService
        unary!(
            "paddock.v1.RunnerTokenService/ListRunnerTokens",
            |w| json!({"runnerId": w.runner.runner_id})
        ),
        unary!(
            "paddock.v1.RunnerTokenService/RevokeRunnerToken",
            |w| json!({"tokenId": w.runners_fresh_token().await})
        ),
        unary_on!(
            "paddock.v1.RunnerTokenService/RotateRunnerToken",
            |w, s| json!({"runnerId": s.runner_id})
        ),
        // paddock.v1.FleetService
        unary!("paddock.v1.FleetService/GetFleetSummary", |w| json!({})),
        unary!(
            "paddock.v1.FleetService/ListFleetRunners",
            |w| json!({"filter": {"states": ["FLEET_STATE_NEVER_CONNECTED"], "search": "a"}})
        ),
        Row {
            // what became of the one runner named, as DeleteRunner would answer
            rpc: "paddock.v1.FleetService/DeleteRunners",
            call: |w, who| {
                Box::pin(async move {
                    let scene = w.fresh_runner().await;
                    let body = json!({"runnerIds": [scene.runner_id], "force": true});
                    let rpc = "paddock.v1.FleetService/DeleteRunners";
                    match w.connect_answer(who, Some(&scene), rpc, body).await {
                        Ok(answer) => Code::from(answer["deletions"][0]["code"].as_i64().unwrap_or(0) as i32),
                        Err(code) => code,
                    }
                })
            },
        },
        Row {
            // what became of the one runner named, as RevokeRunnerToken would answer
            rpc: "paddock.v1.FleetService/RevokeRunnerCredentials",
            call: |w, who| {
                Box::pin(async move {
                    let scene = w.fresh_runner().await;
                    let body = json!({"runnerIds": [scene.runner_id]});
                    let rpc = "paddock.v1.FleetService/RevokeRunnerCredentials";
                    match w.connect_answer(who, Some(&scene), rpc, body).await {
                        Ok(answer) => Code::from(answer["revocations"][0]["code"].as_i64().unwrap_or(0) as i32),
                        Err(code) => code,
                    }
                })
            },
        },
        // health and reflection: open to everyone, whatever token comes along
        unary!("grpc.health.v1.Health/Check", |w| json!({})),
        Row {
            rpc: "grpc.health.v1.Health/Watch",
            call: |w, who| {
                Box::pin(async move {
                    let transport = w.server.transport(Protocol::Grpc, w.token(who, None).as_deref()).await;
                    let mut health = tonic_health::pb::health_client::HealthClient::new(transport);
                    grpc_code(
                        health
                            .watch(tonic_health::pb::HealthCheckRequest { service: String::new() })
                            .await,
                    )
                })
            },
        },
        Row {
            rpc: "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            call: |w, who| Box::pin(async move { w.list_services_v1(who).await }),
        },
        Row {
            rpc: "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            call: |w, who| Box::pin(async move { w.list_services_v1alpha(who).await }),
        },
    ]
}

/// The RPCs the server serves, as "package.Service/Method", read through
/// gRPC reflection and the descriptors it hands out.
async fn served_rpcs(server: &TestServer) -> Vec<String> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let channel = tonic::transport::Endpoint::from_shared(server.url())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut reflection = ServerReflectionClient::new(channel);
    let ask = |request: MessageRequest| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let answer = |reply: Option<MessageResponse>| reply.expect("an answer");
    let mut replies = reflection
        .server_reflection_info(tokio_stream::iter([ask(MessageRequest::ListServices(String::new()))]))
        .await
        .expect("reflection")
        .into_inner();
    let services: Vec<String> = match answer(replies.message().await.expect("reply").and_then(|r| r.message_response)) {
        MessageResponse::ListServicesResponse(list) => list.service.into_iter().map(|s| s.name).collect(),
        other => panic!("unexpected {other:?}"),
    };
    // each service's file, then the files they import, asked for by name as
    // reflection clients do
    let mut files = std::collections::BTreeMap::new();
    let mut wanted: Vec<MessageRequest> = services
        .iter()
        .map(|s| MessageRequest::FileContainingSymbol(s.clone()))
        .collect();
    while let Some(request) = wanted.pop() {
        let mut replies = reflection
            .server_reflection_info(tokio_stream::iter([ask(request)]))
            .await
            .expect("reflection")
            .into_inner();
        let described = match answer(replies.message().await.expect("reply").and_then(|r| r.message_response)) {
            MessageResponse::FileDescriptorResponse(files) => files.file_descriptor_proto,
            other => panic!("unexpected {other:?}"),
        };
        for file in described {
            let file =
                <prost_types::FileDescriptorProto as prost::Message>::decode(file.as_slice()).expect("descriptor");
            for import in &file.dependency {
                if !files.contains_key(import) {
                    wanted.push(MessageRequest::FileByFilename(import.clone()));
                }
            }
            files.insert(file.name().to_owned(), file);
        }
    }
    let mut pool = prost_reflect::DescriptorPool::new();
    pool.add_file_descriptor_protos(files.into_values())
        .expect("a consistent schema");
    let mut rpcs = Vec::new();
    for service in &services {
        let descriptor = pool
            .get_service_by_name(service)
            .unwrap_or_else(|| panic!("reflection lists {service} but describes no such service"));
        rpcs.extend(descriptor.methods().map(|m| format!("{service}/{}", m.name())));
    }
    rpcs.sort();
    rpcs
}

/// The RPC a row or a line of the table is about, without its case.
fn rpc_of(name: &str) -> &str {
    name.split(' ').next().unwrap_or(name)
}

#[tokio::test]
async fn every_rpc_answers_every_caller_as_its_role_allows() {
    let world = World::new().await;
    let rows = rows();
    let expected = expected();
    let served = served_rpcs(&world.server).await;

    let mut gaps = Vec::new();
    for rpc in &served {
        if !rows.iter().any(|row| rpc_of(row.rpc) == rpc) {
            gaps.push(format!("{rpc} is served but has no row: say how to call it"));
        }
    }
    for row in &rows {
        if !served.iter().any(|rpc| rpc == rpc_of(row.rpc)) {
            gaps.push(format!("{} has a row but is not served", row.rpc));
        }
        if !expected.iter().any(|(name, _)| name == row.rpc) {
            gaps.push(format!("{} has no line in EXPECTED: say who may call it", row.rpc));
        }
    }
    for (name, _) in &expected {
        if !rows.iter().any(|row| row.rpc == name) {
            gaps.push(format!("{name} is in EXPECTED but has no row"));
        }
    }
    assert!(
        gaps.is_empty(),
        "the table does not cover what is served:\n{}",
        gaps.join("\n")
    );

    let mut answered = Vec::new();
    let mut wrong = Vec::new();
    let mut cells = 0;
    for row in &rows {
        let (_, codes) = expected
            .iter()
            .find(|(name, _)| name == row.rpc)
            .expect("checked above");
        let mut line = format!("{:66}", row.rpc);
        for (column, who) in CALLERS.iter().enumerate() {
            let got = letter((row.call)(&world, *who).await);
            cells += 1;
            if got != codes[column] {
                wrong.push(format!("{} as {who:?}: {got}, expected {}", row.rpc, codes[column]));
            }
            line.push_str(&format!("{got:5}"));
        }
        answered.push(line.trim_end().to_owned());
    }
    assert!(
        wrong.is_empty(),
        "{} of {cells} cells differ:\n{}\n\nwhat was answered:\n{}\n{}",
        wrong.len(),
        wrong.join("\n"),
        EXPECTED.lines().nth(1).unwrap_or_default(),
        answered.join("\n")
    );
    eprintln!(
        "{} RPCs served, {} rows × {} callers: {cells} calls answered as the table says",
        served.len(),
        rows.len(),
        CALLERS.len()
    );
    world.server.stop().await;
}
