//! The two ceilings, served by this same binary (`perf reference …`) as
//! separate processes built from paddock's tonic and SeaORM:
//! - `echo`: GetRunner answered from memory, nothing else (transport ceiling);
//! - `point-read`: GetRunner as one SeaORM read by primary key, through a
//!   pool of its own (size given; the benchmark tries several and keeps the
//!   fastest) with none of paddock's settings — the point-read ceiling;
//! - `storage`: CreateRunner as a bare SeaORM transaction writing what
//!   paddock's writes — the runner, its exchange token, the audit entry, and
//!   on PostgreSQL the NOTIFY that tells the other replicas' watchers — the
//!   write ceiling.
//!
//! Neither authenticates, validates or authorizes. A failed call is printed
//! (one line each), which the benchmark treats as a broken run.

use std::net::SocketAddr;

use anyhow::Context;
use chrono::Utc;
use paddock::protocol::proto::gitpod::v1 as pb;
use paddock::store::entities::{audit_log, runner, token};
use pb::runner_service_server::{RunnerService, RunnerServiceServer};
use prost::Message;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait,
};
use tonic::{Request, Response, Status};

/// `reference echo LISTEN RESPONSE_FILE`, `reference storage LISTEN DATABASE_URL`
/// or `reference point-read LISTEN DATABASE_URL POOL_SIZE`.
pub fn main(args: &[String]) -> anyhow::Result<()> {
    let (kind, listen, arg, rest) = match args {
        [kind, listen, arg, rest @ ..] => (kind, listen, arg, rest),
        _ => anyhow::bail!("usage: reference echo|storage|point-read LISTEN ARG [POOL_SIZE]"),
    };
    let listen: SocketAddr = listen.parse()?;
    // paddock's own runtime: #[tokio::main], a worker per core
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        match kind.as_str() {
            "echo" => {
                let response = pb::GetRunnerResponse::decode(std::fs::read(arg)?.as_slice())?;
                serve(listen, Echo(response)).await
            }
            "storage" => serve(listen, Storage::open(arg).await?).await,
            "point-read" => {
                let pool: u32 = rest.first().context("point-read needs a pool size")?.parse()?;
                serve(listen, PointRead::open(arg, pool).await?).await
            }
            other => anyhow::bail!("no reference server {other}"),
        }
    })
}

async fn serve(listen: SocketAddr, service: impl RunnerService) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_service(RunnerServiceServer::new(service))
        .serve_with_incoming(incoming)
        .await?;
    Ok(())
}

fn reported<T>(result: Result<T, Status>) -> Result<T, Status> {
    if let Err(status) = &result {
        eprintln!("failed call: {status:?}");
    }
    result
}

struct Echo(pb::GetRunnerResponse);

#[tonic::async_trait]
impl RunnerService for Echo {
    async fn get_runner(&self, _: Request<pb::GetRunnerRequest>) -> Result<Response<pb::GetRunnerResponse>, Status> {
        Ok(Response::new(self.0.clone()))
    }
}

struct Storage {
    writer: DatabaseConnection,
    /// A seeded runner, its exchange token and its audit entry: the shape
    /// of every new write.
    runner: runner::Model,
    token: token::Model,
    entry: audit_log::Model,
}

impl Storage {
    async fn open(database_url: &str) -> anyhow::Result<Storage> {
        let writer = paddock::store::connect(database_url).await?;
        let token = token::Entity::find()
            .filter(token::Column::RunnerId.is_not_null())
            .one(&writer)
            .await?
            .context("a seeded exchange token")?;
        let runner = runner::Entity::find_by_id(token.runner_id.context("its runner")?)
            .one(&writer)
            .await?
            .context("a seeded runner")?;
        let entry = audit_log::Entity::find()
            .filter(audit_log::Column::SubjectId.eq(runner.id))
            .one(&writer)
            .await?
            .context("the seeded runner's audit entry")?;
        Ok(Storage {
            writer,
            runner,
            token,
            entry,
        })
    }

