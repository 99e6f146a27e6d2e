//! Environment classes: created, read, filtered, paged and updated; their
//! configuration fits the runner's schema; bad input is refused.

use super::*;

protocol_tests!(environment_classes_are_created_read_filtered_paged_and_updated);
async fn environment_classes_are_created_read_filtered_paged_and_updated(protocol: Protocol) {
    let server = TestServer::start().await;
    let token = server.admin.token.clone();
    let linux = runner(&server, protocol, &token, "linux", pb::RunnerProvider::LinuxHost).await;
    let aws = runner(&server, protocol, &token, "aws", pb::RunnerProvider::AwsEc2).await;
    let mut config = server.configuration(protocol, &token).await;

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

protocol_tests!(environment_class_configuration_must_fit_the_runner_schema);
async fn environment_class_configuration_must_fit_the_runner_schema(protocol: Protocol) {
    let server = TestServer::start().await;
    let token = server.admin.token.clone();
    let aws = runner(&server, protocol, &token, "aws", pb::RunnerProvider::AwsEc2).await;
    let mut config = server.configuration(protocol, &token).await;
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

// Create, Get, List (page size, filters) and Update, one broken rule at a time
protocol_tests!(environment_class_requests_refuse_bad_input);
async fn environment_class_requests_refuse_bad_input(protocol: Protocol) {
    let mut k = keepers(protocol).await;
    let mut cases = Cases::default();
    cases.check(
        "class: runner id",
        k.config.create_environment_class(class(BAD_ID, "Name", vec![])).await,
        &["runner_id"],
    );
    cases.check(
        "class: short name",
        k.config.create_environment_class(class(&k.linux, "ab", vec![])).await,
        &["display_name"],
    );
    cases.check(
        "class: long name",
        k.config
            .create_environment_class(class(&k.linux, &"n".repeat(128), vec![]))
            .await,
        &["display_name"],
    );
    cases.check(
        "class: short description",
        k.config
            .create_environment_class(pb::CreateEnvironmentClassRequest {
                description: "ab".into(),
                ..class(&k.linux, "Name", vec![])
            })
            .await,
        &["description"],
    );
    cases.check(
        "class: long description",
        k.config
            .create_environment_class(pb::CreateEnvironmentClassRequest {
                description: "d".repeat(201),
                ..class(&k.linux, "Name", vec![])
            })
            .await,
        &["description"],
    );
    cases.check(
        "get class: id",
        k.config
            .get_environment_class(pb::GetEnvironmentClassRequest {
                environment_class_id: BAD_ID.into(),
            })
            .await,
        &["environment_class_id"],
    );
    cases.check(
        "list classes: page size",
        k.config
            .list_environment_classes(pb::ListEnvironmentClassesRequest {
                pagination: page(101),
                filter: None,
            })
            .await,
        &["pagination.page_size"],
    );
    cases.check(
        "list classes: 26 runner ids",
        k.config
            .list_environment_classes(pb::ListEnvironmentClassesRequest {
                pagination: None,
                filter: Some(pb::list_environment_classes_request::Filter {
                    runner_ids: too_many_ids(),
                    ..Default::default()
                }),
            })
            .await,
        &["filter.runner_ids"],
    );
    cases.check(
        "list classes: runner id",
        k.config
            .list_environment_classes(pb::ListEnvironmentClassesRequest {
                pagination: None,
                filter: Some(pb::list_environment_classes_request::Filter {
                    runner_ids: vec![BAD_ID.into()],
                    ..Default::default()
                }),
            })
            .await,
        &["filter.runner_ids[0]"],
    );
    cases.check(
        "list classes: 26 kinds",
        k.config
            .list_environment_classes(pb::ListEnvironmentClassesRequest {
                pagination: None,
                filter: Some(pb::list_environment_classes_request::Filter {
                    runner_kinds: vec![1; 26],
                    ..Default::default()
                }),
            })
            .await,
        &["filter.runner_kinds"],
    );
    cases.check(
        "list classes: 26 providers",
        k.config
            .list_environment_classes(pb::ListEnvironmentClassesRequest {
                pagination: None,
                filter: Some(pb::list_environment_classes_request::Filter {
                    runner_providers: vec![1; 26],
                    ..Default::default()
                }),
            })
            .await,
        &["filter.runner_providers"],
    );
    cases.check(
        "update class: id and name",
        k.config
            .update_environment_class(pb::UpdateEnvironmentClassRequest {
                environment_class_id: BAD_ID.into(),
                display_name: Some("x".into()),
                description: Some("y".repeat(201)),
                enabled: None,
            })
            .await,
        &["environment_class_id", "display_name", "description"],
    );
    cases.assert_all_refused(12);
    k.assert_untouched().await;
}
