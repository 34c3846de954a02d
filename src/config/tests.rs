//! Parsing tests: every variable, its defaults and its refusals.

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
    assert_eq!(
        c.database,
        Database::Sqlite(SqliteFile::Path(DEFAULT_SQLITE_FILE.into()))
    );
    assert_eq!(
        c.http,
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            max_connections: 10_000,
        }
    );
}

#[test]
fn http_limits_parse_and_refuse_naming_the_variable() {
    let c = config(&[
        ("HTTP_HEADER_TIMEOUT", "2s"),
        ("HTTP_REQUEST_TIMEOUT", "1m"),
        ("HTTP_IDLE_TIMEOUT", "5s"),
        ("HTTP_MAX_CONNECTIONS", "64"),
    ])
    .unwrap();
    assert_eq!(c.http.header_timeout, Duration::from_secs(2));
    assert_eq!(c.http.request_timeout, Duration::from_secs(60));
    assert_eq!(c.http.idle_timeout, Duration::from_secs(5));
    assert_eq!(c.http.max_connections, 64);
    for (variable, value) in [
        ("HTTP_HEADER_TIMEOUT", "0s"),
        ("HTTP_REQUEST_TIMEOUT", "forever"),
        ("HTTP_IDLE_TIMEOUT", "-1s"),
        ("HTTP_MAX_CONNECTIONS", "0"),
        ("HTTP_MAX_CONNECTIONS", "lots"),
    ] {
        assert_eq!(config(&[(variable, value)]).unwrap_err().variable, variable);
    }
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

#[test]
fn database_urls_pick_the_backend() {
    for ok in [
        "postgres://u@h:5432/db",
        "postgresql://u:p@h/db?sslmode=require",
    ] {
        assert_eq!(
            config(&[("DATABASE_URL", ok)]).unwrap().database,
            Database::Postgres(ok.to_owned())
        );
    }
    for (url, path) in [
        ("sqlite://authql.db", "authql.db"),
        ("sqlite:data/a.db", "data/a.db"),
        ("sqlite:///var/lib/authql/a.db", "/var/lib/authql/a.db"),
    ] {
        assert_eq!(
            config(&[("DATABASE_URL", url)]).unwrap().database,
            Database::Sqlite(SqliteFile::Path(path.into()))
        );
    }
    assert_eq!(
        config(&[("DATABASE_URL", "sqlite::memory:")])
            .unwrap()
            .database,
        Database::Sqlite(SqliteFile::Memory)
    );
    for bad in [
        "mysql://u:hunter2@h/db",
        "127.0.0.1:5432",
        "sqlite://",
        "authql.db",
        "sqlite:file:a.db",
        "sqlite://a.db?mode=memory",
    ] {
        let err = config(&[("DATABASE_URL", bad)]).unwrap_err();
        assert_eq!(err.variable, "DATABASE_URL");
        assert!(err.message.contains("sqlite://"), "{}", err.message);
        assert!(err.message.contains("postgres://"), "{}", err.message);
        assert!(
            !err.message.contains("hunter2"),
            "the URL may hold a password: {}",
            err.message
        );
    }
}

#[test]
fn database_descriptions_hide_credentials() {
    let c = config(&[("DATABASE_URL", "postgres://u:hunter2@h:5432/db?password=x")]).unwrap();
    assert_eq!(c.database.describe(), "postgres://h:5432/db");
    assert!(!format!("{c:?}").contains("hunter2"));
}
