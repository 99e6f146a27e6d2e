//! The paddock command line: parse arguments, call into the library.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use paddock::{DEFAULT_ORGANIZATION, auth, config, server, store};
use serde_json::json;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;
use uuid::Uuid;

#[derive(Parser)]
#[command(
    name = "paddock",
    version,
    about = "Control plane for dev-environment runners (gitpod.v1 Runner APIs)"
)]
struct Cli {
    /// sqlite://FILE, sqlite:///ABS/FILE, sqlite::memory: or postgres://USER@HOST/DB
    #[arg(long, global = true, env = "DATABASE_URL", default_value = config::DEFAULT_DATABASE_URL)]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve gRPC, gRPC-Web, reflection and health on one port.
    Serve(ServeArgs),
    /// Manage users and groups directly in the database.
    #[command(subcommand)]
    Admin(Admin),
}

#[derive(Args)]
struct ServeArgs {
    #[arg(long, env = "PADDOCK_LISTEN", default_value = config::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// File holding the base64 secret key that encrypts stored secrets.
    /// Default: next to the SQLite file (created on first start); paddock.key for PostgreSQL.
    #[arg(long, env = "PADDOCK_SECRET_KEY_FILE")]
    secret_key_file: Option<PathBuf>,
    /// Origin browsers may call from (repeatable, or comma-separated in the
    /// environment); `*` allows any. None by default.
    #[arg(long = "cors-origin", env = "PADDOCK_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Vec<String>,
    /// The URL users reach paddock at, e.g. https://paddock.example.com (OAuth
    /// callback URLs are built from it). Default: http://LISTEN.
    #[arg(long, env = "PADDOCK_PUBLIC_URL")]
    public_url: Option<String>,
    /// Where an SCM host's REST API is, when it is not where the SCM serves it
    /// (repeatable): HOST=URL, e.g. git.example.com=https://git-api.example.com/api/v4.
    #[arg(long = "scm-api-url", env = "PADDOCK_SCM_API_URLS", value_delimiter = ',')]
    scm_api_urls: Vec<String>,
}

#[derive(Subcommand)]
enum Admin {
    #[command(subcommand)]
    User(UserCommand),
    #[command(subcommand)]
    Group(GroupCommand),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user and print their personal access token (shown only once).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        org_admin: bool,
        /// Organization (by name), created when missing.
        #[arg(long, default_value = DEFAULT_ORGANIZATION)]
        organization: String,
    },
}

#[derive(Subcommand)]
enum GroupCommand {
    Create {
        #[arg(long)]
        name: String,
        /// Organization (by name), created when missing.
        #[arg(long, default_value = DEFAULT_ORGANIZATION)]
        organization: String,
    },
    AddMember {
        #[arg(long)]
        group: Uuid,
        #[arg(long)]
        user: Uuid,
    },
}

fn init_logging() {
    let filter = std::env::var("PADDOCK_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|s| s.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .with(filter)
        .init();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing calls in flight");
}

async fn serve(database_url: String, args: ServeArgs) -> anyhow::Result<()> {
    let secret_key = config::load_secret_key(args.secret_key_file.as_deref(), &database_url)?;
    let admin_token = std::env::var("PADDOCK_ADMIN_TOKEN").ok().filter(|t| !t.is_empty());
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let settings = config::Settings {
        database_url,
        secret_key,
        admin_token,
        public_url,
        scm_api_urls: config::scm_api_urls(&args.scm_api_urls)?,
        token_cache_ttl: paddock::auth::cache::DEFAULT_TTL,
    };
    let state = server::prepare(&settings).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        database = %store::redact(&settings.database_url),
        "paddock serving gRPC, gRPC-Web and Connect"
    );
    let options = server::ServerOptions {
        cors_origins: args.cors_origins,
    };
    server::serve(listener, state, options, shutdown_signal()).await
}

async fn admin(database_url: &str, command: Admin) -> anyhow::Result<serde_json::Value> {
    let db = store::connect(database_url).await?;
    Ok(match command {
        Admin::User(UserCommand::Create {
            name,
            org_admin,
            organization,
        }) => {
            let org = store::organizations::ensure(&db, &organization).await?;
            let token = auth::tokens::generate(auth::tokens::TokenKind::PersonalAccess)?;
            let new = store::organizations::NewUser {
                organization_id: org.id,
                name: &name,
                org_admin,
                token_hash: token.hash,
            };
            let user = store::organizations::create_user(&db, new).await?;
            json!({"user_id": user.id.to_string(), "token": token.plaintext})
        }
        Admin::Group(GroupCommand::Create { name, organization }) => {
            let org = store::organizations::ensure(&db, &organization).await?;
            let group = store::organizations::create_group(&db, org.id, &name).await?;
            json!({"group_id": group.id.to_string()})
        }
        Admin::Group(GroupCommand::AddMember { group, user }) => {
            store::organizations::add_member(&db, group, user).await?;
            json!({})
        }
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    config::check_database_url(&cli.database_url)?;
    match cli.command {
        Command::Serve(args) => serve(cli.database_url, args).await,
        Command::Admin(command) => {
            let output = admin(&cli.database_url, command).await?;
            println!("{output}");
            Ok(())
        }
    }
}
