//! Runner configuration schemas, kept as data in one place: what each kind of
//! runner can be configured with, what its environment classes take, and the
//! SCMs it can integrate with. A runner may publish its own schema, which then
//! replaces its provider's default (see `store::schemas`).
//!
//! Also the rules that check an environment class's configuration and an SCM
//! integration against a schema, shared by Create* and ValidateRunnerConfiguration.

use crate::protocol::proto::gitpod::v1::runner_configuration_schema::{
    BoolField, EnumField, Field, IntField, OAuth, PersonalAccessToken, ScmConfigSchema, StringField, enum_field,
    field::Type,
};
use crate::protocol::proto::gitpod::v1::{FieldValue, RunnerConfigurationSchema, RunnerProvider};

/// The version of paddock's built-in schemas.
pub const VERSION: &str = "paddock/2026-11-27";

/// Ids of the SCMs paddock knows.
pub const GITHUB: &str = "github";
pub const GITLAB: &str = "gitlab";
pub const BITBUCKET: &str = "bitbucket";
pub const AZURE_DEVOPS: &str = "azure-devops";

fn int(id: &str, name: &str, description: &str, default: i32, min: i32, max: i32) -> Field {
    Field {
        id: id.into(),
        name: name.into(),
        description: description.into(),
        r#type: Some(Type::Int(IntField { default, min, max })),
        ..Default::default()
    }
}

fn boolean(id: &str, name: &str, description: &str, default: bool) -> Field {
    Field {
        id: id.into(),
        name: name.into(),
        description: description.into(),
        r#type: Some(Type::Bool(BoolField { default })),
        ..Default::default()
    }
}

fn string(id: &str, name: &str, description: &str, default: &str, pattern: &str) -> Field {
    Field {
        id: id.into(),
        name: name.into(),
        description: description.into(),
        r#type: Some(Type::String(StringField {
            default: default.into(),
            pattern: pattern.into(),
        })),
        ..Default::default()
    }
}

/// An enum field whose values are (title, subtitle); the first is the default.
fn choice(id: &str, name: &str, description: &str, values: &[(&str, &str)]) -> Field {
    let value = |(title, subtitle): &(&str, &str)| enum_field::Value {
        title: (*title).into(),
        subtitle: (*subtitle).into(),
        detail: String::new(),
    };
    #[allow(deprecated)]
    let field = EnumField {
        default: values.first().map(|v| v.0.to_owned()).unwrap_or_default(),
        values: values.iter().map(|v| v.0.to_owned()).collect(),
        default_value: values.first().map(value),
        possible_values: values.iter().map(value).collect(),
    };
    Field {
        id: id.into(),
        name: name.into(),
        description: description.into(),
        required: true,
        r#type: Some(Type::Enum(field)),
        ..Default::default()
    }
}

fn secret(mut field: Field) -> Field {
    field.secret = true;
    field
}

fn scm(id: &str, name: &str, host: &str, callback: &str, pat: &str, docs: &str) -> ScmConfigSchema {
    ScmConfigSchema {
        scm_id: id.into(),
        name: name.into(),
        default_hosts: vec![host.into()],
        oauth: Some(OAuth {
            callback_url: callback.into(),
        }),
        pat: Some(PersonalAccessToken {
            description: pat.into(),
            docs_link: docs.into(),
        }),
    }
}

/// The SCMs every runner can integrate with; OAuth apps call back to
/// `public_url`.
fn scms(public_url: &str) -> Vec<ScmConfigSchema> {
    let callback = format!("{}/auth/oauth2/callback", public_url.trim_end_matches('/'));
    vec![
        scm(
            GITHUB,
            "GitHub",
            "github.com",
            &callback,
            "A classic personal access token with the repo, read:user and user:email scopes, or a fine-grained \
             token with read and write access to contents and pull requests.",
            "https://docs.github.com/en/authentication/keeping-your-account-and-data-secure/managing-your-personal-access-tokens",
        ),
        scm(
            GITLAB,
            "GitLab",
            "gitlab.com",
            &callback,
            "A personal access token with the api, read_user and read_repository scopes.",
            "https://docs.gitlab.com/user/profile/personal_access_tokens/",
        ),
        scm(
            BITBUCKET,
            "Bitbucket",
            "bitbucket.org",
            &callback,
            "An API token (or app password) with repository read and write and pull request read permissions.",
            "https://support.atlassian.com/bitbucket-cloud/docs/api-tokens/",
        ),
        scm(
            AZURE_DEVOPS,
            "Azure DevOps",
            "dev.azure.com",
            &callback,
            "A personal access token with the Code (Read & write) and User Profile (Read) scopes.",
            "https://learn.microsoft.com/en-us/azure/devops/organizations/accounts/use-personal-access-tokens-to-authenticate",
        ),
    ]
}

