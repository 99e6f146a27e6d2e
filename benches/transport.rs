//! GetRunner at concurrency 16 against one paddock on a fresh SQLite file,
//! over gRPC and over Connect+proto, and against two reference servers built
//! here from the same tonic and SeaORM: a bare echo of a GetRunner response
//! (the transport ceiling) and a SeaORM point read by primary key of the
//! same runner row through the same read pool (the storage ceiling).
//! Measured in windows whose order alternates pair by pair (A B C D, D C B A
//! …) so that drift of this noisy machine hits all alike.
//!
//!   cargo bench --bench transport [-- PAIRS]
//!
//! Prints each window and the median of per-pair ratios with their
//! interquartile ranges. Not a test: nothing here passes or fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use paddock::proto::gitpod::v1 as pb;
use paddock::{auth, config, secrets::SecretKey, server, store};
use prost::Message;

const CONCURRENCY: usize = 16;
const WARMUP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug)]
enum Transport {
    Grpc,
    ConnectProto,
    ConnectJson,
}

/// Requests per second of one window of `transport`.
async fn window(transport: Transport, url: &str, token: &str, runner_id: &str) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let counting = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let h2 = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let body = Bytes::from(
        pb::GetRunnerRequest {
            runner_id: runner_id.into(),
        }
        .encode_to_vec(),
    );
    let json_body = Bytes::from(format!(r#"{{"runnerId":"{runner_id}"}}"#));
    for _ in 0..CONCURRENCY {
        let (stop, counting, done) = (stop.clone(), counting.clone(), done.clone());
        let (channel, h2, body, json_body) = (channel.clone(), h2.clone(), body.clone(), json_body.clone());
        let (url, token, runner_id) = (url.to_owned(), token.to_owned(), runner_id.to_owned());
        workers.push(tokio::spawn(async move {
            let mut grpc = pb::runner_service_client::RunnerServiceClient::new(channel);
            while !stop.load(Ordering::Relaxed) {
                let ok = match transport {
                    Transport::Grpc => {
                        let mut request = tonic::Request::new(pb::GetRunnerRequest {
                            runner_id: runner_id.clone(),
                        });
                        request
                            .metadata_mut()
                            .insert("authorization", format!("Bearer {token}").parse().unwrap());
                        grpc.get_runner(request).await.is_ok()
                    }
                    Transport::ConnectProto | Transport::ConnectJson => {
                        let (content_type, body) = match transport {
                            Transport::ConnectJson => ("application/json", json_body.clone()),
                            _ => ("application/proto", body.clone()),
                        };
                        let request = http::Request::post(format!("{url}/gitpod.v1.RunnerService/GetRunner"))
                            .header("content-type", content_type)
                            .header("authorization", format!("Bearer {token}"))
                            .body(Full::new(body))
                            .unwrap();
                        match h2.request(request).await {
                            Ok(response) => {
                                let ok = response.status() == 200;
                                ok && response.into_body().collect().await.is_ok()
                            }
                            Err(_) => false,
                        }
                    }
                };
                assert!(ok, "{transport:?} call failed");
                if counting.load(Ordering::Relaxed) {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(WARMUP).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(MEASURE).await;
    counting.store(false, Ordering::Relaxed);
    let rps = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    rps
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The transport ceiling: answers GetRunner with a fixed runner.
struct Echo(pb::GetRunnerResponse);

#[tonic::async_trait]
impl pb::runner_service_server::RunnerService for Echo {
    async fn get_runner(
        &self,
        _: tonic::Request<pb::GetRunnerRequest>,
    ) -> Result<tonic::Response<pb::GetRunnerResponse>, tonic::Status> {
        Ok(tonic::Response::new(self.0.clone()))
    }
}

/// The storage ceiling: GetRunner as one SeaORM read by primary key, mapped
/// to the proto — no authentication, validation or authorization.
struct PointRead(sea_orm::DatabaseConnection);

#[tonic::async_trait]
impl pb::runner_service_server::RunnerService for PointRead {
    async fn get_runner(
        &self,
        request: tonic::Request<pb::GetRunnerRequest>,
    ) -> Result<tonic::Response<pb::GetRunnerResponse>, tonic::Status> {
        use sea_orm::EntityTrait;
        let id =
            uuid::Uuid::parse_str(&request.get_ref().runner_id).map_err(|_| tonic::Status::invalid_argument("id"))?;
        let row = paddock::store::entities::runner::Entity::find_by_id(id)
            .one(&self.0)
            .await
            .map_err(|e| tonic::Status::internal(e.to_string()))?
            .ok_or_else(|| tonic::Status::not_found("runner"))?;
        Ok(tonic::Response::new(pb::GetRunnerResponse {
            runner: Some(paddock::api::convert::runner(row)),
        }))
    }
}

async fn serve_reference<S: pb::runner_service_server::RunnerService>(service: S) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(pb::runner_service_server::RunnerServiceServer::new(service))
            .serve_with_incoming(incoming),
    );
    url
}

fn main() {
    let pairs: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10);
    // servers and load generator on separate runtimes, one worker thread each
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("bench.db").display());

    let (paddock_url, token, state) = server_rt.block_on(async {
        let settings = config::Settings {
            database_url,
            secret_key: SecretKey::generate().unwrap(),
            admin_token: None,
            public_url: "https://paddock.test".into(),
            scm_api_urls: Default::default(),
            token_cache_ttl: paddock::auth::cache::DEFAULT_TTL,
        };
        let state = server::prepare(&settings).await.unwrap();
        let org = store::organizations::ensure(&state.db, "bench").await.unwrap();
        let token = auth::tokens::generate(auth::tokens::TokenKind::PersonalAccess).unwrap();
        let user = store::organizations::NewUser {
            organization_id: org.id,
            name: "bench",
            org_admin: true,
            token_hash: token.hash,
        };
        store::organizations::create_user(&state.db, user).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(server::serve(
            listener,
            state.clone(),
            server::ServerOptions::default(),
            std::future::pending(),
        ));
        (url, token.plaintext, state)
    });
    let created = client_rt.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(paddock_url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = pb::runner_service_client::RunnerServiceClient::new(channel);
        let mut request = tonic::Request::new(pb::CreateRunnerRequest {
            name: "bench runner".into(),
            provider: pb::RunnerProvider::LinuxHost as i32,
            ..Default::default()
        });
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        client
            .create_runner(request)
            .await
            .unwrap()
            .into_inner()
            .runner
            .unwrap()
    });
    let runner_id = created.runner_id.clone();
    let (echo_url, point_url) = server_rt.block_on(async {
        let echo = serve_reference(Echo(pb::GetRunnerResponse { runner: Some(created) })).await;
        // the same pool paddock reads from
        let point = serve_reference(PointRead(state.read_db.clone())).await;
        (echo, point)
    });

    // (name, transport, url)
    let targets: [(&str, Transport, &str); 5] = [
        ("paddock gRPC", Transport::Grpc, &paddock_url),
        ("paddock Connect+proto", Transport::ConnectProto, &paddock_url),
        ("paddock Connect+JSON", Transport::ConnectJson, &paddock_url),
        ("SeaORM point read (gRPC)", Transport::Grpc, &point_url),
        ("bare echo (gRPC)", Transport::Grpc, &echo_url),
    ];
    println!("GetRunner, concurrency {CONCURRENCY}, {pairs} rounds of {MEASURE:?} windows (after {WARMUP:?} warm-up)");
    let mut rps: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
    let (mut grpc_vs_point, mut connect_vs_grpc, mut point_vs_echo) = (Vec::new(), Vec::new(), Vec::new());
    let mut json_vs_grpc = Vec::new();
    for round in 0..pairs {
        let mut order: Vec<usize> = (0..targets.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        let mut this = [0.0; 5];
        for i in order {
            let (_, transport, url) = targets[i];
            this[i] = client_rt.block_on(window(transport, url, &token, &runner_id));
        }
        println!(
            "round {round:2}: gRPC {:7.0}  Connect+proto {:7.0}  Connect+JSON {:7.0}  point read {:7.0}  echo {:7.0} req/s",
            this[0], this[1], this[2], this[3], this[4]
        );
        for (i, r) in this.iter().enumerate() {
            rps[i].push(*r);
        }
        grpc_vs_point.push(this[0] / this[3]);
        connect_vs_grpc.push(this[1] / this[0]);
        json_vs_grpc.push(this[2] / this[0]);
        point_vs_echo.push(this[3] / this[4]);
    }
    for v in rps.iter_mut().chain([
        &mut grpc_vs_point,
        &mut connect_vs_grpc,
        &mut json_vs_grpc,
        &mut point_vs_echo,
    ]) {
        v.sort_by(|a, b| a.total_cmp(b));
    }
    for (i, (name, _, _)) in targets.iter().enumerate() {
        println!("median {name:26} {:8.0} req/s", quantile(&rps[i], 0.5));
    }
    for (name, v) in [
        ("paddock gRPC / SeaORM point read", &grpc_vs_point),
        ("Connect+proto / paddock gRPC", &connect_vs_grpc),
        ("Connect+JSON / paddock gRPC", &json_vs_grpc),
        ("SeaORM point read / bare echo", &point_vs_echo),
    ] {
        println!(
            "ratio {name:34} {:.3} (IQR {:.3}–{:.3})",
            quantile(v, 0.5),
            quantile(v, 0.25),
            quantile(v, 0.75)
        );
    }
    drop(server_rt);
}
