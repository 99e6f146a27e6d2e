//! The runner's side, `paddock agent`: a client of the public API only, like any runner a user writes.
//! May import: base, protocol.
//!
//! It trades its exchange token for an access token, keeps that and an X25519 key pair in its state
//! file, signs up, holds the lease, reports its status, fetches its environment classes and honours
//! deletion.

mod args;
mod backoff;
mod state_file;

pub use args::AgentArgs;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

use self::backoff::{Backoff, jittered};
use self::state_file::AgentState;
use crate::protocol::proto::gitpod::v1 as pb;
use pb::identity_service_client::IdentityServiceClient;
use pb::runner_interaction_service_client::RunnerInteractionServiceClient;

/// What the agent is told on its command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// http://HOST:PORT of paddock.
    pub server: String,
    /// Needed on first start (and to start over with a new token); a
    /// restart with a state file needs none.
    pub exchange_token: Option<String>,
    pub state_file: PathBuf,
    /// Shown in the runner's status (additional info) and in the agent's logs.
    pub name: String,
    pub region: String,
    /// Display names of the environment classes the runner offers at sign-up.
    pub environment_classes: Vec<String>,
    /// First retry delay when the server cannot be reached, and the longest.
    pub retry_base: Duration,
    pub retry_cap: Duration,
}

/// How the agent stopped when nothing went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The runner was deleted: the agent reported DELETED and removed its state.
    Deleted,
    /// A signal stopped it; the state file resumes the runner next time.
    Stopped,
}

/// Runs the agent until its runner is deleted, `shutdown` resolves, or an
/// error no retry can fix (a spent exchange token, a revoked access token).
pub async fn run(options: Options, shutdown: impl Future<Output = ()>) -> anyhow::Result<Outcome> {
    let channel = Endpoint::from_shared(options.server.clone())
        .with_context(|| {
            format!(
                "--server {:?} is not a URL such as http://127.0.0.1:8080",
                options.server
            )
        })?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
        .connect_lazy();
    let agent = Agent {
        backoff: Backoff::new(options.retry_base, options.retry_cap),
        options,
        channel,
    };
    tokio::select! {
        outcome = agent.live() => outcome,
        _ = shutdown => {
            tracing::info!("agent stopping; its state file resumes the runner on the next start");
            Ok(Outcome::Stopped)
        }
    }
}

struct Agent {
    options: Options,
    channel: Channel,
    backoff: Backoff,
}

type Interaction = RunnerInteractionServiceClient<InterceptedService<Channel, Bearer>>;

/// Adds the runner's access token to every call.
#[derive(Clone)]
struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// Failures a retry can fix: the server is down, restarting or overloaded.
fn transient(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Unknown
            | Code::Internal
    )
}

impl Agent {
    async fn live(mut self) -> anyhow::Result<Outcome> {
        let mut state = self.credentials().await?;
        let client = self.interaction(&state)?;
        let runner_id = match state.runner_id.clone() {
            // a restart resumes the runner as it is: no second sign-up, and
            // a deletion made while the agent was down arrives with the lease
            Some(id) => {
                tracing::info!(runner_id = %id, "resuming the runner from the state file");
                id
            }
            None => {
                let id = self.sign_up(&client, &state).await?;
                state.runner_id = Some(id.clone());
                state_file::save(&self.options.state_file, &state)?;
                tracing::info!(runner_id = %id, "signed up");
                id
            }
        };
        self.report_status(&client, &runner_id).await?;
        self.announce_classes(&client, &runner_id).await?;
        self.check_version(&client, &runner_id).await?;
        self.hold_lease(&client, &runner_id).await
    }

