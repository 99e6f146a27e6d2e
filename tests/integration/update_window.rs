//! A runner's update window is hours of a day (UTC): 0 to 23. Hours that no
//! day has are refused by field, on create and on update, never cast.

use tonic::Code;

use crate::harness::*;

fn window(start_hour: Option<u32>, end_hour: Option<u32>) -> Option<pb::RunnerSpec> {
    Some(pb::RunnerSpec {
        configuration: Some(pb::RunnerConfiguration {
            update_window: Some(pb::UpdateWindow { start_hour, end_hour }),
            ..Default::default()
        }),
        ..Default::default()
    })
}

protocol_tests!(update_window_hours_outside_a_day_are_refused_by_field);
async fn update_window_hours_outside_a_day_are_refused_by_field(protocol: Protocol) {
    let server = TestServer::start().await;
    let mut api = server.runners(protocol, &server.admin.token).await;

    // create: 24 and 2^32-1 (which `as i32` would have stored as -1)
    for (start, end, field) in [
        (Some(24), Some(3), "spec.configuration.update_window.start_hour"),
        (Some(1), Some(u32::MAX), "spec.configuration.update_window.end_hour"),
    ] {
        let err = api
            .create_runner(pb::CreateRunnerRequest {
                spec: window(start, end),
                ..linux_runner("windowed")
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), [field]);
    }

    // the edges of a day are fine, and are what GetRunner shows
    let created = api
        .create_runner(pb::CreateRunnerRequest {
            spec: window(Some(0), Some(23)),
            ..linux_runner("windowed")
        })
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap();
    let stored = created.spec.unwrap().configuration.unwrap().update_window.unwrap();
    assert_eq!((stored.start_hour, stored.end_hour), (Some(0), Some(23)));

    // update: refused without changing what is stored
    let id = created.runner_id;
    let err = api
        .update_runner(pb::UpdateRunnerRequest {
            runner_id: id.clone(),
            spec: Some(pb::update_runner_request::Spec {
                configuration: Some(pb::update_runner_request::RunnerConfiguration {
                    update_window: Some(pb::UpdateWindow {
                        start_hour: Some(2),
                        end_hour: Some(100),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["spec.configuration.update_window.end_hour"]);
    let runner = api
        .get_runner(pb::GetRunnerRequest { runner_id: id })
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap();
    let kept = runner.spec.unwrap().configuration.unwrap().update_window.unwrap();
    assert_eq!((kept.start_hour, kept.end_hour), (Some(0), Some(23)));
    server.stop().await;
}