/// Environment class fields of runners that run environments on one host.
fn host_machine(max_cpu: i32, max_memory: i32, max_disk: i32) -> Vec<Field> {
    vec![
        int("cpu", "CPU cores", "Cores an environment may use.", 4, 1, max_cpu),
        int(
            "memory",
            "Memory (GiB)",
            "Memory an environment may use.",
            8,
            1,
            max_memory,
        ),
        int("disk", "Disk (GiB)", "Disk space of an environment.", 50, 10, max_disk),
    ]
}

/// The built-in schema of a provider.
pub fn default_for(provider: RunnerProvider, public_url: &str) -> RunnerConfigurationSchema {
    use RunnerProvider as P;
    let (runner_config, environment_classes) = match provider {
        P::AwsEc2 => (
            vec![
                string(
                    "vpc_id",
                    "VPC",
                    "The VPC environments run in.",
                    "",
                    "^(vpc-[0-9a-f]{8,17})?$",
                ),
                string("subnet_ids", "Subnets", "Comma-separated subnet ids.", "", ""),
                secret(string(
                    "proxy_url",
                    "HTTP proxy",
                    "Proxy for outbound traffic, with credentials.",
                    "",
                    "",
                )),
            ],
            vec![
                choice(
                    "instance_type",
                    "Instance type",
                    "The EC2 instance type of an environment.",
                    &[
                        ("m6i.xlarge", "4 vCPU, 16 GiB"),
                        ("m6i.large", "2 vCPU, 8 GiB"),
                        ("m6i.2xlarge", "8 vCPU, 32 GiB"),
                        ("m6i.4xlarge", "16 vCPU, 64 GiB"),
                        ("c6i.4xlarge", "16 vCPU, 32 GiB"),
                        ("r6i.2xlarge", "8 vCPU, 64 GiB"),
                    ],
                ),
                int("disk_size", "Disk (GiB)", "Size of the root volume.", 100, 20, 2000),
                boolean(
                    "use_spot",
                    "Spot instances",
                    "Run on spot capacity (cheaper, may be interrupted).",
                    false,
                ),
                string(
                    "ami_id",
                    "AMI",
                    "A custom machine image, if any.",
                    "",
                    "^(ami-[0-9a-f]{8,17})?$",
                ),
            ],
        ),
        P::Gcp => (
            vec![string(
                "project_id",
                "Project",
                "The Google Cloud project environments run in.",
                "",
                "^([a-z][-a-z0-9]{4,28}[a-z0-9])?$",
            )],
            vec![
                choice(
                    "machine_type",
                    "Machine type",
                    "The Compute Engine machine type of an environment.",
                    &[
                        ("e2-standard-8", "8 vCPU, 32 GiB"),
                        ("e2-standard-4", "4 vCPU, 16 GiB"),
                        ("n2-standard-8", "8 vCPU, 32 GiB"),
                        ("n2-standard-16", "16 vCPU, 64 GiB"),
                        ("c3-standard-8", "8 vCPU, 32 GiB"),
                    ],
                ),
                int("disk_size", "Disk (GiB)", "Size of the boot disk.", 100, 20, 2000),
                boolean(
                    "preemptible",
                    "Spot VMs",
                    "Run on spot capacity (cheaper, may be interrupted).",
                    false,
                ),
            ],
        ),
        P::Managed => (
            vec![],
            vec![choice(
                "size",
                "Size",
                "The machine size of an environment.",
                &[
                    ("regular", "4 vCPU, 16 GiB"),
                    ("small", "2 vCPU, 8 GiB"),
                    ("large", "8 vCPU, 32 GiB"),
                ],
            )],
        ),
        P::LinuxHost | P::DevAgent => (vec![], host_machine(64, 512, 2000)),
        P::DesktopMac => (vec![], host_machine(16, 64, 500)),
        P::Unspecified => (vec![], vec![]),
    };
    RunnerConfigurationSchema {
        version: VERSION.into(),
        runner_config,
        environment_classes,
        scm: scms(public_url),
    }
}