    /// The access token and key: from the state file, or by trading the
    /// exchange token (saved at once, before anything else can fail).
    async fn credentials(&mut self) -> anyhow::Result<AgentState> {
        let path = self.options.state_file.clone();
        let saved = state_file::load(&path)?;
        let token = self.options.exchange_token.clone().filter(|t| !t.is_empty());
        match (saved, token) {
            (Some(state), None) => Ok(state),
            (Some(state), Some(token)) if state.came_from(&token) => Ok(state),
            (saved, Some(token)) => {
                if saved.is_some() {
                    tracing::info!("a new exchange token: starting over with a new access token and key");
                }
                let access_token = self.exchange(&token).await?;
                let key = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
                let state = AgentState {
                    runner_id: None,
                    access_token,
                    private_key: state_file::encode_key(&key),
                    exchange_token_sha256: state_file::token_digest(&token),
                };
                state_file::save(&path, &state)?;
                Ok(state)
            }
            (None, None) => bail!(
                "the state file {} does not exist and no --exchange-token was given: \
                 create one with CreateRunner or CreateRunnerToken",
                path.display()
            ),
        }
    }

    async fn exchange(&mut self, token: &str) -> anyhow::Result<String> {
        let mut identity = IdentityServiceClient::new(self.channel.clone());
        let request = pb::ExchangeTokenRequest {
            exchange_token: token.to_owned(),
        };
        let response = self
            .retrying("exchanging the token", async || {
                identity.exchange_token(request.clone()).await
            })
            .await
            .map_err(|status| {
                anyhow::anyhow!(
                    "the exchange token was refused ({}): it is spent, expired or unknown; \
                     issue a new one with CreateRunnerToken",
                    status.message()
                )
            })?;
        Ok(response.access_token)
    }

    fn interaction(&self, state: &AgentState) -> anyhow::Result<Interaction> {
        let header = format!("Bearer {}", state.access_token)
            .parse()
            .context("the state file's access token is not a valid header value")?;
        Ok(RunnerInteractionServiceClient::with_interceptor(
            self.channel.clone(),
            Bearer(header),
        ))
    }

    async fn sign_up(&mut self, client: &Interaction, state: &AgentState) -> anyhow::Result<String> {
        let public_key = state.secret_key()?.public_key();
        let request = pb::SignupRequest {
            public_key: public_key.as_bytes().to_vec(),
            environment_classes: self
                .options
                .environment_classes
                .iter()
                .map(|name| pb::EnvironmentClass {
                    display_name: name.clone(),
                    description: format!("{name}, offered by paddock agent {}", self.options.name),
                    ..Default::default()
                })
                .collect(),
        };
        let mut client = client.clone();
        let response = self
            .retrying("signing up", async || client.signup(request.clone()).await)
            .await
            .map_err(|status| anyhow::anyhow!("sign-up refused: {}", status.message()))?;
        Ok(response.runner_id)
    }