    async fn insert_pair(&self, name: String) -> Result<pb::CreateRunnerResponse, Status> {
        let exchange = paddock::auth::tokens::generate(paddock::auth::tokens::TokenKind::RunnerExchange)
            .map_err(|e| Status::internal(e.to_string()))?;
        let now = Utc::now();
        let runner = runner::Model {
            id: uuid::Uuid::now_v7(),
            name,
            created_at: now,
            updated_at: now,
            ..self.runner.clone()
        };
        let token = token::Model {
            id: uuid::Uuid::now_v7(),
            hash: exchange.hash.to_vec(),
            runner_id: Some(runner.id),
            created_at: now,
            expires_at: Some(now + chrono::Duration::hours(3)),
            ..self.token.clone()
        };
        let internal = |e: sea_orm::DbErr| Status::internal(e.to_string());
        let txn = self.writer.begin().await.map_err(internal)?;
        runner::ActiveModel::from(runner.clone())
            .reset_all()
            .insert(&txn)
            .await
            .map_err(internal)?;
        token::Entity::insert(token::ActiveModel::from(token).reset_all())
            .exec_without_returning(&txn)
            .await
            .map_err(internal)?;
        let entry = audit_log::Model {
            id: uuid::Uuid::now_v7(),
            subject_id: runner.id,
            created_at: now,
            ..self.entry.clone()
        };
        audit_log::Entity::insert(audit_log::ActiveModel::from(entry).reset_all())
            .exec_without_returning(&txn)
            .await
            .map_err(internal)?;
        if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
            // the event as paddock announces it (its JSON, its size)
            let event = paddock::base::events::Event {
                operation: pb::ResourceOperation::Create as i32,
                resource_type: pb::ResourceType::Runner as i32,
                resource_id: runner.id,
                organization_id: runner.organization_id,
                runner_id: Some(runner.id),
                holder_id: None,
                actor_id: runner.creator_id,
            };
            let payload = serde_json::to_string(&event).map_err(|e| Status::internal(e.to_string()))?;
            txn.execute(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [paddock::base::events::CHANNEL.into(), payload.into()],
            ))
            .await
            .map_err(internal)?;
        }
        txn.commit().await.map_err(internal)?;
        Ok(pb::CreateRunnerResponse {
            runner: Some(paddock::api::convert::runner(runner)),
            exchange_token: exchange.plaintext,
            ..Default::default()
        })
    }
}

#[tonic::async_trait]
impl RunnerService for Storage {
    async fn create_runner(
        &self,
        request: Request<pb::CreateRunnerRequest>,
    ) -> Result<Response<pb::CreateRunnerResponse>, Status> {
        reported(self.insert_pair(request.into_inner().name).await).map(Response::new)
    }
}

/// The fastest point read a plain tonic + SeaORM server does: nothing of
/// paddock's (not its pool, not its settings), only SeaORM's own connection
/// options, with the pool size the benchmark chose by measuring each
/// candidate on this machine (`main::tune_point_read`).
struct PointRead {
    db: DatabaseConnection,
}

impl PointRead {
    async fn open(database_url: &str, pool: u32) -> anyhow::Result<PointRead> {
        let mut options = sea_orm::ConnectOptions::new(database_url.to_owned());
        // Every connection opened up front and kept; no per-query statement
        // log; no liveness probe before each checkout (on SQLite a probe is a
        // round trip to the connection's worker thread, as costly as the read).
        options
            .sqlx_logging(false)
            .max_connections(pool)
            .min_connections(pool)
            .test_before_acquire(false);
        if database_url.starts_with("sqlite:") {
            // Read-only connections of the file the seed wrote in WAL mode.
            options.map_sqlx_sqlite_opts(|o| o.read_only(true));
        }
        let db = sea_orm::Database::connect(options).await?;
        Ok(PointRead { db })
    }
}

#[tonic::async_trait]
impl RunnerService for PointRead {
    async fn get_runner(
        &self,
        request: Request<pb::GetRunnerRequest>,
    ) -> Result<Response<pb::GetRunnerResponse>, Status> {
        let result = async {
            let id = uuid::Uuid::parse_str(&request.get_ref().runner_id)
                .map_err(|_| Status::invalid_argument("runner_id"))?;
            let row = runner::Entity::find_by_id(id)
                .one(&self.db)
                .await
                .map_err(|e| Status::internal(e.to_string()))?
                .ok_or_else(|| Status::not_found("runner"))?;
            Ok(pb::GetRunnerResponse {
                runner: Some(paddock::api::convert::runner(row)),
            })
        }
        .await;
        reported(result).map(Response::new)
    }
}
