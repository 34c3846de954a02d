//! Every setting of the API contract, read and validated once at start-up.
//!
//! Nothing else in the crate reads the environment: `main` calls
//! [`Config::from_env`] and hands the value down. Tests build a `Config` from a
//! plain map through [`Config::from_lookup`], so parsing is tested without
//! touching the process environment.

use std::fmt;
use std::time::Duration;

/// The development database: the local PostgreSQL of the README's quick start.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/authql";

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
    pub database_url: String,
    /// `DATABASE_POOL_SIZE`: most connections this process opens.
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

        let bcrypt_cost = match get("BCRYPT_COST") {
            None => 12,
            Some(raw) => match raw.parse::<u32>() {
                Ok(cost) if (4..=31).contains(&cost) => cost,
                _ => {
                    return Err(invalid(
                        "BCRYPT_COST",
                        format!("expected 4 to 31, got `{raw}`"),
                    ));
                }
            },
        };

        let cors_origins = match get("CORS_ORIGINS") {
            None if production => CorsOrigins::None,
            None => CorsOrigins::Any,
            Some(raw) => parse_origins(&raw)?,
        };

        Ok(Self {
            database_url: get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
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

/// Returns the secret and whether it was generated.
fn secret(
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

fn lifetime(
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

/// A two-valued setting: `[off, on]` are its spellings.
fn switch(
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

/// `10/15m` → ten per fifteen minutes; `0` → off.
fn rate_limit(
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

fn parse_origins(raw: &str) -> Result<CorsOrigins, ConfigError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    const LONG: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn defaults_match_the_contract() {
        let c = config(&[]).unwrap();
        assert_eq!(c.host, "127.0.0.1");
        assert_eq!(c.port, 8000);
        assert_eq!(c.access_ttl, Duration::from_secs(15 * 60));
        assert_eq!(c.refresh_ttl, Duration::from_secs(30 * 86_400));
        assert_eq!(c.issuer, "authql");
        assert_eq!(c.bcrypt_cost, 12);
        assert_eq!(c.app_env, AppEnv::Development);
        assert!(!c.refresh_cookie);
        assert_eq!(c.cors_origins, CorsOrigins::Any);
        assert!(c.secrets_generated);
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
    }

    #[test]
    fn development_secrets_are_random_per_process() {
        let a = config(&[]).unwrap();
        let b = config(&[]).unwrap();
        assert_ne!(a.access_secret, b.access_secret);
        assert_ne!(a.access_secret, a.refresh_secret);
    }

    #[test]
    fn production_refuses_missing_secrets_naming_the_variable() {
        let err = config(&[("APP_ENV", "production"), ("JWT_REFRESH_SECRET", LONG)]).unwrap_err();
        assert_eq!(err.variable, "JWT_ACCESS_SECRET");
        let err = config(&[("APP_ENV", "production"), ("JWT_ACCESS_SECRET", LONG)]).unwrap_err();
        assert_eq!(err.variable, "JWT_REFRESH_SECRET");
    }

    #[test]
    fn production_refuses_short_secrets() {
        let short = &LONG[..31];
        let err = config(&[
            ("APP_ENV", "production"),
            ("JWT_ACCESS_SECRET", LONG),
            ("JWT_REFRESH_SECRET", short),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "JWT_REFRESH_SECRET");
        assert!(err.message.contains("32 bytes"), "{}", err.message);
    }

    #[test]
    fn production_accepts_long_secrets_and_closes_cors() {
        let c = config(&[
            ("APP_ENV", "production"),
            ("JWT_ACCESS_SECRET", LONG),
            ("JWT_REFRESH_SECRET", LONG),
        ])
        .unwrap();
        assert_eq!(c.access_secret.as_bytes(), LONG.as_bytes());
        assert!(!c.secrets_generated);
        assert_eq!(c.cors_origins, CorsOrigins::None);
    }

    #[test]
    fn secrets_never_print() {
        let c = config(&[("JWT_ACCESS_SECRET", "hunter2-hunter2")]).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn lifetimes_parse_each_unit() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("12h"), Some(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("30d"), Some(Duration::from_secs(2_592_000)));
        for bad in [
            "",
            "s",
            "15",
            "0s",
            "-5m",
            "1.5h",
            "15 m",
            "15M",
            "3w",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
        let err = config(&[("JWT_ACCESS_EXPIRES", "15")]).unwrap_err();
        assert_eq!(err.variable, "JWT_ACCESS_EXPIRES");
    }

    proptest::proptest! {
        #[test]
        fn durations_parse_or_refuse_without_panicking(raw in "\\PC{0,24}") {
            if let Some(duration) = parse_duration(&raw) {
                proptest::prop_assert!(duration.as_secs() >= 1);
            }
        }
    }

    #[test]
    fn bcrypt_cost_is_bounded() {
        assert_eq!(config(&[("BCRYPT_COST", "4")]).unwrap().bcrypt_cost, 4);
        assert_eq!(config(&[("BCRYPT_COST", "31")]).unwrap().bcrypt_cost, 31);
        assert_eq!(
            config(&[("BCRYPT_COST", "3")]).unwrap_err().variable,
            "BCRYPT_COST"
        );
        assert_eq!(
            config(&[("BCRYPT_COST", "x")]).unwrap_err().variable,
            "BCRYPT_COST"
        );
    }

    #[test]
    fn cookie_switch_and_unknown_values() {
        assert!(
            config(&[("REFRESH_TOKEN_COOKIE", "on")])
                .unwrap()
                .refresh_cookie
        );
        assert!(
            !config(&[("REFRESH_TOKEN_COOKIE", "off")])
                .unwrap()
                .refresh_cookie
        );
        assert_eq!(
            config(&[("REFRESH_TOKEN_COOKIE", "yes")])
                .unwrap_err()
                .variable,
            "REFRESH_TOKEN_COOKIE"
        );
        assert_eq!(
            config(&[("APP_ENV", "prod")]).unwrap_err().variable,
            "APP_ENV"
        );
        assert_eq!(config(&[("PORT", "http")]).unwrap_err().variable, "PORT");
    }

    #[test]
    fn cors_origins_parse() {
        assert_eq!(
            config(&[("CORS_ORIGINS", "https://a.example, http://localhost:5173/")])
                .unwrap()
                .cors_origins,
            CorsOrigins::List(vec![
                "https://a.example".into(),
                "http://localhost:5173".into()
            ])
        );
        assert_eq!(
            config(&[("CORS_ORIGINS", "*")]).unwrap().cors_origins,
            CorsOrigins::Any
        );
        assert_eq!(
            config(&[("CORS_ORIGINS", "example.com")])
                .unwrap_err()
                .variable,
            "CORS_ORIGINS"
        );
    }

    #[test]
    fn rate_limits_parse_and_zero_turns_them_off() {
        let c = config(&[]).unwrap();
        let fifteen_minutes = Duration::from_secs(900);
        assert_eq!(
            c.rate_limit_login,
            Some(RateLimit {
                max: 10,
                window: fifteen_minutes
            })
        );
        assert_eq!(
            c.rate_limit_ip,
            Some(RateLimit {
                max: 300,
                window: Duration::from_secs(300)
            })
        );
        assert!(!c.trust_proxy_headers);
        let c = config(&[("RATE_LIMIT_LOGIN", "0"), ("RATE_LIMIT_IP", "5/1h")]).unwrap();
        assert_eq!(c.rate_limit_login, None);
        assert_eq!(
            c.rate_limit_ip,
            Some(RateLimit {
                max: 5,
                window: Duration::from_secs(3600)
            })
        );
        for bad in ["bogus", "10", "10/", "/15m", "0/15m", "-1/15m", "10/15x"] {
            assert_eq!(
                config(&[("RATE_LIMIT_LOGIN", bad)]).unwrap_err().variable,
                "RATE_LIMIT_LOGIN",
                "{bad}"
            );
        }
        assert!(
            config(&[("TRUST_PROXY_HEADERS", "true")])
                .unwrap()
                .trust_proxy_headers
        );
        let dev = config(&[]).unwrap();
        assert!(dev.graphql_introspection && dev.graphiql);
        let production = [
            ("APP_ENV", "production"),
            ("JWT_ACCESS_SECRET", LONG),
            ("JWT_REFRESH_SECRET", LONG),
        ];
        let prod = config(&production).unwrap();
        assert!(!prod.graphql_introspection && !prod.graphiql);
        let mut switched_on = production.to_vec();
        switched_on.extend([("GRAPHQL_INTROSPECTION", "on"), ("GRAPHIQL", "on")]);
        let on = config(&switched_on).unwrap();
        assert!(on.graphql_introspection && on.graphiql);
        assert_eq!(
            config(&[("GRAPHIQL", "yes")]).unwrap_err().variable,
            "GRAPHIQL"
        );
        assert_eq!(
            config(&[("TRUST_PROXY_HEADERS", "maybe")])
                .unwrap_err()
                .variable,
            "TRUST_PROXY_HEADERS"
        );
    }

    #[test]
    fn secrets_and_issuer_are_used_byte_for_byte() {
        let c = config(&[("JWT_ACCESS_SECRET", "  padded  "), ("JWT_ISSUER", " me ")]).unwrap();
        assert_eq!(c.access_secret.as_bytes(), b"  padded  ");
        assert_eq!(c.issuer, " me ");
    }

    #[test]
    fn empty_values_count_as_unset() {
        assert_eq!(config(&[("PORT", "")]).unwrap().port, 8000);
    }
}