    async fn report_status(&mut self, client: &Interaction, runner_id: &str) -> anyhow::Result<()> {
        let request = pb::UpdateRunnerStatusRequest {
            runner_id: runner_id.to_owned(),
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            system_details: Some(format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH)),
            region: Some(self.options.region.clone()),
            message: Some(format!("paddock agent {} running", self.options.name)),
            phase: Some(pb::RunnerPhase::Active as i32),
            additional_info: vec![
                pb::FieldValue {
                    key: "agent".into(),
                    value: "paddock".into(),
                },
                pb::FieldValue {
                    key: "name".into(),
                    value: self.options.name.clone(),
                },
            ],
            ..Default::default()
        };
        let mut client = client.clone();
        self.retrying("reporting status", async || {
            client.update_runner_status(request.clone()).await
        })
        .await
        .map_err(|status| anyhow::anyhow!("status report refused: {}", status.message()))?;
        Ok(())
    }

    async fn announce_classes(&mut self, client: &Interaction, runner_id: &str) -> anyhow::Result<()> {
        let mut client = client.clone();
        let mut token = String::new();
        let mut names = Vec::new();
        loop {
            let request = pb::ListRunnerEnvironmentClassesRequest {
                runner_id: runner_id.to_owned(),
                pagination: Some(pb::PaginationRequest {
                    token: token.clone(),
                    page_size: 100,
                }),
            };
            let page = self
                .retrying("fetching environment classes", async || {
                    client.list_runner_environment_classes(request.clone()).await
                })
                .await
                .map_err(|status| anyhow::anyhow!("environment classes refused: {}", status.message()))?;
            names.extend(page.environment_classes.into_iter().map(|c| c.display_name));
            token = page.pagination.map(|p| p.next_token).unwrap_or_default();
            if token.is_empty() {
                break;
            }
        }
        tracing::info!(count = names.len(), classes = ?names, "environment classes");
        Ok(())
    }

    async fn check_version(&mut self, client: &Interaction, runner_id: &str) -> anyhow::Result<()> {
        let request = pb::GetLatestVersionRequest {
            runner_id: runner_id.to_owned(),
            current_version: env!("CARGO_PKG_VERSION").to_owned(),
            infrastructure_version: String::new(),
        };
        let mut client = client.clone();
        let latest = self
            .retrying("asking for the latest version", async || {
                client.get_latest_version(request.clone()).await
            })
            .await
            .map_err(|status| anyhow::anyhow!("version check refused: {}", status.message()))?;
        if !latest.version.is_empty() && latest.version != env!("CARGO_PKG_VERSION") {
            tracing::info!(
                latest = %latest.version,
                image = %latest.runner_image,
                auto_update = latest.auto_update,
                "a newer runner release is available"
            );
        }
        Ok(())
    }

    /// Sends the lease every lease duration (less a little jitter) until the
    /// control plane says the runner is being deleted.
    async fn hold_lease(&mut self, client: &Interaction, runner_id: &str) -> anyhow::Result<Outcome> {
        let request = pb::MarkRunnerActiveRequest {
            runner_id: runner_id.to_owned(),
        };
        let mut client = client.clone();
        let mut announced = false;
        loop {
            let answer = self
                .retrying("renewing the lease", async || {
                    client.mark_runner_active(request.clone()).await
                })
                .await
                .map_err(|status| match status.code() {
                    Code::Unauthenticated | Code::NotFound => anyhow::anyhow!(
                        "the runner's access token is no longer accepted ({}): the runner was deleted \
                         or its token replaced; remove {} and start with a new exchange token",
                        status.message(),
                        self.options.state_file.display()
                    ),
                    _ => anyhow::anyhow!("lease refused: {}", status.message()),
                })?;
            if answer.deleting {
                return self.confirm_deletion(&mut client, runner_id).await;
            }
            let lease = answer
                .lease_duration
                .and_then(|d| Duration::try_from(d).ok())
                .filter(|d| !d.is_zero())
                .unwrap_or(Duration::from_secs(30));
            if !announced {
                tracing::info!(runner_id, every = ?lease, "holding the lease");
                announced = true;
            }
            tokio::time::sleep(jittered(lease, 0.1)).await;
        }
    }

    async fn confirm_deletion(&mut self, client: &mut Interaction, runner_id: &str) -> anyhow::Result<Outcome> {
        tracing::info!(runner_id, "the runner is being deleted: reporting DELETED");
        let request = pb::UpdateRunnerStatusRequest {
            runner_id: runner_id.to_owned(),
            phase: Some(pb::RunnerPhase::Deleted as i32),
            ..Default::default()
        };
        match self
            .retrying("reporting DELETED", async || {
                client.update_runner_status(request.clone()).await
            })
            .await
        {
            Ok(_) => {}
            // a report that went through before its answer was lost: the
            // runner and its token are gone already
            Err(status) if matches!(status.code(), Code::Unauthenticated | Code::NotFound) => {}
            Err(status) => bail!("reporting DELETED was refused: {}", status.message()),
        }
        state_file::remove(&self.options.state_file)?;
        tracing::info!(runner_id, "runner deleted; state file removed");
        Ok(Outcome::Deleted)
    }

    /// Calls until the answer is not a transient failure, waiting a jittered,
    /// growing delay between tries.
    async fn retrying<T>(
        &mut self,
        what: &str,
        mut call: impl AsyncFnMut() -> Result<tonic::Response<T>, Status>,
    ) -> Result<T, Status> {
        loop {
            match call().await {
                Ok(response) => {
                    self.backoff.reset();
                    return Ok(response.into_inner());
                }
                Err(status) if transient(&status) => {
                    let delay = self.backoff.next_delay();
                    tracing::warn!(
                        code = ?status.code(),
                        error = %status.message(),
                        retry_in = ?delay,
                        "{what} failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
                Err(status) => return Err(status),
            }
        }
    }
}
