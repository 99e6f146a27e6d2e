//! Every buf.validate rule of the reference for the RunnerService RPCs,
//! broken once each: INVALID_ARGUMENT naming the field, and nothing written.

use tonic::Code;

use crate::harness::*;

const BAD_UUID: &str = "d2c94c27-3b76-4a42-b88c-95a85e392c6"; // one digit short

/// A server with what must outlive the onslaught: three runners, the first
/// (the keeper) with a policy for a group.
struct Keepers {
    server: TestServer,
    api: RunnerServiceClient<Transport>,
    before: Vec<pb::Runner>,
    keeper: String,
    group: String,
}

async fn keepers(protocol: Protocol) -> Keepers {
    let server = TestServer::start().await;
    let mut api = server.runners(protocol, &server.admin.token).await;
    let mut before = Vec::new();
    for i in 0..3 {
        before.push(
            api.create_runner(linux_runner(&format!("keeper {i}")))
                .await
                .unwrap()
                .into_inner()
                .runner
                .unwrap(),
        );
    }
    let group = server
        .group(server.admin.organization_id, "group", &[])
        .await
        .to_string();
    let keeper = before[0].runner_id.clone();
    api.create_runner_policy(pb::CreateRunnerPolicyRequest {
        runner_id: keeper.clone(),
        group_id: group.clone(),
        role: pb::RunnerRole::User as i32,
    })
    .await
    .unwrap();
    Keepers {
        server,
        api,
        before,
        keeper,
        group,
    }
}

