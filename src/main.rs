//! The `authql` binary: `serve` (the default), `migrate`, `print-schema`.

use std::process::ExitCode;
use std::sync::Arc;

use authql::app::{AppState, serve};
use authql::config::{AppEnv, Config};
use authql::db::migrations;
use authql::db::pg::{PgStore, ensure_database, redact_url};
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "authql", version, about = "A GraphQL authentication API")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, then serve the API (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL) and exit.
    PrintSchema,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::PrintSchema = command {
        // The one place the binary writes to stdout: the SDL is its output.
        #[allow(clippy::print_stdout)]
        {
            print!("{}", authql::graphql::sdl());
        }
        return ExitCode::SUCCESS;
    }

    // Real environment variables win over `.env`, as in most Node tooling.
    let _ = dotenvy::dotenv();
    tracing_subscriber::fmt()
        // Colours only for a terminal, not for log files and collectors.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!("{error}");
            eprintln!("authql: {error}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("authql: could not start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(config: &Config) -> Result<(), String> {
    if ensure_database(&config.database_url)
        .await
        .map_err(|e| e.describe().to_owned())?
    {
        tracing::info!(database = %redact_url(&config.database_url), "created the database");
    }
    let applied = migrations::run_pending(&config.database_url)
        .await
        .map_err(|e| e.describe().to_owned())?;
    for version in &applied {
        tracing::info!(%version, "applied migration");
    }
    Ok(())
}

async fn run(command: Command, config: Config) -> Result<(), String> {
    migrate(&config).await?;
    if let Command::Migrate = command {
        return Ok(());
    }
    if config.secrets_generated {
        tracing::warn!(
            "JWT_ACCESS_SECRET / JWT_REFRESH_SECRET not set: using random secrets for this \
             process (tokens stop working when it restarts); set both in production"
        );
    }
    if config.app_env == AppEnv::Production && config.access_secret == config.refresh_secret {
        tracing::warn!("JWT_ACCESS_SECRET and JWT_REFRESH_SECRET are equal; use two secrets");
    }
    let store = PgStore::new(&config.database_url, config.database_pool_size)
        .map_err(|e| e.describe().to_owned())?;
    let address = config.listen_address();
    let listener = TcpListener::bind(&address)
        .await
        .map_err(|e| format!("could not listen on {address}: {e}"))?;
    // The bound address, which differs from the configured one with PORT=0.
    let address = listener
        .local_addr()
        .map_or(address, |bound| bound.to_string());
    if config.graphiql {
        tracing::info!(%address, "GraphiQL at http://{address}/graphql");
    }
    tracing::info!(%address, database = %redact_url(&config.database_url), "authql listening");
    let state = AppState::new(config, Arc::new(store));
    serve(listener, state, shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what orchestrators send).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
