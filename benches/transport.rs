//! GetRunner over gRPC and over Connect+proto, at concurrency 16, against one
//! paddock on a fresh SQLite file — measured in alternating windows
//! (A B B A …) so that drift of this noisy machine hits both alike.
//!
//!   cargo bench --bench transport [-- PAIRS]
//!
//! Prints each window and the median of per-pair ratios (Connect / gRPC)
//! with its interquartile range. Not a test: nothing here passes or fails.

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
    for _ in 0..CONCURRENCY {
        let (stop, counting, done) = (stop.clone(), counting.clone(), done.clone());
        let (channel, h2, body) = (channel.clone(), h2.clone(), body.clone());
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
                    Transport::ConnectProto => {
                        let request = http::Request::post(format!("{url}/gitpod.v1.RunnerService/GetRunner"))
                            .header("content-type", "application/proto")
                            .header("authorization", format!("Bearer {token}"))
                            .body(Full::new(body.clone()))
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

fn main() {
    let pairs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    // server and load generator on separate runtimes, one worker thread each
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
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());

    let (addr, token, runner_id) = server_rt.block_on(async {
        let settings = config::Settings {
            database_url: url,
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
        let addr = listener.local_addr().unwrap();
        tokio::spawn(server::serve(
            listener,
            state,
            server::ServerOptions::default(),
            std::future::pending(),
        ));
        (addr, token.plaintext, String::new())
    });
    let url = format!("http://{addr}");
    let runner_id = if runner_id.is_empty() {
        client_rt.block_on(async {
            let channel = tonic::transport::Endpoint::from_shared(url.clone())
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
                .runner_id
        })
    } else {
        runner_id
    };

    println!("GetRunner, concurrency {CONCURRENCY}, {pairs} pairs of {MEASURE:?} windows (after {WARMUP:?} warm-up)");
    let mut ratios = Vec::new();
    let (mut grpc_all, mut connect_all) = (Vec::new(), Vec::new());
    for pair in 0..pairs {
        // A B in even pairs, B A in odd ones
        let order = if pair % 2 == 0 {
            [Transport::Grpc, Transport::ConnectProto]
        } else {
            [Transport::ConnectProto, Transport::Grpc]
        };
        let mut rps = [0.0; 2];
        for transport in order {
            let r = client_rt.block_on(window(transport, &url, &token, &runner_id));
            rps[transport as usize] = r;
        }
        println!(
            "pair {pair:2}: grpc {:8.0} rps   connect+proto {:8.0} rps   ratio {:.3}",
            rps[0],
            rps[1],
            rps[1] / rps[0]
        );
        grpc_all.push(rps[0]);
        connect_all.push(rps[1]);
        ratios.push(rps[1] / rps[0]);
    }
    for v in [&mut ratios, &mut grpc_all, &mut connect_all] {
        v.sort_by(|a, b| a.total_cmp(b));
    }
    println!(
        "median: grpc {:.0} rps, connect+proto {:.0} rps; ratio connect/grpc {:.3} (IQR {:.3}–{:.3})",
        quantile(&grpc_all, 0.5),
        quantile(&connect_all, 0.5),
        quantile(&ratios, 0.5),
        quantile(&ratios, 0.25),
        quantile(&ratios, 0.75)
    );
    drop(server_rt);
}
