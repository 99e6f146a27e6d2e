//! LLM integrations: API keys sealed, updated, listed and deleted; bad input
//! is refused.

use tonic::Code;

use super::*;

protocol_tests!(llm_integrations_keep_api_keys_sealed);
async fn llm_integrations_keep_api_keys_sealed(protocol: Protocol) {
    let server = TestServer::start().await;
    let token = server.admin.token.clone();
    let linux = runner(&server, protocol, &token, "linux", pb::RunnerProvider::LinuxHost).await;
    let mut config = server.configuration(protocol, &token).await;
    let id = config
        .create_llm_integration(pb::CreateLlmIntegrationRequest {
            runner_id: linux.clone(),
            models: vec![pb::SupportedModel::Sonnet45 as i32, pb::SupportedModel::Opus46 as i32],
            endpoint: "https://llm.example.com/v1".into(),
            api_key: "sk-ant-very-secret".into(),
            max_tokens: 8192,
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let got = config
        .get_llm_integration(pb::GetLlmIntegrationRequest { id: id.clone() })
        .await
        .unwrap()
        .into_inner();
    let integration = got.integration.unwrap();
    assert_eq!(
        integration.models,
        [pb::SupportedModel::Sonnet45 as i32, pb::SupportedModel::Opus46 as i32]
    );
    assert_eq!(integration.provider, pb::LlmProvider::Anthropic as i32);
    assert_eq!(integration.phase, pb::LlmIntegrationPhase::Available as i32);
    assert_eq!(integration.max_tokens, 8192);
    assert!(
        !integration
            .encrypted_api_key
            .windows(18)
            .any(|w| w == b"sk-ant-very-secret")
    );
    assert_eq!(
        server
            .state
            .secrets
            .open("llm_integration.api_key", &integration.encrypted_api_key)
            .unwrap(),
        b"sk-ant-very-secret"
    );

    config
        .update_llm_integration(pb::UpdateLlmIntegrationRequest {
            id: id.clone(),
            phase: Some(pb::LlmIntegrationPhase::Disabled as i32),
            request_headers: vec![pb::LlmIntegrationRequestHeader {
                key: "x-team".into(),
                value: b"platform".to_vec(),
                header_type: pb::LlmIntegrationRequestHeaderType::Literal as i32,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let updated = config
        .get_llm_integration(pb::GetLlmIntegrationRequest { id: id.clone() })
        .await
        .unwrap()
        .into_inner();
    let updated = updated.integration.unwrap();
    assert_eq!(updated.phase, pb::LlmIntegrationPhase::Disabled as i32);
    assert_eq!(updated.request_headers.len(), 1);
    assert_eq!(
        updated.endpoint, "https://llm.example.com/v1",
        "absent fields keep their values"
    );
    assert_eq!(updated.encrypted_api_key, integration.encrypted_api_key);

    let listed = config
        .list_llm_integrations(pb::ListLlmIntegrationsRequest {
            pagination: None,
            filter: Some(pb::list_llm_integrations_request::Filter {
                runner_ids: vec![linux.clone()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.integrations.len(), 1);
    config
        .delete_llm_integration(pb::DeleteLlmIntegrationRequest {
            id: id.clone(),
            force: false,
        })
        .await
        .unwrap();
    let err = config
        .get_llm_integration(pb::GetLlmIntegrationRequest { id })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}

// Create, Get, List, Update and Delete, one broken rule at a time
protocol_tests!(llm_integration_requests_refuse_bad_input);
async fn llm_integration_requests_refuse_bad_input(protocol: Protocol) {
    let mut k = keepers(protocol).await;
    let mut cases = Cases::default();
    cases.check(
        "llm: runner id and no models",
        k.config
            .create_llm_integration(pb::CreateLlmIntegrationRequest {
                runner_id: BAD_ID.into(),
                ..Default::default()
            })
            .await,
        &["runner_id", "models"],
    );
    cases.check(
        "llm: undefined model",
        k.config
            .create_llm_integration(pb::CreateLlmIntegrationRequest {
                runner_id: k.linux.clone(),
                models: vec![pb::SupportedModel::Sonnet4 as i32, 999],
                ..Default::default()
            })
            .await,
        &["models[1]"],
    );
    cases.check(
        "get llm: id",
        k.config
            .get_llm_integration(pb::GetLlmIntegrationRequest { id: BAD_ID.into() })
            .await,
        &["id"],
    );
    cases.check(
        "list llm: runner id",
        k.config
            .list_llm_integrations(pb::ListLlmIntegrationsRequest {
                pagination: None,
                filter: Some(pb::list_llm_integrations_request::Filter {
                    runner_ids: vec![BAD_ID.into()],
                }),
            })
            .await,
        &["filter.runner_ids[0]"],
    );
    cases.check(
        "update llm: id and model",
        k.config
            .update_llm_integration(pb::UpdateLlmIntegrationRequest {
                id: BAD_ID.into(),
                models: vec![-1],
                ..Default::default()
            })
            .await,
        &["id", "models[0]"],
    );
    cases.check(
        "delete llm: id",
        k.config
            .delete_llm_integration(pb::DeleteLlmIntegrationRequest {
                id: BAD_ID.into(),
                force: false,
            })
            .await,
        &["id"],
    );
    cases.assert_all_refused(6);
    k.assert_untouched().await;
}
