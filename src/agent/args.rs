//! `paddock agent`'s command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::base::duration::parse as parse_duration;

/// `paddock agent`: the reference runner (a client of the public API).
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The paddock server, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "PADDOCK_AGENT_SERVER")]
    pub server: String,
    /// The runner's exchange token (CreateRunner, CreateRunnerToken). Needed
    /// on first start; a restart with the state file needs none, and a new
    /// token starts over with a new key.
    #[arg(long, env = "PADDOCK_AGENT_EXCHANGE_TOKEN", hide_env_values = true)]
    pub exchange_token: Option<String>,
    /// Where the agent keeps its access token and key pair (written 0600).
    #[arg(long, env = "PADDOCK_AGENT_STATE_FILE")]
    pub state_file: PathBuf,
    /// The agent's name, reported in the runner's status. Default: the host name.
    #[arg(long, env = "PADDOCK_AGENT_NAME")]
    pub name: Option<String>,
    /// The region reported in the runner's status.
    #[arg(long, env = "PADDOCK_AGENT_REGION", default_value = "")]
    pub region: String,
    /// An environment class the runner offers, by display name (repeatable;
    /// sent at sign-up).
    #[arg(
        long = "environment-class",
        env = "PADDOCK_AGENT_ENVIRONMENT_CLASSES",
        value_delimiter = ','
    )]
    pub environment_classes: Vec<String>,
    /// Longest wait between retries when the server cannot be reached.
    #[arg(long, env = "PADDOCK_AGENT_RETRY_MAX", default_value = "30s", value_parser = parse_duration)]
    pub retry_max: Duration,
}

impl AgentArgs {
    pub fn into_options(self) -> super::Options {
        let name = self
            .name
            .filter(|n| !n.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok().filter(|n| !n.is_empty()))
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|n| n.trim().to_owned())
            })
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "agent".into());
        super::Options {
            server: self.server,
            exchange_token: self.exchange_token,
            state_file: self.state_file,
            name,
            region: self.region,
            environment_classes: self.environment_classes,
            retry_base: Duration::from_millis(200),
            retry_cap: self.retry_max.max(Duration::from_millis(200)),
        }
    }
}
