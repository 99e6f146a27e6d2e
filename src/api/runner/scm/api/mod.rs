//! Talking to an SCM's REST API with a user's host token: one module per SCM
//! behind the small `ScmApi` trait, so adding an SCM is adding a file.

mod bitbucket;
mod github;
mod gitlab;

use std::time::Duration;

use serde::de::DeserializeOwned;

/// Every call to an SCM gives up after this long.
pub const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScmError {
    /// The SCM refused the token (expired, revoked): the user must sign in again.
    #[error("the SCM did not accept the token")]
    Unauthorized,
    #[error("the token may not read this")]
    Forbidden,
    #[error("not found on the SCM")]
    NotFound,
    #[error("the SCM did not answer within {TIMEOUT:?}")]
    Timeout,
    #[error("the SCM failed: {0}")]
    Unavailable(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Repository {
    pub name: String,
    pub url: String,
    pub default_branch: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullRequestInfo {
    pub title: String,
    pub from_branch: String,
    pub to_branch: String,
    pub author: String,
    pub head_sha: String,
    pub draft: bool,
    /// "open", "closed" or "merged"
    pub state: String,
    /// The clone URL of the repository the change comes from (forks).
    pub from_clone_url: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Organization {
    pub name: String,
    pub url: String,
}

/// One page of results, and whether more follow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub more: bool,
}

#[tonic::async_trait]
pub trait ScmApi: Send + Sync {
    async fn repository(&self, owner: &str, repo: &str) -> Result<Repository, ScmError>;
    /// The head commit of a branch, None when there is no such branch.
    async fn branch_head(&self, owner: &str, repo: &str, branch: &str) -> Result<Option<String>, ScmError>;
    async fn pull_request(&self, owner: &str, repo: &str, id: &str) -> Result<PullRequestInfo, ScmError>;
    async fn issue_title(&self, owner: &str, repo: &str, id: &str) -> Result<String, ScmError>;
    /// `page` counts from 1.
    async fn search_repositories(&self, query: &str, page: u32, per_page: u32) -> Result<Page<Repository>, ScmError>;
    async fn organizations(&self, page: u32, per_page: u32) -> Result<Page<Organization>, ScmError>;
}

/// The API of `scm_id` at `host`, called with `token` — at `api_base` when
/// the operator set one for the host (`--scm-api-url`), else where the SCM
/// serves it. None for SCMs whose API paddock does not speak yet.
pub fn client(scm_id: &str, host: &str, token: &str, api_base: Option<&str>) -> Option<Box<dyn ScmApi>> {
    let http = Http::new(token)?;
    let base = |default: String| api_base.map(|b| b.trim_end_matches('/').to_owned()).unwrap_or(default);
    match scm_id {
        super::GITHUB => {
            let default = if host == "github.com" {
                "https://api.github.com".to_owned()
            } else {
                format!("{}/api/v3", origin(host))
            };
            Some(Box::new(github::GitHub::new(http, base(default), host)))
        }
        super::GITLAB => Some(Box::new(gitlab::GitLab::new(
            http,
            base(format!("{}/api/v4", origin(host))),
        ))),
        // Bitbucket Cloud; Bitbucket Server's API is another one, not spoken yet
        super::BITBUCKET if host == "bitbucket.org" || api_base.is_some() => Some(Box::new(bitbucket::Bitbucket::new(
            http,
            base("https://api.bitbucket.org/2.0".to_owned()),
        ))),
        _ => None,
    }
}

/// `https://HOST`, or `http://HOST` for loopback hosts (local SCMs and test stubs).
fn origin(host: &str) -> String {
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    if matches!(name, "localhost" | "127.0.0.1" | "[::1]") {
        format!("http://{host}")
    } else {
        format!("https://{host}")
    }
}

/// An HTTP client with the user's token and the timeout.
struct Http {
    client: reqwest::Client,
    token: String,
}

impl Http {
    fn new(token: &str) -> Option<Self> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent(concat!("paddock/", env!("CARGO_PKG_VERSION")))
            .build()
            .ok()?;
        Some(Http {
            client,
            token: token.to_owned(),
        })
    }

    /// GETs JSON; maps the HTTP answer onto `ScmError`. Returns the headers too
    /// (pagination lives there on some SCMs).
    async fn get<T: DeserializeOwned>(&self, url: &str) -> Result<(T, reqwest::header::HeaderMap), ScmError> {
        let request = self.client.get(url).bearer_auth(&self.token);
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                ScmError::Timeout
            } else {
                ScmError::Unavailable("no connection to the SCM".into())
            }
        })?;
        match response.status().as_u16() {
            200..=299 => {
                let headers = response.headers().clone();
                let body = response.json::<T>().await.map_err(|e| {
                    if e.is_timeout() {
                        ScmError::Timeout
                    } else {
                        ScmError::Unavailable("unexpected answer".into())
                    }
                })?;
                Ok((body, headers))
            }
            401 => Err(ScmError::Unauthorized),
            403 => Err(ScmError::Forbidden),
            404 => Err(ScmError::NotFound),
            status => Err(ScmError::Unavailable(format!("HTTP {status}"))),
        }
    }
}

/// Percent-encodes one path segment or query value.
fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
