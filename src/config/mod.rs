//! Every setting of the API contract, read and validated once at start-up.
//!
//! Nothing else in the crate reads the environment: `main` calls
//! [`Config::from_env`] and hands the value down. Tests build a `Config` from a
//! plain map through [`Config::from_lookup`], so parsing is tested without
//! touching the process environment.

mod mail;
mod parse;

use std::fmt;
use std::time::Duration;

pub use mail::{
    EmailVerification, MailConfig, MailTransport, SmtpServer, SmtpTls, TOKEN_PLACEHOLDER,
};
pub use parse::parse_duration;
use parse::{database, lifetime, parse_origins, rate_limit, secret, switch, whole_number};

/// Where data lives when `DATABASE_URL` is unset: an SQLite file in the
/// working directory, created with its tables on first start.
pub const DEFAULT_SQLITE_FILE: &str = "authql.db";

/// The database, from `DATABASE_URL`.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A PostgreSQL server: the URL as given (it may hold a password).
    Postgres(String),
    /// The embedded SQLite, for one instance.
    Sqlite(SqliteFile),
}

/// Where an SQLite database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteFile {
    /// A file, created on first start (its directory must exist).
    Path(std::path::PathBuf),
    /// Process memory: gone when the process exits (for throwaway runs).
    Memory,
}

impl Database {
    /// A description safe to log: no credentials, no URL parameters.
    pub fn describe(&self) -> String {
        match self {
            Database::Postgres(url) => crate::db::pg::redact_url(url),
            Database::Sqlite(SqliteFile::Path(path)) => format!("sqlite://{}", path.display()),
            Database::Sqlite(SqliteFile::Memory) => "sqlite::memory:".to_owned(),
        }
    }
}

// Not derived: the PostgreSQL URL may carry a password.
impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Secrets shorter than this are refused in production (RFC 7518 §3.2 asks
/// for a key at least as long as the HS256 hash output: 32 bytes).
pub const MIN_SECRET_BYTES: usize = 32;

/// `development` (the default) or `production`, from `APP_ENV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    /// Friendly defaults: random secrets, any CORS origin.
    Development,
    /// Strict: secrets must be set and long; no CORS origin unless listed.
    Production,
}

/// Which browser origins may call `/graphql`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// No CORS headers at all: browsers allow same-origin calls only.
    None,
    /// `*`: any origin, without credentials (the CORS spec forbids both).
    Any,
    /// These exact origins, with credentials (for the refresh-token cookie).
    List(Vec<String>),
}

/// A budget of attempts per window, from `RATE_LIMIT_*` (`10/15m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Attempts allowed per window.
    pub max: u32,
    /// The window.
    pub window: Duration,
}

/// How long a connection may take over each part of an exchange, and how
/// many may be open at once (`HTTP_*`). See `crate::http::server`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// `HTTP_HEADER_TIMEOUT`: from the connection's start (or, on a
    /// kept-alive connection, from the next request's first byte) until the
    /// request head is complete.
    pub header_timeout: Duration,
    /// `HTTP_REQUEST_TIMEOUT`: from the end of the head until the whole
    /// body has arrived.
    pub request_timeout: Duration,
    /// `HTTP_IDLE_TIMEOUT`: how long a kept-alive connection may wait for
    /// its next request.
    pub idle_timeout: Duration,
    /// `HTTP_MAX_CONNECTIONS`: connections open at once.
    pub max_connections: usize,
}

