//! RunnerConfigurationService: environment classes, the configuration schema
//! and validation, SCM integrations, host tokens and LLM integrations.

use tonic::Code;

use crate::harness::*;

type Config = RunnerConfigurationServiceClient<Transport>;

fn fv(key: &str, value: &str) -> pb::FieldValue {
    pb::FieldValue {
        key: key.into(),
        value: value.into(),
    }
}

async fn runner(server: &TestServer, token: &str, name: &str, provider: pb::RunnerProvider) -> String {
    let mut api = server.runners(Protocol::Grpc, token).await;
    let request = pb::CreateRunnerRequest {
        name: name.into(),
        provider: provider as i32,
        ..Default::default()
    };
    api.create_runner(request)
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id
}

fn class(runner_id: &str, name: &str, configuration: Vec<pb::FieldValue>) -> pb::CreateEnvironmentClassRequest {
    pb::CreateEnvironmentClassRequest {
        runner_id: runner_id.into(),
        display_name: name.into(),
        description: format!("{name} machines"),
        configuration,
    }
}

async fn create_class(config: &mut Config, runner_id: &str, name: &str) -> String {
    let request = class(runner_id, name, vec![fv("cpu", "4"), fv("memory", "16")]);
    config.create_environment_class(request).await.unwrap().into_inner().id
}

