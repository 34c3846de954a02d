//! The `authql` binary: `serve` (the default), `migrate`, `print-schema`,
//! and the operator's `users` commands.

use std::io::Write;
use std::process::ExitCode;

use authql::app::{AppState, serve};
use authql::config::{AppEnv, Config, Database, SqliteFile};
use authql::db::{self, Opened};
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
    /// Administer accounts from the command line.
    Users {
        #[command(subcommand)]
        command: authql::cli::UsersCommand,
    },
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
    // A command's output is stdout; its log lines go to stderr beside it.
    let serving = matches!(command, Command::Serve | Command::Migrate);
    tracing_subscriber::fmt()
        .with_writer(move || -> Box<dyn std::io::Write> {
            if serving {
                Box::new(std::io::stdout())
            } else {
                Box::new(std::io::stderr())
            }
        })
        // Colours only for a terminal, not for log files and collectors.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new(if serving { "info" } else { "warn" })),
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
            if serving {
                tracing::error!("{message}");
            } else {
                eprintln!("authql: {message}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Opens the database (creating and migrating it as needed), saying what it
/// did and, for SQLite, where the data lives.
async fn open_database(config: &Config) -> Result<Opened, String> {
    let database = config.database.describe();
    let opened = db::open(&config.database, config.database_pool_size)
        .await
        .map_err(|e| e.describe().to_owned())?;
    if opened.created {
        tracing::info!(%database, "created the database");
    }
    match &config.database {
        Database::Postgres(_) => {}
        Database::Sqlite(SqliteFile::Path(path)) => tracing::info!(
            "storing data in the SQLite file {} (one instance only); \
             set DATABASE_URL=postgres://... to use PostgreSQL",
            path.display(),
        ),
        Database::Sqlite(SqliteFile::Memory) => {
            tracing::warn!("storing data in memory: everything is lost when the process exits")
        }
    }
    for version in &opened.applied {
        tracing::info!(%version, "applied migration");
    }
    Ok(opened)
}

async fn run(command: Command, config: Config) -> Result<(), String> {
    let Opened { store, .. } = open_database(&config).await?;
    match command {
        Command::Migrate => return Ok(()),
        Command::Users { command } => {
            let lines = authql::cli::run(command, &config, store).await?;
            let mut out = std::io::stdout().lock();
            for line in lines {
                let _ = writeln!(out, "{line}");
            }
            return Ok(());
        }
        Command::Serve | Command::PrintSchema => {}
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
    match &config.mail {
        Some(mail) => tracing::info!(transport = ?mail.transport, "mail delivery on"),
        None => tracing::info!(
            "mail delivery off (SMTP_URL unset): the fields that send mail answer FEATURE_DISABLED"
        ),
    }
    tracing::info!(%address, database = %config.database.describe(), "authql listening");
    let state = AppState::new(config, store).map_err(|e| e.to_string())?;
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