/// What is wrong with each configuration value, by key (in the order given,
/// then missing required fields). Empty when the configuration fits.
pub fn check_environment_class(
    schema: &RunnerConfigurationSchema,
    configuration: &[FieldValue],
) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for value in configuration {
        if !seen.insert(value.key.as_str()) {
            errors.push((value.key.clone(), "given more than once".to_owned()));
            continue;
        }
        let Some(field) = schema.environment_classes.iter().find(|f| f.id == value.key) else {
            errors.push((value.key.clone(), "unknown configuration key".to_owned()));
            continue;
        };
        if let Err(e) = check_value(field, &value.value) {
            errors.push((value.key.clone(), e));
        }
    }
    for field in schema.environment_classes.iter().filter(|f| f.required) {
        if !seen.contains(field.id.as_str()) {
            errors.push((field.id.clone(), "is required".to_owned()));
        }
    }
    errors
}

fn check_value(field: &Field, value: &str) -> Result<(), String> {
    if value.contains('\0') {
        return Err("must not contain NUL characters".into());
    }
    match &field.r#type {
        Some(Type::Bool(_)) => match value {
            "true" | "false" => Ok(()),
            _ => Err(format!("must be true or false, not {value:?}")),
        },
        Some(Type::Int(range)) => {
            let n: i32 = value
                .trim()
                .parse()
                .map_err(|_| format!("must be a whole number, not {value:?}"))?;
            // min = max = 0 means unbounded
            if (range.min != 0 || range.max != 0) && (n < range.min || n > range.max) {
                return Err(format!("must be between {} and {}, not {n}", range.min, range.max));
            }
            Ok(())
        }
        Some(Type::Enum(choices)) => {
            #[allow(deprecated)]
            let allowed: Vec<&str> = if choices.possible_values.is_empty() {
                choices.values.iter().map(String::as_str).collect()
            } else {
                choices.possible_values.iter().map(|v| v.title.as_str()).collect()
            };
            if allowed.contains(&value) {
                Ok(())
            } else {
                Err(format!("must be one of {}", allowed.join(", ")))
            }
        }
        Some(Type::String(s)) if !s.pattern.is_empty() => match regex_lite::Regex::new(&s.pattern) {
            Ok(re) if re.is_match(value) => Ok(()),
            Ok(_) => Err(format!("must match {}", s.pattern)),
            // a schema with a broken pattern cannot hold any value against it
            Err(_) => Ok(()),
        },
        Some(Type::String(_)) => Ok(()),
        Some(Type::Display(_)) => Err("is for display only and cannot be set".into()),
        None => Ok(()),
    }
}

/// A host name with an optional port, as SCM hosts are given (no scheme,
/// no path): `github.com`, `git.example.com:8443`.
pub fn is_valid_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    if let Some(port) = port
        && port.parse::<u16>().map_or(true, |p| p == 0)
    {
        return false;
    }
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// What an SCM integration would look like, for checking.
pub struct ScmIntegrationDraft<'a> {
    pub scm_id: &'a str,
    pub host: &'a str,
    pub oauth_client_id: Option<&'a str>,
    /// Whether a client secret is given (or already stored).
    pub has_client_secret: bool,
    pub issuer_url: Option<&'a str>,
    pub pat: bool,
}

/// Problems with an SCM integration, by aspect.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ScmProblems {
    pub scm_id: Option<String>,
    pub host: Option<String>,
    pub oauth: Option<String>,
    pub pat: Option<String>,
}

