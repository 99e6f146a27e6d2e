//! Source hosts: which SCM a host runs, and what paddock knows about each SCM
//! (names, how users authenticate to it); context URL parsing.

pub mod api;
pub mod context_url;

pub use crate::api::runner_configuration::schemas::{AZURE_DEVOPS, BITBUCKET, GITHUB, GITLAB};

/// A host paddock recognizes and the SCM it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScmHost {
    /// `github.com`, or `git.example.com:8443`
    pub host: String,
    pub scm_id: &'static str,
    /// The vendor's cloud service (as opposed to a self-hosted server).
    pub cloud: bool,
    /// Azure DevOps Server's path prefix, e.g. `tfs`.
    pub virtual_directory: Option<String>,
}

impl ScmHost {
    pub fn cloud(host: &str, scm_id: &'static str) -> Self {
        ScmHost {
            host: host.to_owned(),
            scm_id,
            cloud: true,
            virtual_directory: None,
        }
    }

    /// A self-hosted server known from an SCM integration (None for an
    /// `scm_id` paddock does not know).
    pub fn self_hosted(host: &str, scm_id: &str, virtual_directory: Option<String>) -> Option<Self> {
        let scm_id = known_scm(scm_id)?.id;
        let cloud = well_known_hosts().iter().any(|h| h.host == host);
        Some(ScmHost {
            host: host.to_ascii_lowercase(),
            scm_id,
            cloud,
            virtual_directory,
        })
    }
}

/// The vendors' cloud hosts.
pub fn well_known_hosts() -> Vec<ScmHost> {
    vec![
        ScmHost::cloud("github.com", GITHUB),
        ScmHost::cloud("gitlab.com", GITLAB),
        ScmHost::cloud("bitbucket.org", BITBUCKET),
        ScmHost::cloud("dev.azure.com", AZURE_DEVOPS),
    ]
}

/// How users authenticate to an SCM with a personal access token.
#[derive(Debug, Clone, Copy)]
pub struct ScmInfo {
    pub id: &'static str,
    pub name: &'static str,
    /// Where a user makes a token; `{host}` is replaced.
    pub pat_create_url: &'static str,
    pub pat_docs_url: &'static str,
    pub pat_example: &'static str,
    pub pat_scopes: &'static [&'static str],
    pub oauth_docs_url: &'static str,
}

const SCMS: &[ScmInfo] = &[
    ScmInfo {
        id: GITHUB,
        name: "GitHub",
        pat_create_url: "https://{host}/settings/tokens/new?scopes=repo,read:user,user:email&description=paddock",
        pat_docs_url: "https://docs.github.com/en/authentication/keeping-your-account-and-data-secure/managing-your-personal-access-tokens",
        pat_example: "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        pat_scopes: &["repo", "read:user", "user:email"],
        oauth_docs_url: "https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/creating-an-oauth-app",
    },
    ScmInfo {
        id: GITLAB,
        name: "GitLab",
        pat_create_url: "https://{host}/-/user_settings/personal_access_tokens?name=paddock&scopes=api,read_user,read_repository",
        pat_docs_url: "https://docs.gitlab.com/user/profile/personal_access_tokens/",
        pat_example: "glpat-xxxxxxxxxxxxxxxxxxxx",
        pat_scopes: &["api", "read_user", "read_repository"],
        oauth_docs_url: "https://docs.gitlab.com/integration/oauth_provider/",
    },
    ScmInfo {
        id: BITBUCKET,
        name: "Bitbucket",
        pat_create_url: "https://{host}/account/settings/app-passwords/new",
        pat_docs_url: "https://support.atlassian.com/bitbucket-cloud/docs/api-tokens/",
        pat_example: "ATBBxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        pat_scopes: &["repository:write", "pullrequest:read", "account:read"],
        oauth_docs_url: "https://support.atlassian.com/bitbucket-cloud/docs/use-oauth-on-bitbucket-cloud/",
    },
    ScmInfo {
        id: AZURE_DEVOPS,
        name: "Azure DevOps",
        pat_create_url: "https://{host}/_usersSettings/tokens",
        pat_docs_url: "https://learn.microsoft.com/en-us/azure/devops/organizations/accounts/use-personal-access-tokens-to-authenticate",
        pat_example: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        pat_scopes: &["vso.code_write", "vso.profile"],
        oauth_docs_url: "https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow",
    },
];

pub fn known_scm(id: &str) -> Option<&'static ScmInfo> {
    SCMS.iter().find(|s| s.id == id)
}
