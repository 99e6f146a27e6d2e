//! Every buf.validate rule of the reference for the RunnerService RPCs,
//! broken once each: INVALID_ARGUMENT naming the field, and nothing written.

use tonic::Code;

use crate::harness::*;

const BAD_UUID: &str = "d2c94c27-3b76-4a42-b88c-95a85e392c6"; // one digit short

#[tokio::test]
async fn every_rule_refuses_bad_input_by_field_and_loses_nothing() {
    let server = TestServer::start().await;
    let mut api = server.runners(Protocol::Grpc, &server.admin.token).await;

    // what exists before the onslaught
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

    let page = |page_size| {
        Some(pb::PaginationRequest {
            page_size,
            token: String::new(),
        })
    };
    let filter = |f: pb::list_runners_request::Filter| pb::ListRunnersRequest {
        pagination: None,
        filter: Some(f),
    };
    let many_ids: Vec<String> = (0..26).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let list_token = api
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

    let mut cases: Vec<(&str, Result<(), tonic::Status>, Vec<&str>)> = Vec::new();
    macro_rules! case {
        ($name:expr, $call:expr, [$($field:expr),*]) => {
            cases.push(($name, $call.await.map(|_| ()), vec![$($field),*]))
        };
    }
    case!("name too short", api.create_runner(linux_runner("ab")), ["name"]);
    case!(
        "name too long",
        api.create_runner(linux_runner(&"n".repeat(128))),
        ["name"]
    );
    case!("name empty", api.create_runner(linux_runner("")), ["name"]);
    case!(
        "kind undefined",
        api.create_runner(pb::CreateRunnerRequest {
            kind: 42,
            ..linux_runner("runner")
        }),
        ["kind"]
    );
    case!(
        "provider undefined",
        api.create_runner(pb::CreateRunnerRequest {
            provider: 99,
            ..linux_runner("runner")
        }),
        ["provider"]
    );
    case!(
        "runner_manager_id not a uuid",
        api.create_runner(pb::CreateRunnerRequest {
            runner_manager_id: "manager".into(),
            ..linux_runner("runner")
        }),
        ["runner_manager_id"]
    );
    case!(
        "several at once",
        api.create_runner(pb::CreateRunnerRequest {
            name: "x".into(),
            kind: 9,
            provider: 9,
            ..Default::default()
        }),
        ["name", "kind", "provider"]
    );
    case!(
        "get: empty id",
        api.get_runner(pb::GetRunnerRequest {
            runner_id: String::new()
        }),
        ["runner_id"]
    );
    case!(
        "get: bad id",
        api.get_runner(pb::GetRunnerRequest {
            runner_id: BAD_UUID.into()
        }),
        ["runner_id"]
    );
    case!(
        "list: page_size over 100",
        api.list_runners(pb::ListRunnersRequest {
            pagination: page(101),
            filter: None
        }),
        ["pagination.page_size"]
    );
    case!(
        "list: negative page_size",
        api.list_runners(pb::ListRunnersRequest {
            pagination: page(-1),
            filter: None
        }),
        ["pagination.page_size"]
    );
    case!(
        "list: tampered token",
        api.list_runners(pb::ListRunnersRequest {
            pagination: Some(pb::PaginationRequest {
                page_size: 1,
                token: tampered
            }),
            filter: None
        }),
        ["pagination.token"]
    );
    case!(
        "list: token of another filter",
        api.list_runners(pb::ListRunnersRequest {
            pagination: Some(pb::PaginationRequest {
                page_size: 1,
                token: list_token.clone()
            }),
            filter: Some(pb::list_runners_request::Filter {
                kinds: vec![1],
                ..Default::default()
            })
        }),
        ["pagination.token"]
    );
    case!(
        "list: 26 creator ids",
        api.list_runners(filter(pb::list_runners_request::Filter {
            creator_ids: many_ids.clone(),
            ..Default::default()
        })),
        ["filter.creator_ids"]
    );
    case!(
        "list: creator id not a uuid",
        api.list_runners(filter(pb::list_runners_request::Filter {
            creator_ids: vec![keeper.clone(), "me".into()],
            ..Default::default()
        })),
        ["filter.creator_ids[1]"]
    );
    case!(
        "list: 26 kinds",
        api.list_runners(filter(pb::list_runners_request::Filter {
            kinds: vec![1; 26],
            ..Default::default()
        })),
        ["filter.kinds"]
    );
    case!(
        "list: undefined kind",
        api.list_runners(filter(pb::list_runners_request::Filter {
            kinds: vec![1, 17],
            ..Default::default()
        })),
        ["filter.kinds[1]"]
    );
    case!(
        "list: 26 providers",
        api.list_runners(filter(pb::list_runners_request::Filter {
            providers: vec![2; 26],
            ..Default::default()
        })),
        ["filter.providers"]
    );
    case!(
        "list: undefined provider",
        api.list_runners(filter(pb::list_runners_request::Filter {
            providers: vec![-3],
            ..Default::default()
        })),
        ["filter.providers[0]"]
    );
    case!(
        "update: bad id",
        api.update_runner(pb::UpdateRunnerRequest {
            runner_id: "x".into(),
            name: None,
            spec: None
        }),
        ["runner_id"]
    );
    case!(
        "update: name too short",
        api.update_runner(pb::UpdateRunnerRequest {
            runner_id: keeper.clone(),
            name: Some("no".into()),
            spec: None
        }),
        ["name"]
    );
    case!(
        "update: name too long",
        api.update_runner(pb::UpdateRunnerRequest {
            runner_id: keeper.clone(),
            name: Some("n".repeat(128)),
            spec: None
        }),
        ["name"]
    );
    case!(
        "delete: bad id",
        api.delete_runner(pb::DeleteRunnerRequest {
            runner_id: "1".into(),
            force: true
        }),
        ["runner_id"]
    );
    case!(
        "create token: bad id",
        api.create_runner_token(pb::CreateRunnerTokenRequest {
            runner_id: BAD_UUID.into()
        }),
        ["runner_id"]
    );
    case!(
        "list policies: bad id",
        api.list_runner_policies(pb::ListRunnerPoliciesRequest {
            runner_id: "?".into(),
            pagination: None
        }),
        ["runner_id"]
    );
    case!(
        "list policies: page_size over 100",
        api.list_runner_policies(pb::ListRunnerPoliciesRequest {
            runner_id: keeper.clone(),
            pagination: page(1000)
        }),
        ["pagination.page_size"]
    );
    case!(
        "create policy: bad ids",
        api.create_runner_policy(pb::CreateRunnerPolicyRequest {
            runner_id: "r".into(),
            group_id: "g".into(),
            role: pb::RunnerRole::Admin as i32
        }),
        ["runner_id", "group_id"]
    );
    case!(
        "create policy: no role",
        api.create_runner_policy(pb::CreateRunnerPolicyRequest {
            runner_id: keeper.clone(),
            group_id: group.clone(),
            role: 0
        }),
        ["role"]
    );
    case!(
        "update policy: undefined role",
        api.update_runner_policy(pb::UpdateRunnerPolicyRequest {
            runner_id: keeper.clone(),
            group_id: group.clone(),
            role: 7
        }),
        ["role"]
    );
    case!(
        "update policy: bad group id",
        api.update_runner_policy(pb::UpdateRunnerPolicyRequest {
            runner_id: keeper.clone(),
            group_id: BAD_UUID.into(),
            role: 1
        }),
        ["group_id"]
    );
    case!(
        "delete policy: bad ids",
        api.delete_runner_policy(pb::DeleteRunnerPolicyRequest {
            runner_id: String::new(),
            group_id: "-".into()
        }),
        ["runner_id", "group_id"]
    );

    let mut failures = Vec::new();
    for (name, result, expected) in &cases {
        match result {
            Ok(()) => failures.push(format!("{name}: accepted")),
            Err(status) if status.code() != Code::InvalidArgument => {
                failures.push(format!("{name}: {:?} {}", status.code(), status.message()))
            }
            Err(status) => {
                let fields = violated_fields(status);
                if fields != *expected {
                    failures.push(format!("{name}: fields {fields:?}, expected {expected:?}"));
                }
                for field in expected {
                    if !status.message().contains(field) {
                        failures.push(format!("{name}: message {:?} does not name {field}", status.message()));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases.len() >= 30);

    // nothing was written, nothing was lost
    let after = api
        .list_runners(pb::ListRunnersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .runners;
    assert_eq!(after, before);
    let policies = api
        .list_runner_policies(pb::ListRunnerPoliciesRequest {
            runner_id: keeper,
            pagination: None,
        })
        .await
        .unwrap()
        .into_inner()
        .policies;
    assert_eq!(
        policies,
        vec![pb::RunnerPolicy {
            group_id: group,
            role: pb::RunnerRole::User as i32
        }]
    );
    server.stop().await;
}

#[tokio::test]
async fn requests_over_4_mib_are_refused() {
    let server = TestServer::start().await;
    for protocol in PROTOCOLS {
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
    }
    server.stop().await;
}
