//! The paddock command line: parse, then hand over to the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use paddock::server::cli::{
    AdminCommand, DEFAULT_DATABASE_URL, GroupCommand, RunnerTokenCommand, SecretKeyCommand, ServeArgs,
    SigningKeyCommand, UserCommand,
};
use paddock::server::{admin, settings};
use paddock::{server, store};
use serde_json::json;

#[derive(Debug, Parser)]
#[command(
    name = "paddock",
    version,
    about = "Control plane for dev-environment runners (gitpod.v1 Runner APIs)"
)]
pub struct Cli {
    /// sqlite://FILE, sqlite:///ABS/FILE, sqlite::memory: or postgres://USER@HOST/DB
    #[arg(long, global = true, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Log filter: a level (info, debug, …) or per-target directives such as
    /// `paddock=debug,info`.
    #[arg(long, global = true, env = "PADDOCK_LOG", default_value = "info")]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve gRPC, gRPC-Web, Connect, reflection and health on one port.
    // boxed: serve's many flags would make every Command as large
    Serve(Box<ServeArgs>),
    /// Run the reference runner agent against a paddock server.
    Agent(paddock::agent::AgentArgs),
    /// Manage users and groups directly in the database.
    #[command(subcommand)]
    Admin(AdminCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log = match paddock::server::log_writer::init_logging(&cli.log) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("paddock: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("paddock: cannot start the async runtime ({e})");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(cli));
    // the log's last lines before the final word
    drop(runtime);
    drop(log);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // one sentence, no backtrace: what went wrong and what to do
            eprintln!("paddock: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let settings = args.into_settings(cli.database_url)?;
            server::run(settings, server::shutdown_signal()).await
        }
        Command::Agent(args) => {
            let outcome = paddock::agent::run(args.into_options(), server::shutdown_signal()).await?;
            tracing::info!(?outcome, "agent done");
            Ok(())
        }
        Command::Admin(command) => {
            settings::check_database_url(&cli.database_url)?;
            let db = store::connect(&cli.database_url).await?;
            println!("{}", run_admin(&db, &cli.database_url, command).await?);
            Ok(())
        }
    }
}

async fn run_admin(db: &store::Db, database_url: &str, command: AdminCommand) -> anyhow::Result<serde_json::Value> {
    Ok(match command {
        AdminCommand::User(UserCommand::Create {
            name,
            org_admin,
            organization,
        }) => {
            let user = admin::create_user(db, &organization, &name, org_admin).await?;
            json!({"user_id": user.user_id.to_string(), "token": user.token})
        }
        AdminCommand::Group(GroupCommand::Create { name, organization }) => {
            let group = admin::create_group(db, &organization, &name).await?;
            json!({"group_id": group.to_string()})
        }
        AdminCommand::Group(GroupCommand::AddMember { group, user }) => {
            admin::add_member(db, group, user).await?;
            json!({})
        }
        AdminCommand::RunnerToken(RunnerTokenCommand::List { runner, all }) => {
            let tokens = admin::runner_tokens(db, runner, all).await?;
            json!({"tokens": tokens})
        }
        AdminCommand::RunnerToken(RunnerTokenCommand::Revoke { token }) => {
            json!({"token": admin::revoke_runner_token(db, token).await?})
        }
        AdminCommand::RunnerToken(RunnerTokenCommand::Rotate { runner, grace }) => {
            let (token, access_token) = admin::rotate_runner_token(db, runner, grace).await?;
            json!({"access_token": access_token, "token": token})
        }
        AdminCommand::SecretKey(SecretKeyCommand::Rotate {
            secret_key_file,
            new_key_file,
        }) => {
            let old = settings::load_secret_key(secret_key_file.as_deref(), database_url)?;
            let new = paddock::base::secrets::SecretKey::read(&new_key_file)?;
            json!({"resealed": admin::rotate_secret_key(db, &old, &new).await?})
        }
        AdminCommand::SigningKey(SigningKeyCommand::Rotate { secret_key_file }) => {
            let key = settings::load_secret_key(secret_key_file.as_deref(), database_url)?;
            json!({"key_id": admin::rotate_signing_key(db, &key).await?.to_string()})
        }
    })
}
