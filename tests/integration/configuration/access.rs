//! Who may see and change the configuration of a runner.

use tonic::Code;

use super::*;

/// A runner with an environment class, an SCM integration and an LLM
/// integration, made by the organization admin.
struct Shared {
    server: TestServer,
    as_admin: Config,
    linux: String,
    class_id: String,
    scm: pb::CreateScmIntegrationRequest,
    scm_id: String,
    llm: pb::CreateLlmIntegrationRequest,
    llm_id: String,
}

async fn shared(protocol: Protocol) -> Shared {
    let server = TestServer::start().await;
    let admin = server.admin.clone();
    let linux = runner(&server, protocol, &admin.token, "linux", pb::RunnerProvider::LinuxHost).await;
    let mut as_admin = server.configuration(protocol, &admin.token).await;
    let class_id = create_class(&mut as_admin, &linux, "Shared").await;
    let scm = pb::CreateScmIntegrationRequest {
        runner_id: linux.clone(),
        scm_id: "gitlab".into(),
        host: "gitlab.com".into(),
        pat: true,
        ..Default::default()
    };
    let scm_id = as_admin
        .create_scm_integration(scm.clone())
        .await
        .unwrap()
        .into_inner()
        .id;
    let llm = pb::CreateLlmIntegrationRequest {
        runner_id: linux.clone(),
        models: vec![pb::SupportedModel::OpenaiO1 as i32],
        ..Default::default()
    };
    let llm_id = as_admin
        .create_llm_integration(llm.clone())
        .await
        .unwrap()
        .into_inner()
        .id;
    Shared {
        server,
        as_admin,
        linux,
        class_id,
        scm,
        scm_id,
        llm,
        llm_id,
    }
}

protocol_tests!(members_read_but_only_managers_change);
async fn members_read_but_only_managers_change(protocol: Protocol) {
    let s = shared(protocol).await;
    let member = s.server.member("member").await;
    let mut as_member = s.server.configuration(protocol, &member.token).await;

    // members read ...
    as_member
        .get_environment_class(pb::GetEnvironmentClassRequest {
            environment_class_id: s.class_id.clone(),
        })
        .await
        .unwrap();
    as_member
        .get_scm_integration(pb::GetScmIntegrationRequest { id: s.scm_id.clone() })
        .await
        .unwrap();
    let classes = as_member
        .list_environment_classes(pb::ListEnvironmentClassesRequest::default())
        .await
        .unwrap();
    assert_eq!(classes.into_inner().environment_classes.len(), 1);
    // ... but do not change
    let err = as_member
        .create_environment_class(class(&s.linux, "Mine", vec![]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = as_member
        .update_environment_class(pb::UpdateEnvironmentClassRequest {
            environment_class_id: s.class_id.clone(),
            enabled: Some(false),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = as_member.create_scm_integration(pb::CreateScmIntegrationRequest {
        host: "gitlab.example.com".into(),
        ..s.scm.clone()
    });
    assert_eq!(err.await.unwrap_err().code(), Code::PermissionDenied);
    let err = as_member
        .delete_scm_integration(pb::DeleteScmIntegrationRequest { id: s.scm_id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = as_member.create_llm_integration(s.llm.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = as_member
        .delete_llm_integration(pb::DeleteLlmIntegrationRequest {
            id: s.llm_id.clone(),
            force: true,
        })
        .await;
    assert_eq!(err.unwrap_err().code(), Code::PermissionDenied);
    s.server.stop().await;
}

protocol_tests!(other_organizations_see_nothing);
async fn other_organizations_see_nothing(protocol: Protocol) {
    let s = shared(protocol).await;
    let stranger = s.server.user_in("elsewhere", "stranger", true).await;
    let mut as_stranger = s.server.configuration(protocol, &stranger.token).await;

    let err = as_stranger
        .get_environment_class(pb::GetEnvironmentClassRequest {
            environment_class_id: s.class_id.clone(),
        })
        .await;
    assert_eq!(err.unwrap_err().code(), Code::NotFound);
    let err = as_stranger
        .get_scm_integration(pb::GetScmIntegrationRequest { id: s.scm_id.clone() })
        .await;
    assert_eq!(err.unwrap_err().code(), Code::NotFound);
    let err = as_stranger
        .get_llm_integration(pb::GetLlmIntegrationRequest { id: s.llm_id.clone() })
        .await;
    assert_eq!(err.unwrap_err().code(), Code::NotFound);
    let err = as_stranger
        .create_environment_class(class(&s.linux, "Theirs", vec![]))
        .await;
    assert_eq!(err.unwrap_err().code(), Code::NotFound);
    let err = as_stranger.get_runner_configuration_schema(pb::GetRunnerConfigurationSchemaRequest {
        runner_id: s.linux.clone(),
    });
    assert_eq!(err.await.unwrap_err().code(), Code::NotFound);
    let listed = as_stranger
        .list_environment_classes(pb::ListEnvironmentClassesRequest::default())
        .await
        .unwrap();
    assert!(listed.into_inner().environment_classes.is_empty());
    let listed = as_stranger
        .list_scm_integrations(pb::ListScmIntegrationsRequest::default())
        .await
        .unwrap();
    assert!(listed.into_inner().integrations.is_empty());
    let token = pb::CreateHostAuthenticationTokenRequest {
        runner_id: s.linux.clone(),
        host: "github.com".into(),
        token: "t".into(),
        ..Default::default()
    };
    assert_eq!(
        as_stranger
            .create_host_authentication_token(token)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    s.server.stop().await;
}

protocol_tests!(a_runner_sees_its_own_classes_only);
async fn a_runner_sees_its_own_classes_only(protocol: Protocol) {
    let mut s = shared(protocol).await;
    let other = runner(
        &s.server,
        protocol,
        &s.server.admin.token,
        "other",
        pb::RunnerProvider::LinuxHost,
    )
    .await;
    create_class(&mut s.as_admin, &other, "Other").await;
    let exchange = s
        .server
        .runners(protocol, &s.server.admin.token)
        .await
        .create_runner_token(pb::CreateRunnerTokenRequest {
            runner_id: s.linux.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .exchange_token;
    let access = s
        .server
        .identity(protocol, None)
        .await
        .exchange_token(pb::ExchangeTokenRequest {
            exchange_token: exchange,
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let mut as_runner = s.server.configuration(protocol, &access).await;
    let own = as_runner
        .list_environment_classes(pb::ListEnvironmentClassesRequest::default())
        .await
        .unwrap();
    assert_eq!(
        own.into_inner()
            .environment_classes
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>(),
        vec![s.class_id.as_str()]
    );
    s.server.stop().await;
}
