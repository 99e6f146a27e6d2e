//! The audit log: every successful change — by a user, a runner or the admin
//! CLI — leaves exactly one entry naming who, what and which; handing out a
//! credential leaves a CREDENTIAL_ACCESS entry; a failed call leaves none.
//! Only organization admins read it.

use tonic::Code;
use uuid::Uuid;

use crate::harness::*;

type Entry = pb::list_audit_logs_response::AuditLogEntry;

const CHANGE: i32 = pb::AuditLogEntryKind::ResourceChange as i32;
const CREDENTIAL: i32 = pb::AuditLogEntryKind::CredentialAccess as i32;
const USER: i32 = pb::Principal::User as i32;
const RUNNER: i32 = pb::Principal::Runner as i32;

async fn events(server: &TestServer) -> EventServiceClient<Transport> {
    server.events(Protocol::Grpc, &server.admin.token).await
}

/// The whole log, oldest first.
async fn log(server: &TestServer) -> Vec<Entry> {
    let mut api = events(server).await;
    let mut entries = Vec::new();
    let mut token = String::new();
    loop {
        let page = api
            .list_audit_logs(pb::ListAuditLogsRequest {
                pagination: Some(pb::PaginationRequest {
                    token: token.clone(),
                    page_size: 100,
                }),
                filter: None,
                sort: Some(pb::Sort {
                    field: "created_at".into(),
                    order: pb::SortOrder::Asc as i32,
                }),
            })
            .await
            .unwrap()
            .into_inner();
        entries.extend(page.entries);
        token = page.pagination.unwrap().next_token;
        if token.is_empty() {
            return entries;
        }
    }
}

/// Follows the log: each step asserts what the calls since the last step wrote.
struct Follower {
    seen: usize,
}

impl Follower {
    async fn new(server: &TestServer) -> Follower {
        Follower {
            seen: log(server).await.len(),
        }
    }

    /// Exactly one new entry, which is returned.
    async fn one(&mut self, server: &TestServer) -> Entry {
        let all = log(server).await;
        let new = &all[self.seen..];
        assert_eq!(new.len(), 1, "exactly one entry: {new:#?}");
        self.seen = all.len();
        new[0].clone()
    }

    async fn none(&mut self, server: &TestServer) {
        let all = log(server).await;
        assert_eq!(all.len(), self.seen, "no entry: {:#?}", &all[self.seen..]);
    }
}

#[track_caller]
fn check(entry: &Entry, action: &str, actor: (&str, i32), subject: (&str, pb::ResourceType), kind: i32) {
    assert_eq!(entry.action, action, "{entry:?}");
    assert_eq!((entry.actor_id.as_str(), entry.actor_principal), actor, "{entry:?}");
    assert_eq!(
        (entry.subject_id.as_str(), entry.subject_type),
        (subject.0, subject.1 as i32),
        "{entry:?}"
    );
    assert_eq!(entry.kind, kind, "{entry:?}");
    assert!(entry.created_at.is_some() && Uuid::parse_str(&entry.id).is_ok());
}

