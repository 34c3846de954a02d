//! Start-up chores: creating the database on first run, and describing
//! connection failures without echoing credentials or driver text.

use diesel::sql_types::{Bool, Text};
use diesel::{ConnectionError, QueryableByName};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::db::StoreError;

/// `postgres://user:secret@host:5432/db?x=y` → `postgres://host:5432/db`:
/// safe to log (no credentials, no parameters).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(unparsable database URL)".to_owned();
    };
    // Credentials end at the last `@`; strip them first, as a password may
    // itself contain `?` or `/`.
    let after_credentials = rest.rfind('@').map_or(rest, |at| &rest[at + 1..]);
    let host_and_path = after_credentials
        .split('?')
        .next()
        .unwrap_or(after_credentials);
    format!("{scheme}://{host_and_path}")
}

/// A safe, actionable description of a failed connection attempt: the
/// driver's text is classified, never repeated.
pub fn connect_error(url: &str, error: &ConnectionError) -> StoreError {
    let text = error.to_string().to_lowercase();
    let reason = if text.contains("refused") {
        "connection refused (is PostgreSQL running?)"
    } else if text.contains("password") || text.contains("authentication") {
        "authentication failed"
    } else if text.contains("does not exist") {
        "the database or role does not exist"
    } else if text.contains("timed out") || text.contains("timeout") {
        "timed out"
    } else if matches!(error, ConnectionError::InvalidConnectionUrl(_)) {
        "invalid DATABASE_URL"
    } else {
        "connection failed"
    };
    StoreError::new(format!(
        "could not connect to {}: {reason}",
        redact_url(url)
    ))
}

/// Splits `…/name?params` into the URL of the server's maintenance database
/// (`postgres`) and `name`.
fn maintenance_url(url: &str) -> Option<(String, String)> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let (_, rest) = base.split_once("://")?;
    let slash = rest.rfind('/')?;
    let name = &rest[slash + 1..];
    if name.is_empty() || name == "postgres" {
        return None;
    }
    let prefix = &base[..base.len() - name.len()];
    let maintenance = match query {
        Some(query) => format!("{prefix}postgres?{query}"),
        None => format!("{prefix}postgres"),
    };
    Some((maintenance, name.to_owned()))
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

/// Creates the database named in `url` when it does not exist yet, so the
/// quick start needs nothing but a running PostgreSQL. Returns true when it
/// created one. Without rights to create databases this is a no-op and the
/// normal connection error follows.
pub async fn ensure_database(url: &str) -> Result<bool, StoreError> {
    let Some((maintenance, name)) = maintenance_url(url) else {
        return Ok(false);
    };
    let Ok(mut conn) = AsyncPgConnection::establish(&maintenance).await else {
        return Ok(false);
    };
    if exists(&mut conn, &name).await? {
        return Ok(false);
    }
    // Identifiers cannot be bound as parameters; quote and escape instead.
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    match diesel::sql_query(format!("CREATE DATABASE {quoted}"))
        .execute(&mut conn)
        .await
    {
        Ok(_) => Ok(true),
        Err(error) => {
            // Another instance may have created it at the same moment.
            if exists(&mut conn, &name).await? {
                Ok(false)
            } else {
                Err(error.into())
            }
        }
    }
}

async fn exists(conn: &mut AsyncPgConnection, name: &str) -> Result<bool, StoreError> {
    let found: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<Text, _>(name)
            .get_result(conn)
            .await?;
    Ok(found.exists)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_drops_credentials_and_parameters() {
        assert_eq!(
            redact_url("postgres://me:s3cret@db.internal:5432/authql?sslmode=require"),
            "postgres://db.internal:5432/authql"
        );
        assert_eq!(
            redact_url("postgres://127.0.0.1/authql"),
            "postgres://127.0.0.1/authql"
        );
        assert_eq!(
            redact_url("postgres://me:pa?ss/w@rd@db:5432/authql?x=1"),
            "postgres://db:5432/authql"
        );
    }

    #[test]
    fn maintenance_url_swaps_the_database_name() {
        assert_eq!(
            maintenance_url("postgres://u@h:5432/authql?sslmode=disable"),
            Some((
                "postgres://u@h:5432/postgres?sslmode=disable".into(),
                "authql".into()
            ))
        );
        assert_eq!(maintenance_url("postgres://u@h:5432/postgres"), None);
        assert_eq!(maintenance_url("postgres://u@h:5432/"), None);
    }
}
