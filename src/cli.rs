//! The operator's command line: `authql users ...`. Each command is a call
//! into the same flows the ADMIN fields use (one implementation, two front
//! ends), with the same rules; its events record no actor and no IP.
//!
//! Output is one line per result on stdout; a failure is one line on
//! stderr and a non-zero exit (the binary's `main` does that).

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use clap::Subcommand;

use crate::auth::admin::Actor;
use crate::auth::{AuthService, Origin, Password};
use crate::config::Config;
use crate::db::Store;
use crate::domain::{Role, User};
use crate::error::AppError;

/// `authql users ...`.
#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Create an account (verified); the password comes from AUTHQL_PASSWORD or a prompt.
    Create {
        /// Its email.
        #[arg(long)]
        email: String,
        /// Make it an ADMIN (the way to make the first one).
        #[arg(long)]
        admin: bool,
    },
    /// List accounts, the newest first.
    List {
        /// Only emails that contain this text (any case, taken literally).
        #[arg(long)]
        search: Option<String>,
    },
    /// Change an account's role (ends its sessions).
    SetRole {
        /// The account's email.
        email: String,
        /// ADMIN or USER.
        role: String,
    },
    /// Disable an account (ends its sessions and emailed links).
    Disable {
        /// The account's email.
        email: String,
    },
    /// Enable a disabled account.
    Enable {
        /// The account's email.
        email: String,
    },
    /// Delete an account and everything it owns.
    Delete {
        /// The account's email.
        email: String,
    },
    /// End every session of an account.
    RevokeSessions {
        /// The account's email.
        email: String,
    },
}

/// An error of a command, as the one line the operator reads.
fn say(error: AppError) -> String {
    match error {
        AppError::Forbidden => {
            "refused: that would leave no enabled ADMIN (make another one first)".to_owned()
        }
        AppError::NotFound => "no account has that email".to_owned(),
        AppError::EmailTaken => "an account with this email already exists".to_owned(),
        AppError::BadUserInput { field, message } => format!("{field}: {message}"),
        AppError::Internal(description) => description,
        other => other.message().to_owned(),
    }
}

fn line(user: &User) -> String {
    let mut flags = Vec::new();
    if user.disabled {
        flags.push("disabled");
    }
    if !user.email_verified {
        flags.push("unverified");
    }
    format!(
        "{}  {}  {}  created {}{}",
        user.id,
        user.email,
        user.role.as_str(),
        user.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        if flags.is_empty() {
            String::new()
        } else {
            format!("  ({})", flags.join(", "))
        }
    )
}

/// Runs one `users` command against `store`; `Ok` holds what to print.
pub async fn run(
    command: UsersCommand,
    config: &Config,
    store: Arc<dyn Store>,
) -> Result<Vec<String>, String> {
    let auth = AuthService::new(config, store, None);
    let origin = Origin::default();
    let actor = Actor {
        id: None,
        origin: &origin,
    };
    let account = async |email: &str| -> Result<User, String> {
        auth.find_user_by_email(email)
            .await
            .map_err(say)?
            .ok_or_else(|| format!("no account has the email {}", email.trim()))
    };
    match command {
        UsersCommand::Create { email, admin } => {
            let password = read_password()?;
            let role = if admin { Role::Admin } else { Role::User };
            let user = auth
                .create_account(&email, Password::new(password), role)
                .await
                .map_err(say)?;
            Ok(vec![format!("created {}", line(&user))])
        }
        UsersCommand::List { search } => {
            let mut lines = Vec::new();
            let mut after = None;
            loop {
                let page = auth
                    .list_users(100, after.as_deref(), search.as_deref())
                    .await
                    .map_err(say)?;
                after = page.items.last().map(|(cursor, _)| cursor.clone());
                lines.extend(page.items.iter().map(|(_, user)| line(user)));
                if !page.has_next {
                    lines.push(format!("{} accounts", page.total.unwrap_or(0)));
                    return Ok(lines);
                }
            }
        }
        UsersCommand::SetRole { email, role } => {
            let role = Role::parse(&role.to_uppercase())
                .ok_or_else(|| format!("unknown role `{role}`: ADMIN or USER"))?;
            let user = account(&email).await?;
            let user = auth
                .set_user_role(actor, user.id, role)
                .await
                .map_err(say)?;
            Ok(vec![format!("role set: {}", line(&user))])
        }
        UsersCommand::Disable { email } => {
            let user = account(&email).await?;
            let user = auth
                .set_user_disabled(actor, user.id, true)
                .await
                .map_err(say)?;
            Ok(vec![format!("disabled: {}", line(&user))])
        }
        UsersCommand::Enable { email } => {
            let user = account(&email).await?;
            let user = auth
                .set_user_disabled(actor, user.id, false)
                .await
                .map_err(say)?;
            Ok(vec![format!("enabled: {}", line(&user))])
        }
        UsersCommand::Delete { email } => {
            let user = account(&email).await?;
            auth.delete_user(actor, user.id).await.map_err(say)?;
            Ok(vec![format!("deleted {} ({})", user.email, user.id)])
        }
        UsersCommand::RevokeSessions { email } => {
            let user = account(&email).await?;
            let ended = auth
                .revoke_user_sessions(actor, user.id)
                .await
                .map_err(say)?;
            Ok(vec![format!("ended {ended} sessions of {}", user.email)])
        }
    }
}

/// The new account's password: `AUTHQL_PASSWORD`, or asked for twice
/// without echo on a terminal. Never a command-line argument (it would
/// show in `ps` and the shell's history).
fn read_password() -> Result<String, String> {
    if let Ok(password) = std::env::var("AUTHQL_PASSWORD") {
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        return Err("set AUTHQL_PASSWORD, or run on a terminal to be asked".to_owned());
    }
    let first = prompt("Password: ")?;
    let second = prompt("Password again: ")?;
    if first != second {
        return Err("the two passwords differ".to_owned());
    }
    Ok(first)
}

/// Reads one line from the terminal with echo off (restored afterwards,
/// also when reading fails).
#[cfg(target_os = "linux")]
fn prompt(label: &str) -> Result<String, String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    let before = tcgetattr(&stdin).map_err(|e| format!("could not read the terminal: {e}"))?;
    let mut quiet = before.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    eprint!("{label}");
    let _ = std::io::stderr().flush();
    tcsetattr(&stdin, OptionalActions::Now, &quiet)
        .map_err(|e| format!("could not turn echo off: {e}"))?;
    let mut text = String::new();
    let read = stdin.read_line(&mut text);
    let _ = tcsetattr(&stdin, OptionalActions::Now, &before);
    eprintln!();
    read.map_err(|e| format!("could not read the password: {e}"))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

#[cfg(not(target_os = "linux"))]
fn prompt(_label: &str) -> Result<String, String> {
    Err("set AUTHQL_PASSWORD (no prompt on this system)".to_owned())
}
