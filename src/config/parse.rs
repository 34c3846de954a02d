//! Parsers for the value formats of the settings: secrets, lifetimes
//! (`15m`), switches (`on`/`off`), rate limits (`10/15m`) and origins.

use std::time::Duration;

use super::{
    ConfigError, CorsOrigins, Database, MIN_SECRET_BYTES, RateLimit, Secret, SqliteFile, invalid,
};

/// Returns the secret and whether it was generated.
pub(super) fn secret(
    value: Option<String>,
    variable: &'static str,
    production: bool,
) -> Result<(Secret, bool), ConfigError> {
    const HINT: &str = "generate one with `openssl rand -base64 48`";
    match value {
        Some(value) if production && value.len() < MIN_SECRET_BYTES => Err(invalid(
            variable,
            format!(
                "must be at least {MIN_SECRET_BYTES} bytes with APP_ENV=production (got {}); {HINT}",
                value.len()
            ),
        )),
        Some(value) => Ok((Secret(value.into_bytes()), false)),
        None if production => Err(invalid(
            variable,
            format!("must be set with APP_ENV=production; {HINT}"),
        )),
        None => Ok((Secret::random()?, true)),
    }
}

pub(super) fn lifetime(
    value: Option<String>,
    variable: &'static str,
    default: &str,
) -> Result<Duration, ConfigError> {
    let raw = value.as_deref().unwrap_or(default);
    parse_duration(raw).ok_or_else(|| {
        invalid(
            variable,
            format!("expected a positive lifetime like `90s`, `15m`, `12h` or `30d`, got `{raw}`"),
        )
    })
}

/// A whole number within `range`, `default` when unset.
pub(super) fn whole_number<T>(
    value: Option<String>,
    variable: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let Some(raw) = value else {
        return Ok(default);
    };
    match raw.parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(invalid(
            variable,
            format!("expected {} to {}, got `{raw}`", range.start(), range.end()),
        )),
    }
}

/// A two-valued setting: `[off, on]` are its spellings.
pub(super) fn switch(
    value: Option<String>,
    variable: &'static str,
    [off, on]: [&str; 2],
    default: bool,
) -> Result<bool, ConfigError> {
    match value.as_deref() {
        None => Ok(default),
        Some(v) if v == off => Ok(false),
        Some(v) if v == on => Ok(true),
        Some(other) => Err(invalid(
            variable,
            format!("expected `{off}` or `{on}`, got `{other}`"),
        )),
    }
}

/// `DATABASE_URL`: `postgres://` (or `postgresql://`) URLs go to PostgreSQL
/// as they are; `sqlite://path`, `sqlite:path` and `sqlite::memory:` pick the
/// embedded SQLite; unset means the default SQLite file. Anything else is
/// refused here, naming the forms that work, rather than failing later with
/// a connection error. The message never repeats the value: it may hold a
/// password.
pub(super) fn database(value: Option<String>) -> Result<Database, ConfigError> {
    let Some(url) = value else {
        return Ok(Database::Sqlite(SqliteFile::Path(
            super::DEFAULT_SQLITE_FILE.into(),
        )));
    };
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Database::Postgres(url));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"));
    match path {
        Some(":memory:") => Ok(Database::Sqlite(SqliteFile::Memory)),
        // SQLite would read `file:...` as a URI with options (`?mode=memory`
        // would give every connection a database of its own): only plain
        // paths are accepted.
        Some(path) if !path.is_empty() && !path.starts_with("file:") && !path.contains('?') => {
            Ok(Database::Sqlite(SqliteFile::Path(path.into())))
        }
        _ => Err(invalid(
            "DATABASE_URL",
            "expected sqlite://path/to/file.db, sqlite::memory:, or \
             postgres://user@host:port/database (or postgresql://...)",
        )),
    }
}

/// `10/15m` → ten per fifteen minutes; `0` → off.
pub(super) fn rate_limit(
    value: Option<String>,
    variable: &'static str,
    default: &str,
) -> Result<Option<RateLimit>, ConfigError> {
    let raw = value.as_deref().unwrap_or(default);
    if raw == "0" {
        return Ok(None);
    }
    let parsed = raw.split_once('/').and_then(|(max, window)| {
        let max = max.trim().parse::<u32>().ok().filter(|m| *m > 0)?;
        Some(RateLimit {
            max,
            window: parse_duration(window.trim())?,
        })
    });
    parsed.map(Some).ok_or_else(|| {
        invalid(
            variable,
            format!("expected attempts per window like `10/15m`, or `0` for off; got `{raw}`"),
        )
    })
}

/// Parses `90s`, `15m`, `12h`, `30d` (a positive whole number and one unit).
pub fn parse_duration(raw: &str) -> Option<Duration> {
    // Byte-wise split below: anything non-ASCII is malformed anyway.
    if !raw.is_ascii() {
        return None;
    }
    let unit_at = raw.len().checked_sub(1)?;
    let (number, unit) = raw.split_at(unit_at);
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number: u64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => number,
        "m" => number.checked_mul(60)?,
        "h" => number.checked_mul(3_600)?,
        "d" => number.checked_mul(86_400)?,
        _ => return None,
    };
    // Zero would issue tokens that are dead on arrival; ten years bounds the
    // arithmetic on timestamps.
    (1..=10 * 365 * 86_400)
        .contains(&seconds)
        .then(|| Duration::from_secs(seconds))
}

pub(super) fn parse_origins(raw: &str) -> Result<CorsOrigins, ConfigError> {
    let origins: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| o.trim_end_matches('/').to_owned())
        .collect();
    if origins.iter().any(|o| o == "*") {
        return Ok(CorsOrigins::Any);
    }
    for origin in &origins {
        let well_formed = (origin.starts_with("https://") || origin.starts_with("http://"))
            && !origin.contains(char::is_whitespace)
            && origin
                .split("://")
                .nth(1)
                .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'));
        if !well_formed {
            return Err(invalid(
                "CORS_ORIGINS",
                format!("`{origin}` is not an origin like `https://app.example.com`"),
            ));
        }
    }
    Ok(if origins.is_empty() {
        CorsOrigins::None
    } else {
        CorsOrigins::List(origins)
    })
}
