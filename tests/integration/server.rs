//! The port itself: reflection, health, restarts, graceful shutdown.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::oneshot;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1alpha;

use crate::harness::*;

#[tokio::test]
async fn reflection_lists_the_gitpod_services_on_v1_and_v1alpha() {
    let server = TestServer::start().await;
    let channel = tonic::transport::Endpoint::from_shared(server.url())
        .unwrap()
        .connect()
        .await
        .unwrap();

    let mut v1 = ServerReflectionClient::new(channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = v1
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("{response:?}")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "gitpod.v1.RunnerService",
        "gitpod.v1.RunnerConfigurationService",
        "gitpod.v1.IdentityService",
    ] {
        assert!(names.contains(&expected.to_owned()), "{names:?}");
    }

    // and the files behind a symbol, for clients that build requests from them
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol("gitpod.v1.RunnerService".into())),
    };
    let mut stream = v1
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = stream.message().await.unwrap().unwrap();
    assert!(
        matches!(response.message_response, Some(MessageResponse::FileDescriptorResponse(f)) if !f.file_descriptor_proto.is_empty())
    );

    let mut alpha = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1alpha::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream = alpha
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = stream.message().await.unwrap().unwrap();
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        response.message_response
    else {
        panic!("{response:?}")
    };
    assert!(list.service.iter().any(|s| s.name == "gitpod.v1.RunnerService"));
    server.stop().await;
}

/// Tools that call by name (buf curl, grpcurl) find the health service
/// through reflection, on both reflection versions.
#[tokio::test]
async fn reflection_lists_the_health_service_and_serves_its_file() {
    let server = TestServer::start().await;
    let channel = tonic::transport::Endpoint::from_shared(server.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut v1 = ServerReflectionClient::new(channel.clone());
    let ask = |message_request| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(message_request),
    };
    let requests = [
        ask(MessageRequest::ListServices(String::new())),
        ask(MessageRequest::FileContainingSymbol("grpc.health.v1.Health".into())),
    ];
    let mut stream = v1
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let listed = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = listed.message_response else {
        panic!("{listed:?}")
    };
    assert!(
        list.service.iter().any(|s| s.name == "grpc.health.v1.Health"),
        "{list:?}"
    );
    let file = stream.message().await.unwrap().unwrap();
    assert!(
        matches!(file.message_response, Some(MessageResponse::FileDescriptorResponse(f)) if !f.file_descriptor_proto.is_empty()),
        "the file declaring grpc.health.v1.Health"
    );

    let mut alpha = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1alpha::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream = alpha
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = stream.message().await.unwrap().unwrap();
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        response.message_response
    else {
        panic!("{response:?}")
    };
    assert!(list.service.iter().any(|s| s.name == "grpc.health.v1.Health"));
    server.stop().await;
}

#[tokio::test]
async fn health_answers_serving() {
    let server = TestServer::start().await;
    let channel = tonic::transport::Endpoint::from_shared(server.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    for service in [
        "",
        "gitpod.v1.RunnerService",
        "gitpod.v1.RunnerConfigurationService",
        "gitpod.v1.IdentityService",
    ] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_restarted_server_has_all_its_data() {
    let server = TestServer::start().await;
    let mut api = server.runners(Protocol::Grpc, &server.admin.token).await;
    let mut before = Vec::new();
    for i in 0..3 {
        before.push(
            api.create_runner(linux_runner(&format!("durable {i}")))
                .await
                .unwrap()
                .into_inner()
                .runner
                .unwrap(),
        );
    }
    let group = server.group(server.admin.organization_id, "g", &[]).await.to_string();
    api.create_runner_policy(pb::CreateRunnerPolicyRequest {
        runner_id: before[0].runner_id.clone(),
        group_id: group.clone(),
        role: pb::RunnerRole::Admin as i32,
    })
    .await
    .unwrap();
    let (db, key, admin) = server.stop().await;

    // written over gRPC, read back over every protocol
    let server = TestServer::start_on(db, key, Some(admin)).await;
    for protocol in PROTOCOLS {
        let mut api = server.runners(protocol, &server.admin.token).await;
        let after = api
            .list_runners(pb::ListRunnersRequest::default())
            .await
            .unwrap()
            .into_inner()
            .runners;
        assert_eq!(after, before, "{protocol:?}");
        let policies = api
            .list_runner_policies(pb::ListRunnerPoliciesRequest {
                runner_id: before[0].runner_id.clone(),
                pagination: None,
            })
            .await
            .unwrap()
            .into_inner()
            .policies;
        assert_eq!(policies.len(), 1, "{protocol:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_server_refuses_to_start_with_another_secret_key() {
    let server = TestServer::start().await;
    let (db, _key, _admin) = server.stop().await;
    let settings =
        paddock::server::settings::Settings::for_tests(&db.url, paddock::base::secrets::SecretKey::generate().unwrap());
    let err = paddock::server::prepare(&settings).await.unwrap_err();
    assert!(format!("{err:#}").contains("secret key does not match"), "{err:#}");
}

/// A request body that holds back its one frame until released.
struct HeldBody {
    release: Option<oneshot::Receiver<()>>,
    frame: Option<Bytes>,
}

impl http_body::Body for HeldBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(rx) = self.release.as_mut() {
            match Pin::new(rx).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(_) => self.release = None,
            }
        }
        Poll::Ready(self.frame.take().map(|b| Ok(Frame::data(b))))
    }
}

use std::future::Future;

#[tokio::test]
async fn shutdown_lets_calls_in_flight_finish() {
    let server = TestServer::start().await;
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<HeldBody>();
    let call = |path: &str, release: Option<oneshot::Receiver<()>>| {
        http::Request::builder()
            .method("POST")
            .uri(format!("{}{path}", server.url()))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("authorization", format!("Bearer {}", server.admin.token))
            // an empty message: uncompressed flag, zero length
            .body(HeldBody {
                release,
                frame: Some(Bytes::from_static(&[0, 0, 0, 0, 0])),
            })
            .unwrap()
    };

    // A's headers go out; its body waits
    let (release, held) = oneshot::channel();
    let in_flight =
        tokio::spawn(client.request(call("/gitpod.v1.IdentityService/GetAuthenticatedIdentity", Some(held))));
    // B on the same HTTP/2 connection: once it is answered, the server has seen A
    let b = client
        .request(call("/gitpod.v1.IdentityService/GetAuthenticatedIdentity", None))
        .await
        .unwrap();
    assert_eq!(
        b.headers().get("grpc-status").map(|v| v.as_bytes()),
        None,
        "B's status comes in trailers"
    );

    let stopping = tokio::spawn(server.stop());
    tokio::task::yield_now().await;
    let _ = release.send(());
    let response = in_flight.await.unwrap().expect("A is answered despite the shutdown");
    assert_eq!(response.status(), 200);
    let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap();
    let trailers = body.trailers().cloned().unwrap_or_default();
    assert_eq!(trailers.get("grpc-status").map(|v| v.as_bytes()), Some(&b"0"[..]));
    stopping.await.unwrap();
}
