//! SCM integrations: OAuth client secrets sealed, one per (runner, host),
//! listed, paged, updated and deleted; bad input is refused.

use tonic::Code;

use super::*;

protocol_tests!(scm_integrations_keep_client_secrets_sealed);
async fn scm_integrations_keep_client_secrets_sealed(protocol: Protocol) {
    let server = TestServer::start().await;
    let token = server.admin.token.clone();
    let linux = runner(&server, protocol, &token, "linux", pb::RunnerProvider::LinuxHost).await;
    let other = runner(&server, protocol, &token, "other", pb::RunnerProvider::LinuxHost).await;
    let mut config = server.configuration(protocol, &token).await;
    let create = |runner_id: &str, host: &str| pb::CreateScmIntegrationRequest {
        runner_id: runner_id.into(),
        scm_id: "github".into(),
        host: host.into(),
        oauth_client_id: Some("Iv1.client".into()),
        oauth_plaintext_client_secret: Some("client-secret-value".into()),
        pat: true,
        issuer_url: None,
        virtual_directory: None,
    };
    let id = config
        .create_scm_integration(create(&linux, "github.com"))
        .await
        .unwrap()
        .into_inner()
        .id;
    let got = config
        .get_scm_integration(pb::GetScmIntegrationRequest { id: id.clone() })
        .await
        .unwrap()
        .into_inner();
    let integration = got.integration.unwrap();
    assert_eq!(
        (integration.scm_id.as_str(), integration.host.as_str()),
        ("github", "github.com")
    );
    assert!(integration.pat);
    let oauth = integration.oauth.clone().unwrap();
    assert_eq!(oauth.client_id, "Iv1.client");
    assert_ne!(oauth.encrypted_client_secret, b"client-secret-value");
    assert!(
        !oauth
            .encrypted_client_secret
            .windows(19)
            .any(|w| w == b"client-secret-value")
    );
    let opened = server
        .state
        .secrets
        .open("scm_integration.oauth_client_secret", &oauth.encrypted_client_secret)
        .unwrap();
    assert_eq!(opened, b"client-secret-value");

    let dup = config
        .create_scm_integration(create(&linux, "GitHub.com"))
        .await
        .unwrap_err();
    assert_eq!(dup.code(), Code::AlreadyExists, "one integration per (runner, host)");
    let err = config
        .create_scm_integration(pb::CreateScmIntegrationRequest {
            scm_id: "svn".into(),
            ..create(&linux, "svn.example.com")
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["scm_id"]);
    let err = config
        .create_scm_integration(create(&linux, "not a host"))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["host"]);
    let err = config
        .create_scm_integration(pb::CreateScmIntegrationRequest {
            oauth_plaintext_client_secret: None,
            ..create(&linux, "ghe.example.com")
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["oauth_client_id"]);

    // a second one, on another runner, self-hosted
    let ghe = config
        .create_scm_integration(pb::CreateScmIntegrationRequest {
            oauth_client_id: None,
            oauth_plaintext_client_secret: None,
            ..create(&other, "ghe.example.com:8443")
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let list = |runner_ids: Vec<String>, page_size: i32, token: String| pb::ListScmIntegrationsRequest {
        pagination: Some(pb::PaginationRequest { page_size, token }),
        filter: Some(pb::list_scm_integrations_request::Filter { runner_ids }),
    };
    let only_other = config
        .list_scm_integrations(list(vec![other.clone()], 0, String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        only_other
            .integrations
            .iter()
            .map(|i| i.id.as_str())
            .collect::<Vec<_>>(),
        vec![ghe.as_str()]
    );
    let first = config
        .list_scm_integrations(list(vec![], 1, String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.integrations.len(), 1);
    let next = first.pagination.unwrap().next_token;
    assert!(!next.is_empty());
    let second = config
        .list_scm_integrations(list(vec![], 1, next))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.integrations.len(), 1);
    assert_ne!(second.integrations[0].id, first.integrations[0].id);
    assert!(second.pagination.unwrap().next_token.is_empty());

    // update: only present fields; an empty client id removes OAuth
    config
        .update_scm_integration(pb::UpdateScmIntegrationRequest {
            id: id.clone(),
            virtual_directory: Some("tfs".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let kept = config
        .get_scm_integration(pb::GetScmIntegrationRequest { id: id.clone() })
        .await
        .unwrap()
        .into_inner();
    let kept = kept.integration.unwrap();
    assert_eq!(kept.oauth, integration.oauth, "OAuth untouched");
    assert_eq!(kept.virtual_directory.as_deref(), Some("tfs"));
    config
        .update_scm_integration(pb::UpdateScmIntegrationRequest {
            id: id.clone(),
            oauth_client_id: Some(String::new()),
            ..Default::default()
        })
        .await
        .unwrap();
    let removed = config
        .get_scm_integration(pb::GetScmIntegrationRequest { id: id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert!(removed.integration.unwrap().oauth.is_none());
    let err = config
        .update_scm_integration(pb::UpdateScmIntegrationRequest {
            id: id.clone(),
            pat: Some(false),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["pat"], "neither OAuth nor PAT left");

    config
        .delete_scm_integration(pb::DeleteScmIntegrationRequest { id: id.clone() })
        .await
        .unwrap();
    let err = config
        .get_scm_integration(pb::GetScmIntegrationRequest { id: id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = config
        .delete_scm_integration(pb::DeleteScmIntegrationRequest { id })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}

// Create, Get, List, Update and Delete, one broken rule at a time
protocol_tests!(scm_integration_requests_refuse_bad_input);
async fn scm_integration_requests_refuse_bad_input(protocol: Protocol) {
    let mut k = keepers(protocol).await;
    let mut cases = Cases::default();
    cases.check(
        "scm: runner id",
        k.config
            .create_scm_integration(pb::CreateScmIntegrationRequest {
                runner_id: BAD_ID.into(),
                scm_id: "github".into(),
                host: "github.com".into(),
                pat: true,
                ..Default::default()
            })
            .await,
        &["runner_id"],
    );
    cases.check(
        "get scm: id",
        k.config
            .get_scm_integration(pb::GetScmIntegrationRequest { id: BAD_ID.into() })
            .await,
        &["id"],
    );
    cases.check(
        "list scm: runner ids",
        k.config
            .list_scm_integrations(pb::ListScmIntegrationsRequest {
                pagination: page(-1),
                filter: Some(pb::list_scm_integrations_request::Filter {
                    runner_ids: too_many_ids(),
                }),
            })
            .await,
        &["pagination.page_size", "filter.runner_ids"],
    );
    cases.check(
        "update scm: id",
        k.config
            .update_scm_integration(pb::UpdateScmIntegrationRequest {
                id: BAD_ID.into(),
                ..Default::default()
            })
            .await,
        &["id"],
    );
    cases.check(
        "delete scm: id",
        k.config
            .delete_scm_integration(pb::DeleteScmIntegrationRequest { id: BAD_ID.into() })
            .await,
        &["id"],
    );
    cases.assert_all_refused(5);
    k.assert_untouched().await;
}