#[tokio::test]
async fn every_change_by_users_runners_and_the_cli_leaves_one_entry() {
    use pb::ResourceType as T;
    let server = TestServer::start().await;
    let admin = server.admin.id.to_string();
    let admin_actor = (admin.as_str(), USER);
    let mut follow = Follower::new(&server).await;
    let mut runners = server.runners(Protocol::Grpc, &server.admin.token).await;
    let mut config = server.configuration(Protocol::Grpc, &server.admin.token).await;

    // runners
    let created = runners
        .create_runner(linux_runner("audited"))
        .await
        .unwrap()
        .into_inner();
    let runner_id = created.runner.unwrap().runner_id;
    let e = follow.one(&server).await;
    check(&e, "runner.create", admin_actor, (&runner_id, T::Runner), CHANGE);

    runners
        .update_runner(pb::UpdateRunnerRequest {
            runner_id: runner_id.clone(),
            name: Some("audited again".into()),
            spec: None,
        })
        .await
        .unwrap();
    let e = follow.one(&server).await;
    check(&e, "runner.update", admin_actor, (&runner_id, T::Runner), CHANGE);

    // a failed call leaves nothing
    let err = runners
        .update_runner(pb::UpdateRunnerRequest {
            runner_id: runner_id.clone(),
            name: Some("x".into()),
            spec: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    follow.none(&server).await;

    let exchange_token = runners
        .create_runner_token(pb::CreateRunnerTokenRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .exchange_token;
    let e = follow.one(&server).await;
    check(
        &e,
        "runner.create_token",
        admin_actor,
        (&runner_id, T::Runner),
        CREDENTIAL,
    );
    assert!(!format!("{e:?}").contains(&exchange_token), "never the credential");

    // policies (a group's role on a runner: ROLE_ASSIGNMENT of the runner)
    let org = server.admin.organization_id;
    let group = server.group(org, "auditors", &[]).await.to_string();
    let e = follow.one(&server).await;
    check(
        &e,
        "group.create",
        (&Uuid::nil().to_string(), 0),
        (&group, T::Group),
        CHANGE,
    );
    let policy = pb::CreateRunnerPolicyRequest {
        runner_id: runner_id.clone(),
        group_id: group.clone(),
        role: pb::RunnerRole::User as i32,
    };
    runners.create_runner_policy(policy.clone()).await.unwrap();
    let e = follow.one(&server).await;
    check(
        &e,
        "runner_policy.create",
        admin_actor,
        (&runner_id, T::RoleAssignment),
        CHANGE,
    );
    let err = runners.create_runner_policy(policy).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    follow.none(&server).await;
    runners
        .update_runner_policy(pb::UpdateRunnerPolicyRequest {
            runner_id: runner_id.clone(),
            group_id: group.clone(),
            role: pb::RunnerRole::Admin as i32,
        })
        .await
        .unwrap();
    check(
        &follow.one(&server).await,
        "runner_policy.update",
        admin_actor,
        (&runner_id, T::RoleAssignment),
        CHANGE,
    );
    runners
        .delete_runner_policy(pb::DeleteRunnerPolicyRequest {
            runner_id: runner_id.clone(),
            group_id: group.clone(),
        })
        .await
        .unwrap();
    check(
        &follow.one(&server).await,
        "runner_policy.delete",
        admin_actor,
        (&runner_id, T::RoleAssignment),
        CHANGE,
    );

    // environment classes
    let class_id = config
        .create_environment_class(pb::CreateEnvironmentClassRequest {
            runner_id: runner_id.clone(),
            display_name: "Small".into(),
            description: "two cores".into(),
            configuration: vec![],
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    check(
        &follow.one(&server).await,
        "environment_class.create",
        admin_actor,
        (&class_id, T::EnvironmentClass),
        CHANGE,
    );
    config
        .update_environment_class(pb::UpdateEnvironmentClassRequest {
            environment_class_id: class_id.clone(),
            enabled: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    check(
        &follow.one(&server).await,
        "environment_class.update",
        admin_actor,
        (&class_id, T::EnvironmentClass),
        CHANGE,
    );

    // SCM integrations
    let scm_id = config
        .create_scm_integration(pb::CreateScmIntegrationRequest {
            runner_id: runner_id.clone(),
            scm_id: "gitlab".into(),
            host: "gitlab.com".into(),
            pat: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let scm = (scm_id.as_str(), T::RunnerScmIntegration);
    check(
        &follow.one(&server).await,
        "scm_integration.create",
        admin_actor,
        scm,
        CHANGE,
    );
    config
        .update_scm_integration(pb::UpdateScmIntegrationRequest {
            id: scm_id.clone(),
            virtual_directory: Some("tfs".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    check(
        &follow.one(&server).await,
        "scm_integration.update",
        admin_actor,
        scm,
        CHANGE,
    );
    config
        .delete_scm_integration(pb::DeleteScmIntegrationRequest { id: scm_id.clone() })
        .await
        .unwrap();
    check(
        &follow.one(&server).await,
        "scm_integration.delete",
        admin_actor,
        scm,
        CHANGE,
    );

    // LLM integrations
    let llm_id = config
        .create_llm_integration(pb::CreateLlmIntegrationRequest {
            runner_id: runner_id.clone(),
            models: vec![pb::SupportedModel::OpenaiO1 as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let llm = (llm_id.as_str(), T::RunnerLlmIntegration);
    check(
        &follow.one(&server).await,
        "llm_integration.create",
        admin_actor,
        llm,
        CHANGE,
    );
    config
        .update_llm_integration(pb::UpdateLlmIntegrationRequest {
            id: llm_id.clone(),
            phase: Some(pb::LlmIntegrationPhase::Disabled as i32),
            ..Default::default()
        })
        .await
        .unwrap();
    check(
        &follow.one(&server).await,
        "llm_integration.update",
        admin_actor,
        llm,
        CHANGE,
    );
    config
        .delete_llm_integration(pb::DeleteLlmIntegrationRequest {
            id: llm_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    check(
        &follow.one(&server).await,
        "llm_integration.delete",
        admin_actor,
        llm,
        CHANGE,
    );

    // the runner: its token, its sign-up, its reports
    let access = server
        .identity(Protocol::Grpc, None)
        .await
        .exchange_token(pb::ExchangeTokenRequest {
            exchange_token: exchange_token.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let as_runner = (runner_id.as_str(), RUNNER);
    let me = (runner_id.as_str(), T::Runner);
    check(
        &follow.one(&server).await,
        "runner.exchange_token",
        as_runner,
        me,
        CREDENTIAL,
    );
    let mut runner = server.interaction(Protocol::Grpc, &access).await;
    let key = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
    let signup = pb::SignupRequest {
        public_key: key.public_key().as_bytes().to_vec(),
        environment_classes: vec![],
    };
    runner.signup(signup.clone()).await.unwrap();
    check(&follow.one(&server).await, "runner.signup", as_runner, me, CHANGE);
    // signing up again changes nothing, and says nothing; leases are not changes
    runner.signup(signup).await.unwrap();
    runner
        .mark_runner_active(pb::MarkRunnerActiveRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap();
    follow.none(&server).await;
    runner
        .update_runner_status(pb::UpdateRunnerStatusRequest {
            runner_id: runner_id.clone(),
            version: Some("1.0".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    check(
        &follow.one(&server).await,
        "runner.update_status",
        as_runner,
        me,
        CHANGE,
    );
    runner
        .update_runner_configuration_schema(pb::UpdateRunnerConfigurationSchemaRequest {
            runner_id: runner_id.clone(),
            config_schema: Some(Default::default()),
        })
        .await
        .unwrap();
    check(
        &follow.one(&server).await,
        "runner.update_configuration_schema",
        as_runner,
        me,
        CHANGE,
    );

    // host tokens: created, handed to the runner (a credential), updated, deleted
    let token_id = config
        .create_host_authentication_token(pb::CreateHostAuthenticationTokenRequest {
            runner_id: runner_id.clone(),
            host: "github.com".into(),
            token: "ghp_never_in_the_log".into(),
            source: pb::HostAuthenticationTokenSource::Pat as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .token
        .unwrap()
        .id;
    let host_token = (token_id.as_str(), T::HostAuthenticationToken);
    check(
        &follow.one(&server).await,
        "host_authentication_token.create",
        admin_actor,
        host_token,
        CHANGE,
    );
    runner
        .get_host_authentication_token_value(pb::GetHostAuthenticationTokenValueRequest {
            runner_id: runner_id.clone(),
            host: "github.com".into(),
            principal_id: admin.clone(),
        })
        .await
        .unwrap();
    check(
        &follow.one(&server).await,
        "host_authentication_token.read_value",
        as_runner,
        host_token,
        CREDENTIAL,
    );
    config
        .update_host_authentication_token(pb::UpdateHostAuthenticationTokenRequest {
            id: token_id.clone(),
            scopes: vec!["repo".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    check(
        &follow.one(&server).await,
        "host_authentication_token.update",
        admin_actor,
        host_token,
        CHANGE,
    );
    config
        .delete_host_authentication_token(pb::DeleteHostAuthenticationTokenRequest { id: token_id.clone() })
        .await
        .unwrap();
    check(
        &follow.one(&server).await,
        "host_authentication_token.delete",
        admin_actor,
        host_token,
        CHANGE,
    );

    // deletion: asked by the admin, confirmed by the runner
    runners
        .delete_runner(pb::DeleteRunnerRequest {
            runner_id: runner_id.clone(),
            force: false,
        })
        .await
        .unwrap();
    check(&follow.one(&server).await, "runner.delete", admin_actor, me, CHANGE);
    runner
        .update_runner_status(pb::UpdateRunnerStatusRequest {
            runner_id: runner_id.clone(),
            phase: Some(pb::RunnerPhase::Deleted as i32),
            ..Default::default()
        })
        .await
        .unwrap();
    check(
        &follow.one(&server).await,
        "runner.delete_confirmed",
        as_runner,
        me,
        CHANGE,
    );

    // the admin CLI's users and memberships (its actor is nobody: the nil id)
    let bob = server.member("bob").await;
    let cli = (Uuid::nil().to_string(), 0);
    let bob_id = bob.id.to_string();
    check(
        &follow.one(&server).await,
        "user.create",
        (&cli.0, cli.1),
        (&bob_id, T::User),
        CHANGE,
    );
    paddock::server::admin::add_member(&server.state.db, group.parse().unwrap(), bob.id)
        .await
        .unwrap();
    check(
        &follow.one(&server).await,
        "group.add_member",
        (&cli.0, cli.1),
        (&group, T::GroupMembershipChanged),
        CHANGE,
    );
    paddock::server::admin::add_member(&server.state.db, group.parse().unwrap(), bob.id)
        .await
        .unwrap();
    follow.none(&server).await;

    // no secret anywhere in the log
    let all = format!("{:?}", log(&server).await);
    for secret in ["ghp_never_in_the_log", &exchange_token, &access] {
        assert!(!all.contains(secret));
    }
    server.stop().await;
}

#[tokio::test]
async fn filters_sorting_and_pagination() {
    use pb::ResourceType as T;
    let server = TestServer::start().await;
    let mut runners = server.runners(Protocol::Grpc, &server.admin.token).await;
    let alice = server.user_in(paddock::DEFAULT_ORGANIZATION, "alice", false).await;
    let before = chrono::Utc::now();
    let mut ids = Vec::new();
    for i in 0..5 {
        let created = runners
            .create_runner(linux_runner(&format!("runner {i}")))
            .await
            .unwrap()
            .into_inner();
        ids.push(created.runner.unwrap().runner_id);
    }
    let mut as_alice = server.runners(Protocol::Grpc, &alice.token).await;
    let alices = as_alice
        .create_runner(linux_runner("alice's"))
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id;
    let after = chrono::Utc::now() + chrono::Duration::milliseconds(2);

    let mut api = events(&server).await;
    let list = |filter: pb::list_audit_logs_request::Filter, order: pb::SortOrder, size: i32, token: String| {
        pb::ListAuditLogsRequest {
            pagination: Some(pb::PaginationRequest { token, page_size: size }),
            filter: Some(filter),
            sort: Some(pb::Sort {
                field: String::new(),
                order: order as i32,
            }),
        }
    };
    type F = pb::list_audit_logs_request::Filter;
    let subjects = |entries: &[Entry]| entries.iter().map(|e| e.subject_id.clone()).collect::<Vec<_>>();

    // by actor: alice's one entry
    let page = api
        .list_audit_logs(list(
            F {
                actor_ids: vec![alice.id.to_string()],
                ..Default::default()
            },
            pb::SortOrder::Unspecified,
            10,
            String::new(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(subjects(&page.entries), std::slice::from_ref(&alices));

    // runner entries in a time window, newest first by default, two a page
    let window = F {
        subject_types: vec![T::Runner as i32],
        actor_principals: vec![USER],
        from: Some(paddock::api::convert::timestamp(before)),
        to: Some(paddock::api::convert::timestamp(after)),
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = api
            .list_audit_logs(list(window.clone(), pb::SortOrder::Unspecified, 2, token))
            .await
            .unwrap()
            .into_inner();
        assert!(page.entries.len() <= 2);
        seen.extend(subjects(&page.entries));
        token = page.pagination.unwrap().next_token;
        if token.is_empty() {
            break;
        }
    }
    let mut newest_first = ids.clone();
    newest_first.push(alices.clone());
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    // oldest first; by subject
    let page = api
        .list_audit_logs(list(
            F {
                subject_ids: vec![ids[3].clone(), ids[1].clone()],
                ..Default::default()
            },
            pb::SortOrder::Asc,
            10,
            String::new(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(subjects(&page.entries), [ids[1].clone(), ids[3].clone()]);

    // a window in the future is empty
    let page = api
        .list_audit_logs(list(
            F {
                from: Some(paddock::api::convert::timestamp(after + chrono::Duration::hours(1))),
                ..Default::default()
            },
            pb::SortOrder::Asc,
            10,
            String::new(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(page.entries.is_empty());

    // GetAuditLog
    let first = page_of(&mut api).await;
    let got = api
        .get_audit_log(pb::GetAuditLogRequest {
            audit_log_entry_id: first.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.entry.unwrap(), first);
    server.stop().await;
}

async fn page_of(api: &mut EventServiceClient<Transport>) -> Entry {
    api.list_audit_logs(pb::ListAuditLogsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entries
        .remove(0)
}

protocol_tests!(only_organization_admins_read_the_log_and_bad_input_names_the_field);
async fn only_organization_admins_read_the_log_and_bad_input_names_the_field(protocol: Protocol) {
    let server = TestServer::start().await;
    server
        .runners(protocol, &server.admin.token)
        .await
        .create_runner(linux_runner("seen"))
        .await
        .unwrap();
    let member = server.member("carol").await;
    let mut as_member = server.events(protocol, &member.token).await;
    let err = as_member
        .list_audit_logs(pb::ListAuditLogsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let mut api = server.events(protocol, &server.admin.token).await;
    let entry = page_of(&mut api).await;
    let err = as_member
        .get_audit_log(pb::GetAuditLogRequest {
            audit_log_entry_id: entry.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let (_, runner_token) = server.runner_with_token(protocol, &server.admin, "reader").await;
    let err = server
        .events(protocol, &runner_token)
        .await
        .list_audit_logs(pb::ListAuditLogsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // another organization's admin sees none of it
    let other = server.user_in("elsewhere", "eve", true).await;
    let mut as_other = server.events(protocol, &other.token).await;
    let err = as_other
        .get_audit_log(pb::GetAuditLogRequest {
            audit_log_entry_id: entry.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let theirs = as_other
        .list_audit_logs(pb::ListAuditLogsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert!(theirs.iter().all(|e| e.subject_id != entry.subject_id));

    let err = api
        .list_audit_logs(pb::ListAuditLogsRequest {
            pagination: Some(pb::PaginationRequest {
                token: String::new(),
                page_size: 101,
            }),
            filter: Some(pb::list_audit_logs_request::Filter {
                actor_ids: vec!["nope".into()],
                actor_principals: vec![99],
                subject_ids: (0..26).map(|_| Uuid::now_v7().to_string()).collect(),
                subject_types: vec![-1],
                ..Default::default()
            }),
            sort: Some(pb::Sort {
                field: "name".into(),
                order: 7,
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&err),
        [
            "pagination.page_size",
            "filter.actor_ids[0]",
            "filter.subject_ids",
            "filter.actor_principals[0]",
            "filter.subject_types[0]",
            "sort.field",
            "sort.order"
        ]
    );
    let err = api
        .get_audit_log(pb::GetAuditLogRequest {
            audit_log_entry_id: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["audit_log_entry_id"]);
    server.stop().await;
}

/// Entries older than the retention go; newer ones stay.
#[tokio::test]
async fn retention_prunes_old_entries_in_batches() {
    let server = TestServer::start().await;
    let actor = paddock::base::capability::Actor {
        id: server.admin.id,
        principal: USER,
        organization_id: server.admin.organization_id,
    };
    for _ in 0..3 {
        paddock::store::audit::record(
            &server.state.db,
            &actor,
            paddock::store::audit::Change::resource(2, Uuid::now_v7(), "runner.update"),
        )
        .await
        .unwrap()
        .committed();
    }
    let existing = log(&server).await.len() as u64;
    // nothing is a day old yet
    let removed = paddock::fleet::audit_retention::prune(&server.state.db, std::time::Duration::from_secs(86_400))
        .await
        .unwrap();
    assert_eq!(removed, 0);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let removed = paddock::fleet::audit_retention::prune(&server.state.db, std::time::Duration::from_millis(10))
        .await
        .unwrap();
    assert_eq!(removed, existing, "the admin's and the three above");
    assert!(log(&server).await.is_empty());
    server.stop().await;
}