/// An HMAC key. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// The key bytes, used byte for byte as the HMAC key.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn random() -> Result<Self, ConfigError> {
        let mut bytes = vec![0u8; 64];
        getrandom::fill(&mut bytes).map_err(|_| ConfigError {
            variable: "JWT_ACCESS_SECRET",
            message: "the operating system could not provide random bytes".into(),
        })?;
        Ok(Self(bytes))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// The whole configuration. See the README's table for each variable.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`.
    pub database: Database,
    /// `DATABASE_POOL_SIZE`: most connections this process opens (on
    /// SQLite: most reading connections, beside the one writing).
    pub database_pool_size: usize,
    /// `HOST`.
    pub host: String,
    /// `PORT`.
    pub port: u16,
    /// `JWT_ACCESS_SECRET`.
    pub access_secret: Secret,
    /// `JWT_REFRESH_SECRET`.
    pub refresh_secret: Secret,
    /// True when the secrets were generated for this process (development).
    pub secrets_generated: bool,
    /// `JWT_ACCESS_EXPIRES`.
    pub access_ttl: Duration,
    /// `JWT_REFRESH_EXPIRES`.
    pub refresh_ttl: Duration,
    /// `JWT_ISSUER`.
    pub issuer: String,
    /// `BCRYPT_COST`.
    pub bcrypt_cost: u32,
    /// `APP_ENV`.
    pub app_env: AppEnv,
    /// `REFRESH_TOKEN_COOKIE`.
    pub refresh_cookie: bool,
    /// `CORS_ORIGINS`.
    pub cors_origins: CorsOrigins,
    /// `RATE_LIMIT_LOGIN`: failed logins per email; `None` when `0` (off).
    pub rate_limit_login: Option<RateLimit>,
    /// `RATE_LIMIT_IP`: sign-in calls per client IP; `None` when `0` (off).
    pub rate_limit_ip: Option<RateLimit>,
    /// `TRUST_PROXY_HEADERS`: take the client IP from `X-Forwarded-For`.
    pub trust_proxy_headers: bool,
    /// `GRAPHQL_INTROSPECTION`: answer `__schema` / `__type` queries.
    pub graphql_introspection: bool,
    /// `GRAPHIQL`: serve the GraphiQL IDE on `GET /graphql`.
    pub graphiql: bool,
    /// `HOUSEKEEPING_INTERVAL`: how often expired rows are purged; `None`
    /// when `0` (off).
    pub housekeeping_interval: Option<Duration>,
    /// `HTTP_HEADER_TIMEOUT`, `HTTP_REQUEST_TIMEOUT`, `HTTP_IDLE_TIMEOUT`,
    /// `HTTP_MAX_CONNECTIONS`.
    pub http: HttpLimits,
    /// `SMTP_URL`, `MAIL_FROM`, the link URLs and templates; `None` when no
    /// mail is set up (the fields that send mail answer `FEATURE_DISABLED`).
    pub mail: Option<MailConfig>,
    /// `APP_NAME`: the product name emails (and the TOTP issuer) use.
    pub app_name: String,
    /// `PASSWORD_RESET_EXPIRES`.
    pub password_reset_ttl: Duration,
    /// `AUDIT_RETENTION`: how long audit events are kept; `None` (`0`)
    /// keeps them forever.
    pub audit_retention: Option<Duration>,
    /// `EMAIL_VERIFY_EXPIRES`.
    pub email_verify_ttl: Duration,
    /// `EMAIL_VERIFICATION`.
    pub email_verification: EmailVerification,
    /// `RATE_LIMIT_EMAIL`: emails asked for per address; `None` when `0`.
    pub rate_limit_email: Option<RateLimit>,
}

/// A setting that could not be used; names the variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.variable, self.message)
    }
}

impl std::error::Error for ConfigError {}

