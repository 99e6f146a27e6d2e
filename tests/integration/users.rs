//! UserService: who the caller is, the users of their organization, and
//! personal access tokens — shown once, read-only when asked, listed with
//! when they were last used, deleted (revoked) by their user or an admin.

use std::time::Duration;

use tonic::Code;
use uuid::Uuid;

use crate::harness::*;

fn pat(
    user: &User,
    description: &str,
    valid_for: Option<i64>,
    read_only: bool,
) -> pb::CreatePersonalAccessTokenRequest {
    pb::CreatePersonalAccessTokenRequest {
        user_id: user.id.to_string(),
        description: description.into(),
        valid_for: valid_for.map(|seconds| prost_types::Duration { seconds, nanos: 0 }),
        read_only,
    }
}

async fn whoami(server: &TestServer, protocol: Protocol, token: &str) -> Result<pb::User, tonic::Status> {
    Ok(server
        .users(protocol, token)
        .await
        .get_authenticated_user(pb::GetAuthenticatedUserRequest {})
        .await?
        .into_inner()
        .user
        .expect("user"))
}

protocol_tests!(a_personal_access_token_lives_is_used_and_is_deleted);
async fn a_personal_access_token_lives_is_used_and_is_deleted(protocol: Protocol) {
    let server = TestServer::start_with(|s| s.token_cache_ttl = Duration::from_millis(200)).await;
    let hana = server.member("hana").await;
    let mut users = server.users(protocol, &hana.token).await;
    let before = chrono::Utc::now();
    let token = users
        .create_personal_access_token(pat(&hana, "ci", Some(86_400), false))
        .await
        .unwrap()
        .into_inner()
        .token;
    assert!(token.starts_with("pdk_pat_"));

    // it authenticates as hana
    let me = whoami(&server, protocol, &token).await.unwrap();
    assert_eq!(me.id, hana.id.to_string());
    assert_eq!(me.name, "hana");
    assert_eq!(me.status, pb::UserStatus::Active as i32);

    // listed (never with its value), and with when it was last used
    let list = pb::ListPersonalAccessTokensRequest::default();
    let listed = eventually(Duration::from_secs(5), "last_used is recorded", async || {
        let tokens = users
            .list_personal_access_tokens(list.clone())
            .await
            .unwrap()
            .into_inner()
            .personal_access_tokens;
        let ci = tokens.into_iter().find(|t| t.description == "ci")?;
        ci.last_used.is_some().then_some(ci)
    })
    .await;
    assert_eq!(listed.user_id, hana.id.to_string());
    assert!(!listed.read_only);
    assert_eq!(listed.creator.as_ref().map(|c| c.id.clone()), Some(hana.id.to_string()));
    let expires = listed.expires_at.as_ref().unwrap().seconds;
    let expected = (before + chrono::Duration::days(1)).timestamp();
    assert!((expected..expected + 5).contains(&expires), "{expires} vs {expected}");
    assert!(listed.last_used.as_ref().unwrap().seconds >= before.timestamp());
    let got = users
        .get_personal_access_token(pb::GetPersonalAccessTokenRequest {
            personal_access_token_id: listed.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .pat
        .unwrap();
    assert_eq!(got.id, listed.id);

    // deleted: refused at once
    users
        .delete_personal_access_token(pb::DeletePersonalAccessTokenRequest {
            personal_access_token_id: listed.id.clone(),
        })
        .await
        .unwrap();
    let err = whoami(&server, protocol, &token).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = users
        .get_personal_access_token(pb::GetPersonalAccessTokenRequest {
            personal_access_token_id: listed.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let remaining = users
        .list_personal_access_tokens(list)
        .await
        .unwrap()
        .into_inner()
        .personal_access_tokens;
    assert!(remaining.iter().all(|t| t.id != listed.id));
    server.stop().await;
}

protocol_tests!(a_read_only_token_only_reads);
async fn a_read_only_token_only_reads(protocol: Protocol) {
    let server = TestServer::start().await;
    let ines = server.member("ines").await;
    let read_only = server
        .users(protocol, &ines.token)
        .await
        .create_personal_access_token(pat(&ines, "dashboards", None, true))
        .await
        .unwrap()
        .into_inner()
        .token;
    let mut runners = server.runners(protocol, &read_only).await;
    runners.list_runners(pb::ListRunnersRequest::default()).await.unwrap();
    whoami(&server, protocol, &read_only).await.unwrap();
    let err = runners.create_runner(linux_runner("not allowed")).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(err.message().contains("read-only"), "{}", err.message());
    // nor can it mint itself a token that can write
    let err = server
        .users(protocol, &read_only)
        .await
        .create_personal_access_token(pat(&ines, "escalate", None, false))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // the token says what it is, and lives the longest by default: 90 days
    let listed = server
        .users(protocol, &read_only)
        .await
        .list_personal_access_tokens(pb::ListPersonalAccessTokensRequest::default())
        .await
        .unwrap()
        .into_inner()
        .personal_access_tokens;
    let dashboards = listed.iter().find(|t| t.description == "dashboards").unwrap();
    assert!(dashboards.read_only);
    let lifetime = dashboards.expires_at.as_ref().unwrap().seconds - dashboards.created_at.as_ref().unwrap().seconds;
    assert!((90 * 86_400 - 2..=90 * 86_400 + 2).contains(&lifetime), "{lifetime}");
    server.stop().await;
}

protocol_tests!(users_manage_their_own_tokens_and_admins_anyones);
async fn users_manage_their_own_tokens_and_admins_anyones(protocol: Protocol) {
    let server = TestServer::start().await;
    let jon = server.member("jon").await;
    let kim = server.member("kim").await;
    let mut as_jon = server.users(protocol, &jon.token).await;
    // a member cannot mint a token for another user, nor can an admin
    let err = as_jon
        .create_personal_access_token(pat(&kim, "as kim", None, false))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = server
        .users(protocol, &server.admin.token)
        .await
        .create_personal_access_token(pat(&kim, "as kim", None, false))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let kims = server
        .users(protocol, &kim.token)
        .await
        .create_personal_access_token(pat(&kim, "kim's laptop", None, false))
        .await
        .unwrap()
        .into_inner()
        .token;
    let mut as_admin = server.users(protocol, &server.admin.token).await;
    let of_kim = as_admin
        .list_personal_access_tokens(pb::ListPersonalAccessTokensRequest {
            pagination: None,
            filter: Some(pb::list_personal_access_tokens_request::Filter {
                user_ids: vec![kim.id.to_string()],
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .personal_access_tokens;
    let laptop = of_kim.iter().find(|t| t.description == "kim's laptop").unwrap().clone();
    assert!(of_kim.iter().all(|t| t.user_id == kim.id.to_string()));
    // jon neither lists, reads nor deletes kim's tokens
    let err = as_jon
        .list_personal_access_tokens(pb::ListPersonalAccessTokensRequest {
            pagination: None,
            filter: Some(pb::list_personal_access_tokens_request::Filter {
                user_ids: vec![kim.id.to_string()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let jons_view = as_jon
        .list_personal_access_tokens(pb::ListPersonalAccessTokensRequest::default())
        .await
        .unwrap()
        .into_inner()
        .personal_access_tokens;
    assert!(jons_view.iter().all(|t| t.user_id == jon.id.to_string()));
    for err in [
        as_jon
            .get_personal_access_token(pb::GetPersonalAccessTokenRequest {
                personal_access_token_id: laptop.id.clone(),
            })
            .await
            .unwrap_err(),
        as_jon
            .delete_personal_access_token(pb::DeletePersonalAccessTokenRequest {
                personal_access_token_id: laptop.id.clone(),
            })
            .await
            .unwrap_err(),
    ] {
        assert_eq!(err.code(), Code::NotFound);
    }
    // the admin lists everyone's, and deletes kim's
    let all = as_admin
        .list_personal_access_tokens(pb::ListPersonalAccessTokensRequest::default())
        .await
        .unwrap()
        .into_inner()
        .personal_access_tokens;
    for user in [&jon, &kim, &server.admin] {
        assert!(all.iter().any(|t| t.user_id == user.id.to_string()), "{user:?}");
    }
    as_admin
        .delete_personal_access_token(pb::DeletePersonalAccessTokenRequest {
            personal_access_token_id: laptop.id.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        whoami(&server, protocol, &kims).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    // other organizations' admins see nothing of it; runners have no tokens
    let outsider = server.user_in("elsewhere", "lou", true).await;
    let err = server
        .users(protocol, &outsider.token)
        .await
        .get_user(pb::GetUserRequest {
            user_id: kim.id.to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let (_, runner_token) = server.runner_with_token(protocol, &server.admin, "tokenless").await;
    let mut as_runner = server.users(protocol, &runner_token).await;
    let err = as_runner
        .list_personal_access_tokens(pb::ListPersonalAccessTokensRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = as_runner
        .get_authenticated_user(pb::GetAuthenticatedUserRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // members read each other
    let kim_seen = as_jon
        .get_user(pb::GetUserRequest {
            user_id: kim.id.to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(kim_seen.name, "kim");
    assert_eq!(kim_seen.organization_id, kim.organization_id.to_string());
    server.stop().await;
}

protocol_tests!(bad_user_requests_name_the_field);
async fn bad_user_requests_name_the_field(protocol: Protocol) {
    let server = TestServer::start().await;
    let mut users = server.users(protocol, &server.admin.token).await;
    let err = users
        .create_personal_access_token(pb::CreatePersonalAccessTokenRequest {
            user_id: "me".into(),
            description: "nul\0".into(),
            valid_for: Some(prost_types::Duration {
                seconds: 7_776_001,
                nanos: 0,
            }),
            read_only: false,
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["user_id", "valid_for", "description"]);
    let err = users
        .create_personal_access_token(pat(&server.admin, "", Some(-1), false))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["valid_for"]);
    // exactly 90 days is allowed
    users
        .create_personal_access_token(pat(&server.admin, "", Some(7_776_000), false))
        .await
        .unwrap();
    for err in [
        users
            .get_user(pb::GetUserRequest { user_id: String::new() })
            .await
            .unwrap_err(),
        users
            .get_personal_access_token(pb::GetPersonalAccessTokenRequest {
                personal_access_token_id: "t".into(),
            })
            .await
            .unwrap_err(),
        users
            .delete_personal_access_token(pb::DeletePersonalAccessTokenRequest {
                personal_access_token_id: "t".into(),
            })
            .await
            .unwrap_err(),
    ] {
        assert_eq!(err.code(), Code::InvalidArgument);
    }
    let err = users
        .list_personal_access_tokens(pb::ListPersonalAccessTokensRequest {
            pagination: Some(pb::PaginationRequest {
                token: String::new(),
                page_size: 101,
            }),
            filter: Some(pb::list_personal_access_tokens_request::Filter {
                user_ids: (0..26).map(|_| Uuid::now_v7().to_string()).collect(),
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["pagination.page_size", "filter.user_ids"]);
    let err = users
        .list_personal_access_tokens(pb::ListPersonalAccessTokensRequest {
            pagination: None,
            filter: Some(pb::list_personal_access_tokens_request::Filter {
                user_ids: vec![server.admin.id.to_string(), "me".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["filter.user_ids[1]"]);
    // what paddock does not serve says so
    let err = users
        .set_suspended(pb::SetSuspendedRequest {
            user_id: server.admin.id.to_string(),
            suspended: true,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    server.stop().await;
}

protocol_tests!(tokens_page_by_keyset);
async fn tokens_page_by_keyset(protocol: Protocol) {
    let server = TestServer::start().await;
    let mo = server.member("mo").await;
    let mut users = server.users(protocol, &mo.token).await;
    for i in 0..5 {
        users
            .create_personal_access_token(pat(&mo, &format!("t{i}"), None, false))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = users
            .list_personal_access_tokens(pb::ListPersonalAccessTokensRequest {
                pagination: Some(pb::PaginationRequest { token, page_size: 2 }),
                filter: None,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.personal_access_tokens.len() <= 2);
        seen.extend(page.personal_access_tokens.into_iter().map(|t| t.description));
        token = page.pagination.unwrap_or_default().next_token;
        if token.is_empty() {
            break;
        }
    }
    // mo's first token (made with the user) and the five
    assert_eq!(seen.len(), 6);
    assert_eq!(&seen[1..], ["t0", "t1", "t2", "t3", "t4"]);
    server.stop().await;
}
