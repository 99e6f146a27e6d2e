//! The runner configuration schema, and ValidateRunnerConfiguration.

use tonic::Code;

use super::*;

protocol_tests!(the_schema_follows_the_provider_and_the_public_url);
async fn the_schema_follows_the_provider_and_the_public_url(protocol: Protocol) {
    let server = TestServer::start().await;
    let token = server.admin.token.clone();
    let mut config = server.configuration(protocol, &token).await;
    for (provider, field) in [
        (pb::RunnerProvider::AwsEc2, "instance_type"),
        (pb::RunnerProvider::Gcp, "machine_type"),
        (pb::RunnerProvider::LinuxHost, "cpu"),
        (pb::RunnerProvider::DesktopMac, "memory"),
    ] {
        let runner_id = runner(&server, protocol, &token, &format!("{provider:?}"), provider).await;
        let schema = config
            .get_runner_configuration_schema(pb::GetRunnerConfigurationSchemaRequest { runner_id })
            .await
            .unwrap()
            .into_inner()
            .schema
            .unwrap();
        assert!(!schema.version.is_empty());
        assert!(schema.environment_classes.iter().any(|f| f.id == field), "{provider:?}");
        let scms: Vec<_> = schema.scm.iter().map(|s| s.scm_id.as_str()).collect();
        assert_eq!(scms, ["github", "gitlab", "bitbucket", "azure-devops"]);
        let github = &schema.scm[0];
        assert_eq!(github.default_hosts, ["github.com"]);
        assert_eq!(
            github.oauth.as_ref().unwrap().callback_url,
            "https://paddock.test/auth/oauth2/callback"
        );
        let pat = github.pat.as_ref().unwrap();
        assert!(pat.docs_link.starts_with("https://") && !pat.description.is_empty());
    }
    let err = config
        .get_runner_configuration_schema(pb::GetRunnerConfigurationSchemaRequest {
            runner_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}

protocol_tests!(the_schema_refuses_a_bad_runner_id);
async fn the_schema_refuses_a_bad_runner_id(protocol: Protocol) {
    let mut k = keepers(protocol).await;
    let mut cases = Cases::default();
    cases.check(
        "schema: runner id",
        k.config
            .get_runner_configuration_schema(pb::GetRunnerConfigurationSchemaRequest {
                runner_id: BAD_ID.into(),
            })
            .await,
        &["runner_id"],
    );
    cases.assert_all_refused(1);
    k.assert_untouched().await;
}

protocol_tests!(validate_runner_configuration_reports_instead_of_failing);
async fn validate_runner_configuration_reports_instead_of_failing(protocol: Protocol) {
    let server = TestServer::start().await;
    let token = server.admin.token.clone();
    let linux = runner(&server, protocol, &token, "linux", pb::RunnerProvider::LinuxHost).await;
    let mut config = server.configuration(protocol, &token).await;
    use pb::validate_runner_configuration_request::{Config as C, ValidateScmIntegration, validate_scm_integration};
    use pb::validate_runner_configuration_response::Result as R;
    let validate = |config: C| pb::ValidateRunnerConfigurationRequest {
        runner_id: linux.clone(),
        config: Some(config),
    };

    let bad_class = pb::EnvironmentClass {
        display_name: "x".into(),
        description: "Fine description".into(),
        configuration: vec![fv("cpu", "1000"), fv("gpu", "1")],
        ..Default::default()
    };
    let result = config
        .validate_runner_configuration(validate(C::EnvironmentClass(bad_class)))
        .await
        .unwrap()
        .into_inner();
    let Some(R::EnvironmentClass(result)) = result.result else {
        panic!("{result:?}")
    };
    assert!(!result.valid);
    assert!(result.display_name_error.is_some() && result.description_error.is_none());
    let keys: Vec<_> = result.configuration_errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["cpu", "gpu"]);

    let good_class = pb::EnvironmentClass {
        display_name: "Regular".into(),
        description: "Four cores".into(),
        configuration: vec![fv("cpu", "4")],
        ..Default::default()
    };
    let result = config
        .validate_runner_configuration(validate(C::EnvironmentClass(good_class)))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(result.result, Some(R::EnvironmentClass(r)) if r.valid && r.configuration_errors.is_empty()));

    let scm = |f: fn(&mut ValidateScmIntegration)| {
        let mut s = ValidateScmIntegration {
            scm_id: "github".into(),
            host: "github.com".into(),
            pat: true,
            ..Default::default()
        };
        f(&mut s);
        C::ScmIntegration(s)
    };
    let check = |config: C| {
        let client = server.configuration(protocol, &token);
        let request = validate(config);
        async move {
            let response = client
                .await
                .validate_runner_configuration(request)
                .await
                .unwrap()
                .into_inner();
            match response.result {
                Some(R::ScmIntegration(r)) => r,
                other => panic!("{other:?}"),
            }
        }
    };
    assert!(check(scm(|_| {})).await.valid);
    let r = check(scm(|s| s.scm_id = "sourceforge".into())).await;
    assert!(!r.valid && r.scm_id_error.is_some());
    let r = check(scm(|s| s.host = "https://github.com/org".into())).await;
    assert!(!r.valid && r.host_error.is_some());
    let r = check(scm(|s| s.oauth_client_id = Some("client".into()))).await;
    assert!(!r.valid && r.oauth_error.is_some(), "id without secret");
    let r = check(scm(|s| {
        s.oauth_client_secret = Some(validate_scm_integration::OauthClientSecret::OauthPlaintextClientSecret(
            "s".into(),
        ))
    }))
    .await;
    assert!(!r.valid && r.oauth_error.is_some(), "secret without id");
    let r = check(scm(|s| {
        s.oauth_client_id = Some("client".into());
        s.oauth_client_secret = Some(validate_scm_integration::OauthClientSecret::OauthPlaintextClientSecret(
            "s".into(),
        ));
        s.pat = false;
    }))
    .await;
    assert!(r.valid, "OAuth alone is fine: {r:?}");
    let r = check(scm(|s| s.pat = false)).await;
    assert!(!r.valid && r.pat_error.is_some(), "no way to authenticate");
    server.stop().await;
}