impl ScmProblems {
    pub fn is_empty(&self) -> bool {
        self.scm_id.is_none() && self.host.is_none() && self.oauth.is_none() && self.pat.is_none()
    }
}

pub fn check_scm_integration(schema: &RunnerConfigurationSchema, draft: &ScmIntegrationDraft<'_>) -> ScmProblems {
    let mut problems = ScmProblems::default();
    let known = schema.scm.iter().find(|s| s.scm_id == draft.scm_id);
    if known.is_none() {
        let ids: Vec<&str> = schema.scm.iter().map(|s| s.scm_id.as_str()).collect();
        problems.scm_id = Some(format!("unknown SCM {:?}; known: {}", draft.scm_id, ids.join(", ")));
    }
    if !is_valid_host(draft.host) {
        problems.host = Some(format!(
            "{:?} is not a host name (like github.com or git.example.com:8443)",
            draft.host
        ));
    }
    let client_id = draft.oauth_client_id.filter(|id| !id.is_empty());
    problems.oauth = match (client_id, draft.has_client_secret) {
        (Some(_), false) => Some("an OAuth client id needs its client secret".into()),
        (None, true) => Some("an OAuth client secret needs its client id".into()),
        _ => draft
            .issuer_url
            .filter(|u| !(u.is_empty() || u.starts_with("https://") || u.starts_with("http://")))
            .map(|u| format!("issuer URL {u:?} must be an http(s) URL")),
    };
    if problems.oauth.is_none() && client_id.is_some() && known.is_some_and(|s| s.oauth.is_none()) {
        problems.oauth = Some("this SCM does not support OAuth".into());
    }
    if draft.pat && known.is_some_and(|s| s.pat.is_none()) {
        problems.pat = Some("this SCM does not support personal access tokens".into());
    }
    if !draft.pat && client_id.is_none() {
        problems.pat = Some("with neither OAuth nor personal access tokens, users could not authenticate".into());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fv(key: &str, value: &str) -> FieldValue {
        FieldValue {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn every_provider_has_a_schema_with_the_four_scms() {
        for provider in [
            RunnerProvider::AwsEc2,
            RunnerProvider::Gcp,
            RunnerProvider::LinuxHost,
            RunnerProvider::DesktopMac,
            RunnerProvider::Managed,
            RunnerProvider::DevAgent,
        ] {
            let schema = default_for(provider, "https://paddock.example.com/");
            assert!(!schema.environment_classes.is_empty(), "{provider:?}");
            let ids: Vec<_> = schema.scm.iter().map(|s| s.scm_id.as_str()).collect();
            assert_eq!(ids, [GITHUB, GITLAB, BITBUCKET, AZURE_DEVOPS]);
            assert_eq!(
                schema.scm[0].oauth.as_ref().unwrap().callback_url,
                "https://paddock.example.com/auth/oauth2/callback"
            );
        }
    }

    #[test]
    fn configurations_are_checked_by_type_range_and_key() {
        let schema = default_for(RunnerProvider::AwsEc2, "http://x");
        assert!(check_environment_class(&schema, &[fv("instance_type", "m6i.large")]).is_empty());
        let errors = check_environment_class(
            &schema,
            &[
                fv("instance_type", "m6i.large"),
                fv("disk_size", "5000"),
                fv("use_spot", "yes"),
                fv("colour", "red"),
                fv("ami_id", "not-an-ami"),
                fv("disk_size", "30"),
            ],
        );
        let keys: Vec<_> = errors.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["disk_size", "use_spot", "colour", "ami_id", "disk_size"]);
        let missing = check_environment_class(&schema, &[]);
        assert_eq!(missing, vec![("instance_type".to_owned(), "is required".to_owned())]);
    }

    #[test]
    fn hosts() {
        for ok in ["github.com", "git.example.com:8443", "localhost", "a-b.c"] {
            assert!(is_valid_host(ok), "{ok}");
        }
        for bad in [
            "",
            "https://github.com",
            "github.com/org",
            "-x.com",
            "a..b",
            "x:0",
            "x:99999",
            "a b",
        ] {
            assert!(!is_valid_host(bad), "{bad}");
        }
    }
}