fn invalid(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

impl Config {
    /// Reads the process environment (after `.env`, which `main` loads).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any source of variables. An empty value
    /// counts as unset, as in most `.env` tooling. Values are trimmed, except
    /// the secrets and the issuer, which are used byte for byte: another
    /// service verifying our tokens with the same value must agree with us.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let exact = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let get = |name: &str| {
            exact(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let app_env = match get("APP_ENV").as_deref() {
            None | Some("development") => AppEnv::Development,
            Some("production") => AppEnv::Production,
            Some(other) => {
                return Err(invalid(
                    "APP_ENV",
                    format!("expected `development` or `production`, got `{other}`"),
                ));
            }
        };
        let production = app_env == AppEnv::Production;

        let access_secret = secret(exact("JWT_ACCESS_SECRET"), "JWT_ACCESS_SECRET", production)?;
        let refresh_secret = secret(
            exact("JWT_REFRESH_SECRET"),
            "JWT_REFRESH_SECRET",
            production,
        )?;
        let secrets_generated = access_secret.1 || refresh_secret.1;

        let bcrypt_cost = whole_number(get("BCRYPT_COST"), "BCRYPT_COST", 12, 4..=31)?;

        let mail = mail::mail(&get, production)?;
        let email_verification = mail::verification(get("EMAIL_VERIFICATION"), mail.is_some())?;

        let cors_origins = match get("CORS_ORIGINS") {
            None if production => CorsOrigins::None,
            None => CorsOrigins::Any,
            Some(raw) => parse_origins(&raw)?,
        };

        Ok(Self {
            database: database(get("DATABASE_URL"))?,
            database_pool_size: match get("DATABASE_POOL_SIZE") {
                None => 16,
                Some(raw) => match raw.parse::<usize>() {
                    Ok(n) if n > 0 => n,
                    _ => {
                        return Err(invalid(
                            "DATABASE_POOL_SIZE",
                            format!("expected a positive whole number, got `{raw}`"),
                        ));
                    }
                },
            },
            host: get("HOST").unwrap_or_else(|| "127.0.0.1".to_owned()),
            port: match get("PORT") {
                None => 8000,
                Some(raw) => raw
                    .parse()
                    .map_err(|_| invalid("PORT", format!("expected a port number, got `{raw}`")))?,
            },
            access_secret: access_secret.0,
            refresh_secret: refresh_secret.0,
            secrets_generated,
            access_ttl: lifetime(get("JWT_ACCESS_EXPIRES"), "JWT_ACCESS_EXPIRES", "15m")?,
            refresh_ttl: lifetime(get("JWT_REFRESH_EXPIRES"), "JWT_REFRESH_EXPIRES", "30d")?,
            issuer: exact("JWT_ISSUER").unwrap_or_else(|| "authql".to_owned()),
            bcrypt_cost,
            app_env,
            refresh_cookie: switch(
                get("REFRESH_TOKEN_COOKIE"),
                "REFRESH_TOKEN_COOKIE",
                ["off", "on"],
                false,
            )?,
            cors_origins,
            rate_limit_login: rate_limit(get("RATE_LIMIT_LOGIN"), "RATE_LIMIT_LOGIN", "10/15m")?,
            rate_limit_ip: rate_limit(get("RATE_LIMIT_IP"), "RATE_LIMIT_IP", "300/5m")?,
            trust_proxy_headers: switch(
                get("TRUST_PROXY_HEADERS"),
                "TRUST_PROXY_HEADERS",
                ["false", "true"],
                false,
            )?,
            // Production hides the schema by default: clients are generated
            // from the published schema.graphql, not from a live server.
            graphql_introspection: switch(
                get("GRAPHQL_INTROSPECTION"),
                "GRAPHQL_INTROSPECTION",
                ["off", "on"],
                !production,
            )?,
            graphiql: switch(get("GRAPHIQL"), "GRAPHIQL", ["off", "on"], !production)?,
            housekeeping_interval: match get("HOUSEKEEPING_INTERVAL").as_deref() {
                Some("0") => None,
                raw => Some(lifetime(
                    raw.map(str::to_owned),
                    "HOUSEKEEPING_INTERVAL",
                    "10m",
                )?),
            },
            http: HttpLimits {
                header_timeout: lifetime(get("HTTP_HEADER_TIMEOUT"), "HTTP_HEADER_TIMEOUT", "10s")?,
                request_timeout: lifetime(
                    get("HTTP_REQUEST_TIMEOUT"),
                    "HTTP_REQUEST_TIMEOUT",
                    "30s",
                )?,
                idle_timeout: lifetime(get("HTTP_IDLE_TIMEOUT"), "HTTP_IDLE_TIMEOUT", "75s")?,
                max_connections: whole_number(
                    get("HTTP_MAX_CONNECTIONS"),
                    "HTTP_MAX_CONNECTIONS",
                    10_000,
                    1..=1_000_000,
                )?,
            },
            mail,
            app_name: get("APP_NAME").unwrap_or_else(|| "authql".to_owned()),
            audit_retention: match get("AUDIT_RETENTION").as_deref() {
                Some("0") => None,
                other => Some(lifetime(
                    other.map(str::to_owned),
                    "AUDIT_RETENTION",
                    "90d",
                )?),
            },
            password_reset_ttl: lifetime(
                get("PASSWORD_RESET_EXPIRES"),
                "PASSWORD_RESET_EXPIRES",
                "1h",
            )?,
            email_verify_ttl: lifetime(get("EMAIL_VERIFY_EXPIRES"), "EMAIL_VERIFY_EXPIRES", "24h")?,
            email_verification,
            rate_limit_email: rate_limit(get("RATE_LIMIT_EMAIL"), "RATE_LIMIT_EMAIL", "3/15m")?,
        })
    }

    /// The address to listen on, as `host:port`.
    pub fn listen_address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests;