#[tokio::test]
async fn environment_classes_are_created_read_filtered_paged_and_updated() {
    let server = TestServer::start().await;
    let token = server.admin.token.clone();
    let linux = runner(&server, &token, "linux", pb::RunnerProvider::LinuxHost).await;
    let aws = runner(&server, &token, "aws", pb::RunnerProvider::AwsEc2).await;
    let mut config = server.configuration(Protocol::Grpc, &token).await;

    let small = create_class(&mut config, &linux, "Small").await;
    let got = config
        .get_environment_class(pb::GetEnvironmentClassRequest {
            environment_class_id: small.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .environment_class
        .unwrap();
    assert_eq!(got.display_name, "Small");
    assert_eq!(got.description, "Small machines");
    assert_eq!(got.runner_id, linux);
    assert!(got.enabled, "new classes are enabled");
    assert_eq!(got.configuration, vec![fv("cpu", "4"), fv("memory", "16")]);

    let big = config
        .create_environment_class(class(
            &aws,
            "Big",
            vec![fv("instance_type", "m6i.4xlarge"), fv("disk_size", "500")],
        ))
        .await
        .unwrap()
        .into_inner()
        .id;
    let mut linux_ids = vec![small.clone()];
    for i in 0..5 {
        linux_ids.push(create_class(&mut config, &linux, &format!("Linux {i}")).await);
    }

    // update: only present fields change
    config
        .update_environment_class(pb::UpdateEnvironmentClassRequest {
            environment_class_id: small.clone(),
            display_name: None,
            description: Some("Two cores, small disk".into()),
            enabled: Some(false),
        })
        .await
        .unwrap();
    let updated = config
        .get_environment_class(pb::GetEnvironmentClassRequest {
            environment_class_id: small.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .environment_class
        .unwrap();
    assert_eq!(
        (updated.display_name.as_str(), updated.description.as_str()),
        ("Small", "Two cores, small disk")
    );
    assert!(!updated.enabled);

    use pb::list_environment_classes_request::Filter;
    let list = |filter: Filter, page_size: i32, token: String| pb::ListEnvironmentClassesRequest {
        pagination: Some(pb::PaginationRequest { page_size, token }),
        filter: Some(filter),
    };
    let ids =
        |r: pb::ListEnvironmentClassesResponse| r.environment_classes.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let config2 = config.clone();
    let all = |filter: Filter| {
        let mut config = config2.clone();
        async move {
            ids(config
                .list_environment_classes(list(filter, 100, String::new()))
                .await
                .unwrap()
                .into_inner())
        }
    };
    assert_eq!(
        all(Filter {
            runner_ids: vec![aws.clone()],
            ..Default::default()
        })
        .await,
        vec![big.clone()]
    );
    assert_eq!(
        all(Filter {
            enabled: Some(false),
            ..Default::default()
        })
        .await,
        vec![small.clone()]
    );
    assert_eq!(
        all(Filter {
            enabled: Some(true),
            ..Default::default()
        })
        .await
        .len(),
        6
    );
    let remote = Filter {
        runner_kinds: vec![pb::RunnerKind::Remote as i32],
        ..Default::default()
    };
    assert_eq!(all(remote).await, vec![big.clone()]);
    let local = Filter {
        runner_providers: vec![pb::RunnerProvider::LinuxHost as i32],
        ..Default::default()
    };
    assert_eq!(all(local).await, linux_ids);
    let usable = all(Filter {
        can_create_environments: Some(true),
        ..Default::default()
    })
    .await;
    assert_eq!(usable.len(), 6, "disabled classes cannot create environments");
    assert!(!usable.contains(&small));

    // pages of 3 over the 7 classes: 3, 3, 1
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = config
            .list_environment_classes(list(Filter::default(), 3, token))
            .await
            .unwrap()
            .into_inner();
        assert!(page.environment_classes.len() <= 3);
        token = page.pagination.as_ref().unwrap().next_token.clone();
        seen.extend(ids(page));
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen.len(), 7);
    seen.dedup();
    assert_eq!(seen.len(), 7, "no duplicates");
    server.stop().await;
}

#[tokio::test]
async fn environment_class_configuration_must_fit_the_runner_schema() {
    let server = TestServer::start().await;
    let token = server.admin.token.clone();
    let aws = runner(&server, &token, "aws", pb::RunnerProvider::AwsEc2).await;
    let mut config = server.configuration(Protocol::GrpcWeb, &token).await;
    let cases: Vec<(Vec<pb::FieldValue>, Vec<&str>)> = vec![
        (
            vec![fv("instance_type", "m6i.large"), fv("colour", "red")],
            vec!["configuration[colour]"],
        ),
        (
            vec![fv("instance_type", "m6i.large"), fv("disk_size", "lots")],
            vec!["configuration[disk_size]"],
        ),
        (
            vec![fv("instance_type", "m6i.large"), fv("disk_size", "5")],
            vec!["configuration[disk_size]"],
        ),
        (
            vec![fv("instance_type", "m6i.large"), fv("use_spot", "maybe")],
            vec!["configuration[use_spot]"],
        ),
        (
            vec![fv("instance_type", "t2.nano")],
            vec!["configuration[instance_type]"],
        ),
        (vec![fv("disk_size", "100")], vec!["configuration[instance_type]"]),
        (
            vec![fv("instance_type", "m6i.large"), fv("ami_id", "ubuntu")],
            vec!["configuration[ami_id]"],
        ),
    ];
    for (configuration, fields) in cases {
        let err = config
            .create_environment_class(class(&aws, "Shape", configuration.clone()))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), fields, "{configuration:?}");
    }
    config
        .create_environment_class(class(
            &aws,
            "Fits",
            vec![fv("instance_type", "m6i.large"), fv("use_spot", "true")],
        ))
        .await
        .expect("a fitting configuration");
    server.stop().await;
}

#[tokio::test]
async fn every_rule_of_the_configuration_requests_refuses_bad_input() {
    let server = TestServer::start().await;
    let token = server.admin.token.clone();
    let linux = runner(&server, &token, "linux", pb::RunnerProvider::LinuxHost).await;
    let mut config = server.configuration(Protocol::Grpc, &token).await;
    let class_id = create_class(&mut config, &linux, "Keeper").await;
    let bad = "not-a-uuid".to_string();
    let page = |page_size| {
        Some(pb::PaginationRequest {
            page_size,
            token: String::new(),
        })
    };
    let many: Vec<String> = (0..26).map(|_| uuid::Uuid::now_v7().to_string()).collect();

    let mut cases: Vec<(&str, Result<(), tonic::Status>, Vec<&str>)> = Vec::new();
    macro_rules! case {
        ($name:expr, $call:expr, [$($field:expr),*]) => {
            cases.push(($name, $call.await.map(|_| ()), vec![$($field),*]))
        };
    }
    case!(
        "class: runner id",
        config.create_environment_class(class(&bad, "Name", vec![])),
        ["runner_id"]
    );
    case!(
        "class: short name",
        config.create_environment_class(class(&linux, "ab", vec![])),
        ["display_name"]
    );
    case!(
        "class: long name",
        config.create_environment_class(class(&linux, &"n".repeat(128), vec![])),
        ["display_name"]
    );
    case!(
        "class: short description",
        config.create_environment_class(pb::CreateEnvironmentClassRequest {
            description: "ab".into(),
            ..class(&linux, "Name", vec![])
        }),
        ["description"]
    );
    case!(
        "class: long description",
        config.create_environment_class(pb::CreateEnvironmentClassRequest {
            description: "d".repeat(201),
            ..class(&linux, "Name", vec![])
        }),
        ["description"]
    );
    case!(
        "get class: id",
        config.get_environment_class(pb::GetEnvironmentClassRequest {
            environment_class_id: bad.clone()
        }),
        ["environment_class_id"]
    );
    case!(
        "list classes: page size",
        config.list_environment_classes(pb::ListEnvironmentClassesRequest {
            pagination: page(101),
            filter: None
        }),
        ["pagination.page_size"]
    );
    case!(
        "list classes: 26 runner ids",
        config.list_environment_classes(pb::ListEnvironmentClassesRequest {
            pagination: None,
            filter: Some(pb::list_environment_classes_request::Filter {
                runner_ids: many.clone(),
                ..Default::default()
            })
        }),
        ["filter.runner_ids"]
    );
    case!(
        "list classes: runner id",
        config.list_environment_classes(pb::ListEnvironmentClassesRequest {
            pagination: None,
            filter: Some(pb::list_environment_classes_request::Filter {
                runner_ids: vec![bad.clone()],
                ..Default::default()
            })
        }),
        ["filter.runner_ids[0]"]
    );
    case!(
        "list classes: 26 kinds",
        config.list_environment_classes(pb::ListEnvironmentClassesRequest {
            pagination: None,
            filter: Some(pb::list_environment_classes_request::Filter {
                runner_kinds: vec![1; 26],
                ..Default::default()
            })
        }),
        ["filter.runner_kinds"]
    );
    case!(
        "list classes: 26 providers",
        config.list_environment_classes(pb::ListEnvironmentClassesRequest {
            pagination: None,
            filter: Some(pb::list_environment_classes_request::Filter {
                runner_providers: vec![1; 26],
                ..Default::default()
            })
        }),
        ["filter.runner_providers"]
    );
    case!(
        "update class: id and name",
        config.update_environment_class(pb::UpdateEnvironmentClassRequest {
            environment_class_id: bad.clone(),
            display_name: Some("x".into()),
            description: Some("y".repeat(201)),
            enabled: None
        }),
        ["environment_class_id", "display_name", "description"]
    );
    case!(
        "schema: runner id",
        config.get_runner_configuration_schema(pb::GetRunnerConfigurationSchemaRequest { runner_id: bad.clone() }),
        ["runner_id"]
    );
    case!(
        "scm: runner id",
        config.create_scm_integration(pb::CreateScmIntegrationRequest {
            runner_id: bad.clone(),
            scm_id: "github".into(),
            host: "github.com".into(),
            pat: true,
            ..Default::default()
        }),
        ["runner_id"]
    );
    case!(
        "get scm: id",
        config.get_scm_integration(pb::GetScmIntegrationRequest { id: bad.clone() }),
        ["id"]
    );
    case!(
        "list scm: runner ids",
        config.list_scm_integrations(pb::ListScmIntegrationsRequest {
            pagination: page(-1),
            filter: Some(pb::list_scm_integrations_request::Filter {
                runner_ids: many.clone()
            })
        }),
        ["pagination.page_size", "filter.runner_ids"]
    );
    case!(
        "update scm: id",
        config.update_scm_integration(pb::UpdateScmIntegrationRequest {
            id: bad.clone(),
            ..Default::default()
        }),
        ["id"]
    );
    case!(
        "delete scm: id",
        config.delete_scm_integration(pb::DeleteScmIntegrationRequest { id: bad.clone() }),
        ["id"]
    );
    let token_request = |f: fn(&mut pb::CreateHostAuthenticationTokenRequest)| {
        let mut request = pb::CreateHostAuthenticationTokenRequest {
            runner_id: linux.clone(),
            host: "github.com".into(),
            token: "ghp_x".into(),
            source: pb::HostAuthenticationTokenSource::Pat as i32,
            ..Default::default()
        };
        f(&mut request);
        request
    };
    case!(
        "host token: runner id",
        config.create_host_authentication_token(token_request(|r| r.runner_id = "x".into())),
        ["runner_id"]
    );
    #[allow(deprecated)]
    let with_user = token_request(|r| r.user_id = "me".into());
    case!(
        "host token: user id",
        config.create_host_authentication_token(with_user),
        ["user_id"]
    );
    case!(
        "host token: empty host",
        config.create_host_authentication_token(token_request(|r| r.host.clear())),
        ["host"]
    );
    case!(
        "host token: empty token",
        config.create_host_authentication_token(token_request(|r| r.token.clear())),
        ["token"]
    );
    case!(
        "host token: source",
        config.create_host_authentication_token(token_request(|r| r.source = 7)),
        ["source"]
    );
    case!(
        "host token: integration id",
        config.create_host_authentication_token(token_request(|r| r.integration_id = "i".into())),
        ["integration_id"]
    );
    case!(
        "host token: 102 scopes",
        config.create_host_authentication_token(token_request(|r| r.scopes = vec!["repo".into(); 102])),
        ["scopes"]
    );
    case!(
        "host token: subject id",
        config.create_host_authentication_token(token_request(|r| {
            r.subject = Some(pb::Subject {
                id: "s".into(),
                principal: pb::Principal::User as i32,
            })
        })),
        ["subject.id"]
    );
    case!(
        "host token: subject principal",
        config.create_host_authentication_token(token_request(|r| {
            r.subject = Some(pb::Subject {
                id: String::new(),
                principal: 99,
            })
        })),
        ["subject.principal", "subject.principal"]
    );
    case!(
        "get host token: id",
        config.get_host_authentication_token(pb::GetHostAuthenticationTokenRequest { id: bad.clone() }),
        ["id"]
    );
    case!(
        "list host tokens: filters",
        config.list_host_authentication_tokens(pb::ListHostAuthenticationTokensRequest {
            pagination: page(500),
            filter: Some(pb::list_host_authentication_tokens_request::Filter {
                runner_id: Some("r".into()),
                #[allow(deprecated)]
                user_id: Some("u".into()),
                subject_id: Some("s".into()),
            })
        }),
        [
            "pagination.page_size",
            "filter.runner_id",
            "filter.user_id",
            "filter.subject_id"
        ]
    );
    case!(
        "update host token: id and empty token",
        config.update_host_authentication_token(pb::UpdateHostAuthenticationTokenRequest {
            id: bad.clone(),
            token: Some(String::new()),
            ..Default::default()
        }),
        ["id", "token"]
    );
    case!(
        "delete host token: id",
        config.delete_host_authentication_token(pb::DeleteHostAuthenticationTokenRequest { id: bad.clone() }),
        ["id"]
    );
    case!(
        "llm: runner id and no models",
        config.create_llm_integration(pb::CreateLlmIntegrationRequest {
            runner_id: bad.clone(),
            ..Default::default()
        }),
        ["runner_id", "models"]
    );
    case!(
        "llm: undefined model",
        config.create_llm_integration(pb::CreateLlmIntegrationRequest {
            runner_id: linux.clone(),
            models: vec![pb::SupportedModel::Sonnet4 as i32, 999],
            ..Default::default()
        }),
        ["models[1]"]
    );
    case!(
        "get llm: id",
        config.get_llm_integration(pb::GetLlmIntegrationRequest { id: bad.clone() }),
        ["id"]
    );
    case!(
        "list llm: runner id",
        config.list_llm_integrations(pb::ListLlmIntegrationsRequest {
            pagination: None,
            filter: Some(pb::list_llm_integrations_request::Filter {
                runner_ids: vec![bad.clone()]
            })
        }),
        ["filter.runner_ids[0]"]
    );
    case!(
        "update llm: id and model",
        config.update_llm_integration(pb::UpdateLlmIntegrationRequest {
            id: bad.clone(),
            models: vec![-1],
            ..Default::default()
        }),
        ["id", "models[0]"]
    );
    case!(
        "delete llm: id",
        config.delete_llm_integration(pb::DeleteLlmIntegrationRequest {
            id: bad.clone(),
            force: false
        }),
        ["id"]
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
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // nothing was written; what was there is still there
    let classes = config
        .list_environment_classes(pb::ListEnvironmentClassesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        classes
            .environment_classes
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>(),
        vec![class_id.as_str()]
    );
    let scms = config
        .list_scm_integrations(pb::ListScmIntegrationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(scms.integrations.is_empty());
    let tokens = config
        .list_host_authentication_tokens(pb::ListHostAuthenticationTokensRequest::default())
        .await
        .unwrap();
    assert!(tokens.into_inner().tokens.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn the_schema_follows_the_provider_and_the_public_url() {
    let server = TestServer::start().await;
    let token = server.admin.token.clone();
    let mut config = server.configuration(Protocol::Grpc, &token).await;
    for (provider, field) in [
        (pb::RunnerProvider::AwsEc2, "instance_type"),
        (pb::RunnerProvider::Gcp, "machine_type"),
        (pb::RunnerProvider::LinuxHost, "cpu"),
        (pb::RunnerProvider::DesktopMac, "memory"),
    ] {
        let runner_id = runner(&server, &token, &format!("{provider:?}"), provider).await;
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

#[tokio::test]
async fn validate_runner_configuration_reports_instead_of_failing() {
    let server = TestServer::start().await;
    let token = server.admin.token.clone();
    let linux = runner(&server, &token, "linux", pb::RunnerProvider::LinuxHost).await;
    let mut config = server.configuration(Protocol::GrpcWeb, &token).await;
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
        let client = config_client(&server, &token);
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

async fn config_client(server: &TestServer, token: &str) -> Config {
    server.configuration(Protocol::Grpc, token).await
}

#[tokio::test]
async fn scm_integrations_keep_client_secrets_sealed() {
    let server = TestServer::start().await;
    let token = server.admin.token.clone();
    let linux = runner(&server, &token, "linux", pb::RunnerProvider::LinuxHost).await;
    let other = runner(&server, &token, "other", pb::RunnerProvider::LinuxHost).await;
    let mut config = server.configuration(Protocol::Grpc, &token).await;
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

#[tokio::test]
async fn host_tokens_belong_to_their_subject_and_never_leave_in_plaintext() {
    let server = TestServer::start().await;
    let admin = server.admin.clone();
    let alice = server.member("alice").await;
    let bob = server.member("bob").await;
    let linux = runner(&server, &admin.token, "linux", pb::RunnerProvider::LinuxHost).await;
    let mut as_alice = server.configuration(Protocol::Grpc, &alice.token).await;
    let mut as_bob = server.configuration(Protocol::Grpc, &bob.token).await;
    let mut as_admin = server.configuration(Protocol::Grpc, &admin.token).await;
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

#[tokio::test]
async fn llm_integrations_keep_api_keys_sealed() {
    let server = TestServer::start().await;
    let token = server.admin.token.clone();
    let linux = runner(&server, &token, "linux", pb::RunnerProvider::LinuxHost).await;
    let mut config = server.configuration(Protocol::GrpcWeb, &token).await;
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

#[tokio::test]
async fn members_read_but_only_managers_change_and_other_organizations_see_nothing() {
    let server = TestServer::start().await;
    let admin = server.admin.clone();
    let member = server.member("member").await;
    let stranger = server.user_in("elsewhere", "stranger", true).await;
    let linux = runner(&server, &admin.token, "linux", pb::RunnerProvider::LinuxHost).await;
    let mut as_admin = server.configuration(Protocol::Grpc, &admin.token).await;
    let mut as_member = server.configuration(Protocol::Grpc, &member.token).await;
    let mut as_stranger = server.configuration(Protocol::Grpc, &stranger.token).await;
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

    // members read ...
    as_member
        .get_environment_class(pb::GetEnvironmentClassRequest {
            environment_class_id: class_id.clone(),
        })
        .await
        .unwrap();
    as_member
        .get_scm_integration(pb::GetScmIntegrationRequest { id: scm_id.clone() })
        .await
        .unwrap();
    let classes = as_member
        .list_environment_classes(pb::ListEnvironmentClassesRequest::default())
        .await
        .unwrap();
    assert_eq!(classes.into_inner().environment_classes.len(), 1);
    // ... but do not change
    let denied = |r: Result<tonic::Response<_>, tonic::Status>| r.map(|_: tonic::Response<()>| ()).unwrap_err().code();
    let err = as_member
        .create_environment_class(class(&linux, "Mine", vec![]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = as_member
        .update_environment_class(pb::UpdateEnvironmentClassRequest {
            environment_class_id: class_id.clone(),
            enabled: Some(false),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = as_member.create_scm_integration(pb::CreateScmIntegrationRequest {
        host: "gitlab.example.com".into(),
        ..scm.clone()
    });
    assert_eq!(err.await.unwrap_err().code(), Code::PermissionDenied);
    let err = as_member
        .delete_scm_integration(pb::DeleteScmIntegrationRequest { id: scm_id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = as_member.create_llm_integration(llm.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = as_member
        .delete_llm_integration(pb::DeleteLlmIntegrationRequest {
            id: llm_id.clone(),
            force: true,
        })
        .await;
    assert_eq!(err.unwrap_err().code(), Code::PermissionDenied);
    let _ = denied;

    // another organization learns nothing
    let err = as_stranger
        .get_environment_class(pb::GetEnvironmentClassRequest {
            environment_class_id: class_id.clone(),
        })
        .await;
    assert_eq!(err.unwrap_err().code(), Code::NotFound);
    let err = as_stranger
        .get_scm_integration(pb::GetScmIntegrationRequest { id: scm_id.clone() })
        .await;
    assert_eq!(err.unwrap_err().code(), Code::NotFound);
    let err = as_stranger
        .get_llm_integration(pb::GetLlmIntegrationRequest { id: llm_id.clone() })
        .await;
    assert_eq!(err.unwrap_err().code(), Code::NotFound);
    let err = as_stranger
        .create_environment_class(class(&linux, "Theirs", vec![]))
        .await;
    assert_eq!(err.unwrap_err().code(), Code::NotFound);
    let err = as_stranger.get_runner_configuration_schema(pb::GetRunnerConfigurationSchemaRequest {
        runner_id: linux.clone(),
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
        runner_id: linux.clone(),
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

    // a runner sees its own classes only
    let other = runner(&server, &admin.token, "other", pb::RunnerProvider::LinuxHost).await;
    create_class(&mut as_admin, &other, "Other").await;
    let exchange = server
        .runners(Protocol::Grpc, &admin.token)
        .await
        .create_runner_token(pb::CreateRunnerTokenRequest {
            runner_id: linux.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .exchange_token;
    let access = server
        .identity(Protocol::Grpc, None)
        .await
        .exchange_token(pb::ExchangeTokenRequest {
            exchange_token: exchange,
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let mut as_runner = server.configuration(Protocol::Grpc, &access).await;
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
        vec![class_id.as_str()]
    );
    server.stop().await;
}