impl Keepers {
    /// Nothing was written, nothing was lost.
    async fn assert_untouched(mut self) {
        let after = self
            .api
            .list_runners(pb::ListRunnersRequest::default())
            .await
            .unwrap()
            .into_inner()
            .runners;
        assert_eq!(after, self.before);
        let policies = self
            .api
            .list_runner_policies(pb::ListRunnerPoliciesRequest {
                runner_id: self.keeper,
                pagination: None,
            })
            .await
            .unwrap()
            .into_inner()
            .policies;
        assert_eq!(
            policies,
            vec![pb::RunnerPolicy {
                group_id: self.group,
                role: pb::RunnerRole::User as i32
            }]
        );
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
    /// exactly `expected`, and whose message names each of them.
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
                for field in expected {
                    if !status.message().contains(field) {
                        self.failures
                            .push(format!("{name}: message {:?} does not name {field}", status.message()));
                    }
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

fn filter(f: pb::list_runners_request::Filter) -> pb::ListRunnersRequest {
    pb::ListRunnersRequest {
        pagination: None,
        filter: Some(f),
    }
}

// CreateRunner: each field's rule, and several broken at once
protocol_tests!(create_runner_refuses_bad_names_kinds_providers_and_manager_ids);
async fn create_runner_refuses_bad_names_kinds_providers_and_manager_ids(protocol: Protocol) {
    let mut k = keepers(protocol).await;
    let mut cases = Cases::default();
    cases.check(
        "name too short",
        k.api.create_runner(linux_runner("ab")).await,
        &["name"],
    );
    cases.check(
        "name too long",
        k.api.create_runner(linux_runner(&"n".repeat(128))).await,
        &["name"],
    );
    cases.check("name empty", k.api.create_runner(linux_runner("")).await, &["name"]);
    cases.check(
        "kind undefined",
        k.api
            .create_runner(pb::CreateRunnerRequest {
                kind: 42,
                ..linux_runner("runner")
            })
            .await,
        &["kind"],
    );
    cases.check(
        "provider undefined",
        k.api
            .create_runner(pb::CreateRunnerRequest {
                provider: 99,
                ..linux_runner("runner")
            })
            .await,
        &["provider"],
    );
    cases.check(
        "runner_manager_id not a uuid",
        k.api
            .create_runner(pb::CreateRunnerRequest {
                runner_manager_id: "manager".into(),
                ..linux_runner("runner")
            })
            .await,
        &["runner_manager_id"],
    );
    cases.check(
        "several at once",
        k.api
            .create_runner(pb::CreateRunnerRequest {
                name: "x".into(),
                kind: 9,
                provider: 9,
                ..Default::default()
            })
            .await,
        &["name", "kind", "provider"],
    );
    cases.assert_all_refused(7);
    k.assert_untouched().await;
}

// GetRunner, UpdateRunner, DeleteRunner, CreateRunnerToken
protocol_tests!(calls_on_one_runner_refuse_bad_ids_and_names);
async fn calls_on_one_runner_refuse_bad_ids_and_names(protocol: Protocol) {
    let mut k = keepers(protocol).await;
    let mut cases = Cases::default();
    cases.check(
        "get: empty id",
        k.api
            .get_runner(pb::GetRunnerRequest {
                runner_id: String::new(),
            })
            .await,
        &["runner_id"],
    );
    cases.check(
        "get: bad id",
        k.api
            .get_runner(pb::GetRunnerRequest {
                runner_id: BAD_UUID.into(),
            })
            .await,
        &["runner_id"],
    );
    cases.check(
        "update: bad id",
        k.api
            .update_runner(pb::UpdateRunnerRequest {
                runner_id: "x".into(),
                name: None,
                spec: None,
            })
            .await,
        &["runner_id"],
    );
    cases.check(
        "update: name too short",
        k.api
            .update_runner(pb::UpdateRunnerRequest {
                runner_id: k.keeper.clone(),
                name: Some("no".into()),
                spec: None,
            })
            .await,
        &["name"],
    );
    cases.check(
        "update: name too long",
        k.api
            .update_runner(pb::UpdateRunnerRequest {
                runner_id: k.keeper.clone(),
                name: Some("n".repeat(128)),
                spec: None,
            })
            .await,
        &["name"],
    );
    cases.check(
        "delete: bad id",
        k.api
            .delete_runner(pb::DeleteRunnerRequest {
                runner_id: "1".into(),
                force: true,
            })
            .await,
        &["runner_id"],
    );
    cases.check(
        "create token: bad id",
        k.api
            .create_runner_token(pb::CreateRunnerTokenRequest {
                runner_id: BAD_UUID.into(),
            })
            .await,
        &["runner_id"],
    );
    cases.assert_all_refused(7);
    k.assert_untouched().await;
}

// ListRunners: page sizes, page tokens (tampered, or of another filter), filters
protocol_tests!(list_runners_refuses_bad_pages_tokens_and_filters);
async fn list_runners_refuses_bad_pages_tokens_and_filters(protocol: Protocol) {
    let mut k = keepers(protocol).await;
    let mut cases = Cases::default();
    let many_ids: Vec<String> = (0..26).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let list_token = k
        .api
        .list_runners(pb::ListRunnersRequest {
            pagination: page(1),
            filter: None,
        })
        .await
        .unwrap()
        .into_inner()
        .pagination
        .unwrap()
        .next_token;
    let mut tampered = list_token.clone().into_bytes();
    tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();

    cases.check(
        "list: page_size over 100",
        k.api
            .list_runners(pb::ListRunnersRequest {
                pagination: page(101),
                filter: None,
            })
            .await,
        &["pagination.page_size"],
    );
    cases.check(
        "list: negative page_size",
        k.api
            .list_runners(pb::ListRunnersRequest {
                pagination: page(-1),
                filter: None,
            })
            .await,
        &["pagination.page_size"],
    );
    cases.check(
        "list: tampered token",
        k.api
            .list_runners(pb::ListRunnersRequest {
                pagination: Some(pb::PaginationRequest {
                    page_size: 1,
                    token: tampered,
                }),
                filter: None,
            })
            .await,
        &["pagination.token"],
    );
    cases.check(
        "list: token of another filter",
        k.api
            .list_runners(pb::ListRunnersRequest {
                pagination: Some(pb::PaginationRequest {
                    page_size: 1,
                    token: list_token.clone(),
                }),
                filter: Some(pb::list_runners_request::Filter {
                    kinds: vec![1],
                    ..Default::default()
                }),
            })
            .await,
        &["pagination.token"],
    );
    cases.check(
        "list: 26 creator ids",
        k.api
            .list_runners(filter(pb::list_runners_request::Filter {
                creator_ids: many_ids.clone(),
                ..Default::default()
            }))
            .await,
        &["filter.creator_ids"],
    );
    cases.check(
        "list: creator id not a uuid",
        k.api
            .list_runners(filter(pb::list_runners_request::Filter {
                creator_ids: vec![k.keeper.clone(), "me".into()],
                ..Default::default()
            }))
            .await,
        &["filter.creator_ids[1]"],
    );
    cases.check(
        "list: 26 kinds",
        k.api
            .list_runners(filter(pb::list_runners_request::Filter {
                kinds: vec![1; 26],
                ..Default::default()
            }))
            .await,
        &["filter.kinds"],
    );
    cases.check(
        "list: undefined kind",
        k.api
            .list_runners(filter(pb::list_runners_request::Filter {
                kinds: vec![1, 17],
                ..Default::default()
            }))
            .await,
        &["filter.kinds[1]"],
    );
    cases.check(
        "list: 26 providers",
        k.api
            .list_runners(filter(pb::list_runners_request::Filter {
                providers: vec![2; 26],
                ..Default::default()
            }))
            .await,
        &["filter.providers"],
    );
    cases.check(
        "list: undefined provider",
        k.api
            .list_runners(filter(pb::list_runners_request::Filter {
                providers: vec![-3],
                ..Default::default()
            }))
            .await,
        &["filter.providers[0]"],
    );
    cases.assert_all_refused(10);
    k.assert_untouched().await;
}

// ListRunnerPolicies, CreateRunnerPolicy, UpdateRunnerPolicy, DeleteRunnerPolicy
protocol_tests!(runner_policy_calls_refuse_bad_ids_and_roles);
async fn runner_policy_calls_refuse_bad_ids_and_roles(protocol: Protocol) {
    let mut k = keepers(protocol).await;
    let mut cases = Cases::default();
    cases.check(
        "list policies: bad id",
        k.api
            .list_runner_policies(pb::ListRunnerPoliciesRequest {
                runner_id: "?".into(),
                pagination: None,
            })
            .await,
        &["runner_id"],
    );
    cases.check(
        "list policies: page_size over 100",
        k.api
            .list_runner_policies(pb::ListRunnerPoliciesRequest {
                runner_id: k.keeper.clone(),
                pagination: page(1000),
            })
            .await,
        &["pagination.page_size"],
    );
    cases.check(
        "create policy: bad ids",
        k.api
            .create_runner_policy(pb::CreateRunnerPolicyRequest {
                runner_id: "r".into(),
                group_id: "g".into(),
                role: pb::RunnerRole::Admin as i32,
            })
            .await,
        &["runner_id", "group_id"],
    );
    cases.check(
        "create policy: no role",
        k.api
            .create_runner_policy(pb::CreateRunnerPolicyRequest {
                runner_id: k.keeper.clone(),
                group_id: k.group.clone(),
                role: 0,
            })
            .await,
        &["role"],
    );
    cases.check(
        "update policy: undefined role",
        k.api
            .update_runner_policy(pb::UpdateRunnerPolicyRequest {
                runner_id: k.keeper.clone(),
                group_id: k.group.clone(),
                role: 7,
            })
            .await,
        &["role"],
    );
    cases.check(
        "update policy: bad group id",
        k.api
            .update_runner_policy(pb::UpdateRunnerPolicyRequest {
                runner_id: k.keeper.clone(),
                group_id: BAD_UUID.into(),
                role: 1,
            })
            .await,
        &["group_id"],
    );
    cases.check(
        "delete policy: bad ids",
        k.api
            .delete_runner_policy(pb::DeleteRunnerPolicyRequest {
                runner_id: String::new(),
                group_id: "-".into(),
            })
            .await,
        &["runner_id", "group_id"],
    );
    cases.assert_all_refused(7);
    k.assert_untouched().await;
}

protocol_tests!(requests_over_4_mib_are_refused);
async fn requests_over_4_mib_are_refused(protocol: Protocol) {
    let server = TestServer::start().await;
    let mut api = server.runners(protocol, &server.admin.token).await;
    let huge = pb::CreateRunnerRequest {
        spec: Some(pb::RunnerSpec {
            configuration: Some(pb::RunnerConfiguration {
                region: "r".repeat(5 * 1024 * 1024),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..linux_runner("huge")
    };
    let err = api.create_runner(huge).await.unwrap_err();
    assert!(
        matches!(err.code(), Code::ResourceExhausted | Code::OutOfRange),
        "{protocol:?}: {:?} {}",
        err.code(),
        err.message()
    );
    let listed = api
        .list_runners(pb::ListRunnersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.runners.is_empty(), "{protocol:?}: nothing written");
    server.stop().await;
}
