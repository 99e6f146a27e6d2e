//! Host authentication tokens: each belongs to its subject, and its value
//! never leaves in plaintext; bad input is refused.

use tonic::Code;

use super::*;

protocol_tests!(host_tokens_belong_to_their_subject_and_never_leave_in_plaintext);
async fn host_tokens_belong_to_their_subject_and_never_leave_in_plaintext(protocol: Protocol) {
    let server = TestServer::start().await;
    let admin = server.admin.clone();
    let alice = server.member("alice").await;
    let bob = server.member("bob").await;
    let linux = runner(&server, protocol, &admin.token, "linux", pb::RunnerProvider::LinuxHost).await;
    let mut as_alice = server.configuration(protocol, &alice.token).await;
    let mut as_bob = server.configuration(protocol, &bob.token).await;
    let mut as_admin = server.configuration(protocol, &admin.token).await;
    let request = |host: &str| pb::CreateHostAuthenticationTokenRequest {
        runner_id: linux.clone(),
        host: host.into(),
        token: "ghp_alice_secret_token".into(),
        source: pb::HostAuthenticationTokenSource::Oauth as i32,
        expires_at: Some(prost_types::Timestamp {
            seconds: 4_102_444_800,
            nanos: 0,
        }),
        refresh_token: "ghr_alice_refresh".into(),
        scopes: vec!["repo".into(), "read:user".into()],
        ..Default::default()
    };

    let created = as_alice
        .create_host_authentication_token(request("github.com"))
        .await
        .unwrap()
        .into_inner();
    let token = created.token.unwrap();
    assert_eq!(
        token.subject,
        Some(pb::Subject {
            id: alice.id.to_string(),
            principal: pb::Principal::User as i32
        })
    );
    #[allow(deprecated)]
    let user_id = token.user_id.clone();
    assert_eq!(user_id, alice.id.to_string(), "the deprecated user_id too");
    assert_eq!(token.host, "github.com");
    assert_eq!(token.scopes, ["repo", "read:user"]);
    assert_eq!(token.expires_at.as_ref().unwrap().seconds, 4_102_444_800);
    let dup = as_alice
        .create_host_authentication_token(request("github.com"))
        .await
        .unwrap_err();
    assert_eq!(dup.code(), Code::AlreadyExists);

    // others' tokens: bob may not create one for alice, nor see hers; the admin may do both
    let for_alice = pb::CreateHostAuthenticationTokenRequest {
        subject: Some(pb::Subject {
            id: alice.id.to_string(),
            principal: pb::Principal::User as i32,
        }),
        ..request("gitlab.com")
    };
    let err = as_bob
        .create_host_authentication_token(for_alice.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let by_admin = as_admin
        .create_host_authentication_token(for_alice)
        .await
        .unwrap()
        .into_inner()
        .token
        .unwrap();
    assert_eq!(by_admin.subject.unwrap().id, alice.id.to_string());
    let err = as_bob
        .get_host_authentication_token(pb::GetHostAuthenticationTokenRequest { id: token.id.clone() })
        .await;
    assert_eq!(err.unwrap_err().code(), Code::NotFound);
    as_admin
        .get_host_authentication_token(pb::GetHostAuthenticationTokenRequest { id: token.id.clone() })
        .await
        .unwrap();
    let bobs = as_bob
        .create_host_authentication_token(request("bitbucket.org"))
        .await
        .unwrap()
        .into_inner()
        .token
        .unwrap();

    use pb::list_host_authentication_tokens_request::Filter;
    let list = |filter: Filter| pb::ListHostAuthenticationTokensRequest {
        pagination: None,
        filter: Some(filter),
    };
    let ids = |r: pb::ListHostAuthenticationTokensResponse| {
        let mut ids: Vec<String> = r.tokens.into_iter().map(|t| t.id).collect();
        ids.sort();
        ids
    };
    let mut alices = vec![token.id.clone(), by_admin.id.clone()];
    alices.sort();
    assert_eq!(
        ids(as_alice
            .list_host_authentication_tokens(list(Filter::default()))
            .await
            .unwrap()
            .into_inner()),
        alices
    );
    assert_eq!(
        ids(as_bob
            .list_host_authentication_tokens(list(Filter::default()))
            .await
            .unwrap()
            .into_inner()),
        vec![bobs.id.clone()]
    );
    let everyone = as_admin
        .list_host_authentication_tokens(list(Filter::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(everyone.tokens.len(), 3);
    let by_subject = Filter {
        subject_id: Some(bob.id.to_string()),
        ..Default::default()
    };
    assert_eq!(
        ids(as_admin
            .list_host_authentication_tokens(list(by_subject))
            .await
            .unwrap()
            .into_inner()),
        vec![bobs.id.clone()]
    );
    #[allow(deprecated)]
    let by_user = Filter {
        user_id: Some(alice.id.to_string()),
        runner_id: Some(linux.clone()),
        ..Default::default()
    };
    assert_eq!(
        ids(as_admin
            .list_host_authentication_tokens(list(by_user))
            .await
            .unwrap()
            .into_inner()),
        alices
    );
    let other_runner = Filter {
        runner_id: Some(uuid::Uuid::now_v7().to_string()),
        ..Default::default()
    };
    assert!(
        as_admin
            .list_host_authentication_tokens(list(other_runner))
            .await
            .unwrap()
            .into_inner()
            .tokens
            .is_empty()
    );

    // update: a new token value and scopes; the value stays sealed
    as_alice
        .update_host_authentication_token(pb::UpdateHostAuthenticationTokenRequest {
            id: token.id.clone(),
            token: Some("ghp_rotated_secret".into()),
            expires_at: None,
            refresh_token: None,
            scopes: vec!["repo".into()],
        })
        .await
        .unwrap();
    let updated = as_alice
        .get_host_authentication_token(pb::GetHostAuthenticationTokenRequest { id: token.id.clone() })
        .await
        .unwrap()
        .into_inner()
        .token
        .unwrap();
    assert_eq!(updated.scopes, ["repo"]);
    assert_eq!(updated.expires_at, token.expires_at, "absent fields keep their values");
    let row = paddock::store::host_tokens::get(&server.state.db, uuid::Uuid::parse_str(&token.id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        server
            .state
            .secrets
            .open("host_token.token", &row.token_encrypted)
            .unwrap(),
        b"ghp_rotated_secret"
    );
    let refresh = row.refresh_token_encrypted.unwrap();
    assert_eq!(
        server.state.secrets.open("host_token.refresh_token", &refresh).unwrap(),
        b"ghr_alice_refresh"
    );

    let err = as_bob
        .delete_host_authentication_token(pb::DeleteHostAuthenticationTokenRequest { id: token.id.clone() })
        .await;
    assert_eq!(err.unwrap_err().code(), Code::NotFound);
    as_alice
        .delete_host_authentication_token(pb::DeleteHostAuthenticationTokenRequest { id: token.id.clone() })
        .await
        .unwrap();
    let err = as_alice
        .get_host_authentication_token(pb::GetHostAuthenticationTokenRequest { id: token.id })
        .await;
    assert_eq!(err.unwrap_err().code(), Code::NotFound);
    server.stop().await;
}

// Create (each field), Get, List (filters), Update and Delete, one broken rule at a time
protocol_tests!(host_token_requests_refuse_bad_input);
async fn host_token_requests_refuse_bad_input(protocol: Protocol) {
    let mut k = keepers(protocol).await;
    let mut cases = Cases::default();
    let token_request = |f: fn(&mut pb::CreateHostAuthenticationTokenRequest)| {
        let mut request = pb::CreateHostAuthenticationTokenRequest {
            runner_id: k.linux.clone(),
            host: "github.com".into(),
            token: "ghp_x".into(),
            source: pb::HostAuthenticationTokenSource::Pat as i32,
            ..Default::default()
        };
        f(&mut request);
        request
    };
    cases.check(
        "host token: runner id",
        k.config
            .create_host_authentication_token(token_request(|r| r.runner_id = "x".into()))
            .await,
        &["runner_id"],
    );
    #[allow(deprecated)]
    let with_user = token_request(|r| r.user_id = "me".into());
    cases.check(
        "host token: user id",
        k.config.create_host_authentication_token(with_user).await,
        &["user_id"],
    );
    cases.check(
        "host token: empty host",
        k.config
            .create_host_authentication_token(token_request(|r| r.host.clear()))
            .await,
        &["host"],
    );
    cases.check(
        "host token: empty token",
        k.config
            .create_host_authentication_token(token_request(|r| r.token.clear()))
            .await,
        &["token"],
    );
    cases.check(
        "host token: source",
        k.config
            .create_host_authentication_token(token_request(|r| r.source = 7))
            .await,
        &["source"],
    );
    cases.check(
        "host token: integration id",
        k.config
            .create_host_authentication_token(token_request(|r| r.integration_id = "i".into()))
            .await,
        &["integration_id"],
    );
    cases.check(
        "host token: 102 scopes",
        k.config
            .create_host_authentication_token(token_request(|r| r.scopes = vec!["repo".into(); 102]))
            .await,
        &["scopes"],
    );
    cases.check(
        "host token: subject id",
        k.config
            .create_host_authentication_token(token_request(|r| {
                r.subject = Some(pb::Subject {
                    id: "s".into(),
                    principal: pb::Principal::User as i32,
                })
            }))
            .await,
        &["subject.id"],
    );
    cases.check(
        "host token: subject principal",
        k.config
            .create_host_authentication_token(token_request(|r| {
                r.subject = Some(pb::Subject {
                    id: String::new(),
                    principal: 99,
                })
            }))
            .await,
        &["subject.principal", "subject.principal"],
    );
    cases.check(
        "get host token: id",
        k.config
            .get_host_authentication_token(pb::GetHostAuthenticationTokenRequest { id: BAD_ID.into() })
            .await,
        &["id"],
    );
    cases.check(
        "list host tokens: filters",
        k.config
            .list_host_authentication_tokens(pb::ListHostAuthenticationTokensRequest {
                pagination: page(500),
                filter: Some(pb::list_host_authentication_tokens_request::Filter {
                    runner_id: Some("r".into()),
                    #[allow(deprecated)]
                    user_id: Some("u".into()),
                    subject_id: Some("s".into()),
                }),
            })
            .await,
        &[
            "pagination.page_size",
            "filter.runner_id",
            "filter.user_id",
            "filter.subject_id",
        ],
    );
    cases.check(
        "update host token: id and empty token",
        k.config
            .update_host_authentication_token(pb::UpdateHostAuthenticationTokenRequest {
                id: BAD_ID.into(),
                token: Some(String::new()),
                ..Default::default()
            })
            .await,
        &["id", "token"],
    );
    cases.check(
        "delete host token: id",
        k.config
            .delete_host_authentication_token(pb::DeleteHostAuthenticationTokenRequest { id: BAD_ID.into() })
            .await,
        &["id"],
    );
    cases.assert_all_refused(13);
    k.assert_untouched().await;
}
