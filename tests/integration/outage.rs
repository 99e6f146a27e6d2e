//! The database gone: calls fail fast with UNAVAILABLE and say why, gRPC
//! health says NOT_SERVING, and paddock recovers by itself when it returns. The outage is a TCP proxy of
//! the test's own between paddock and PostgreSQL, cut and restored — the
//! shared PostgreSQL other tests use never stops.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use paddock::base::secrets::SecretKey;
use sea_orm::ConnectionTrait;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::harness::*;

/// What gRPC health says of `service`, polled until it says `status` (a
/// probe runs every second).
async fn health_becomes(server: &TestServer, service: &str, status: ServingStatus) {
    let channel = tonic::transport::Endpoint::from_shared(server.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let health = HealthClient::new(channel);
    eventually(
        Duration::from_secs(10),
        &format!("health of {service:?} is {status:?}"),
        async || {
            let answer = health
                .clone()
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await
                .ok()?;
            (answer.into_inner().status == status as i32).then_some(())
        },
    )
    .await;
}

/// What the proxy does with connections.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Forwards them to the database.
    Up,
    /// Drops every open one and every new one at once (a database that went away).
    Refused,
    /// Drops the open ones and holds new ones silent (a network that went away).
    Silent,
}

struct Proxy {
    addr: SocketAddr,
    link: watch::Sender<Link>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (link, watching) = watch::channel(Link::Up);
        let task = tokio::spawn(async move {
            let mut open = JoinSet::new();
            let mut held = Vec::new();
            let mut changes = watching.clone();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((mut client, _)) = accepted else { continue };
                        match *watching.borrow() {
                            Link::Up => {}
                            Link::Refused => continue, // dropped: the connection closes
                            Link::Silent => {
                                held.push(client);
                                continue;
                            }
                        }
                        open.spawn(async move {
                            if let Ok(mut server) = TcpStream::connect(upstream).await {
                                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            }
                        });
                    }
                    changed = changes.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        if *changes.borrow() != Link::Up {
                            open.abort_all();
                        } else {
                            held.clear();
                        }
                    }
                }
            }
        });
        Proxy { addr, link, task }
    }

    fn set(&self, link: Link) {
        self.link.send_replace(link);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn a_database_that_takes_no_writes_refuses_them_clearly_while_reads_go_on() {
    let server = TestServer::start().await;
    let (runner_id, _) = server.runner_with_token(Protocol::Grpc, &server.admin, "before").await;
    // a database that answers writes as a full disk or a read-only mount do
    // (SQLite), or as a read-only standby after a failover (PostgreSQL)
    if using_postgres() {
        // new sessions are read-only, and every session of the database ends:
        // the pool reconnects into read-only sessions. Ended from a session
        // of another database: one of the server's own would end itself
        // part-way through the list, and leave the rest writing.
        let name = server.db.url.rsplit('/').next().unwrap().to_owned();
        let admin = sea_orm::Database::connect(postgres_admin_url()).await.unwrap();
        admin
            .execute_unprepared(&format!("ALTER DATABASE {name} SET default_transaction_read_only = on"))
            .await
            .unwrap();
        admin
            .execute_unprepared(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            ))
            .await
            .unwrap();
        admin.close().await.unwrap();
    } else {
        // SQLite's one writer connection: SQLITE_READONLY from now on
        server
            .state
            .db
            .execute_unprepared("PRAGMA query_only = 1")
            .await
            .unwrap();
    }
    let mut runners = server.runners(Protocol::Grpc, &server.admin.token).await;
    let refused = eventually(Duration::from_secs(10), "writes refused as such", async || {
        let status = runners.create_runner(linux_runner("after")).await.err()?;
        // (PostgreSQL's pool first notices the sessions it lost: UNAVAILABLE, unreachable)
        status.message().contains("cannot take writes").then_some(status)
    })
    .await;
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    // reads go on
    runners
        .get_runner(pb::GetRunnerRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .expect("reads keep working");
    let listed = runners.list_runners(pb::ListRunnersRequest::default()).await.unwrap();
    assert!(listed.into_inner().runners.iter().any(|r| r.runner_id == runner_id));
    server.stop().await;
}

#[tokio::test]
async fn calls_fail_fast_with_unavailable_while_the_database_is_gone_and_recover_after() {
    if !using_postgres() {
        eprintln!("skipped: SQLite is a file, not a service that goes away");
        return;
    }
    let db = Arc::new(TestDb::new().await);
    let upstream: SocketAddr = "127.0.0.1:5432".parse().unwrap();
    let proxy = Proxy::start(upstream).await;
    let through_proxy = db.url.replacen("127.0.0.1:5432", &proxy.addr.to_string(), 1);
    assert_ne!(through_proxy, db.url, "the test database is on 127.0.0.1:5432");
    let server = TestServer::start_configured(db.clone(), SecretKey::generate().unwrap(), None, |settings| {
        settings.database_url = through_proxy.clone();
    })
    .await;
    let (runner_id, _) = server
        .runner_with_token(Protocol::Grpc, &server.admin, "weathered")
        .await;
    let mut runners = server.runners(Protocol::Grpc, &server.admin.token).await;
    let get = pb::GetRunnerRequest {
        runner_id: runner_id.clone(),
    };
    runners.get_runner(get.clone()).await.unwrap();
    health_becomes(&server, "gitpod.v1.RunnerService", ServingStatus::Serving).await;

    // refused at once, then silent: either way an answer within the checkout timeout (2 s)
    for (link, calls) in [(Link::Refused, 3), (Link::Silent, 2)] {
        proxy.set(link);
        for _ in 0..calls {
            let started = Instant::now();
            let status = runners.get_runner(get.clone()).await.unwrap_err();
            let took = started.elapsed();
            assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
            assert!(status.message().contains("database is unreachable"), "{status:?}");
            // the default checkout timeout is 2 s
            assert!(took < Duration::from_secs(3), "took {took:?}");
        }
    }

    for service in ["", "gitpod.v1.RunnerService", "gitpod.v1.EventService"] {
        health_becomes(&server, service, ServingStatus::NotServing).await;
    }

    // under load nothing piles up behind the dead pool: 200 calls at once,
    // reads and writes on four connections, all answered within the timeout
    let started = Instant::now();
    let tasks = tokio::task::LocalSet::new();
    let mut calls = Vec::new();
    for _ in 0..4 {
        let runners = server.runners(Protocol::Grpc, &server.admin.token).await;
        for i in 0..50 {
            let mut runners = runners.clone();
            let get = get.clone();
            calls.push(tasks.spawn_local(async move {
                if i % 2 == 0 {
                    runners.get_runner(get).await.map(|_| ())
                } else {
                    runners.create_runner(linux_runner("in the dark")).await.map(|_| ())
                }
            }));
        }
    }
    tasks
        .run_until(async {
            for call in calls {
                let status = call.await.unwrap().unwrap_err();
                assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
            }
        })
        .await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "200 calls at once took {took:?}");

    proxy.set(Link::Up);
    eventually(Duration::from_secs(10), "calls succeed again", async || {
        runners.clone().get_runner(get.clone()).await.ok()
    })
    .await;
    health_becomes(&server, "", ServingStatus::Serving).await;
    health_becomes(&server, "gitpod.v1.RunnerService", ServingStatus::Serving).await;
    server.stop().await;
}
