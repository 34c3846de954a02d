//! The `authql` binary: start-up refusals, `print-schema`, `migrate`.

use std::process::Command;

use super::helpers::TestDb;

/// The binary with a clean environment, run where no `.env` file is.
fn authql(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    authql_in(&std::env::temp_dir(), args, env)
}

/// [`authql`] in the working directory `dir`.
fn authql_in(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_authql"));
    command
        .args(args)
        .env_clear()
        .current_dir(dir)
        .env("RUST_LOG", "info");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn stderr_and_out(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    )
}

const LONG: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn production_refuses_to_start_without_both_secrets() {
    for (env, variable) in [
        (vec![("APP_ENV", "production")], "JWT_ACCESS_SECRET"),
        (
            vec![("APP_ENV", "production"), ("JWT_ACCESS_SECRET", LONG)],
            "JWT_REFRESH_SECRET",
        ),
        (
            vec![
                ("APP_ENV", "production"),
                ("JWT_ACCESS_SECRET", LONG),
                ("JWT_REFRESH_SECRET", "short"),
            ],
            "JWT_REFRESH_SECRET",
        ),
        (
            vec![
                ("APP_ENV", "production"),
                ("JWT_ACCESS_SECRET", &LONG[1..]),
                ("JWT_REFRESH_SECRET", LONG),
            ],
            "JWT_ACCESS_SECRET",
        ),
    ] {
        let output = authql(&["serve"], &env);
        assert!(!output.status.success(), "{env:?}");
        let text = stderr_and_out(&output);
        assert!(text.contains(variable), "{env:?}: {text}");
        assert!(!text.contains(LONG), "a secret was printed: {text}");
    }
}

#[test]
fn with_no_database_url_the_data_lives_in_authql_db_in_the_working_directory() {
    let dir = std::env::temp_dir().join(format!("authql-cwd-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let first = authql_in(&dir, &["migrate"], &[]);
    let text = stderr_and_out(&first);
    assert!(first.status.success(), "{text}");
    assert!(
        text.contains("storing data in the SQLite file authql.db"),
        "{text}"
    );
    assert!(text.contains("created the database"), "{text}");
    assert_eq!(text.matches("applied migration").count(), 6, "{text}");
    assert!(dir.join("authql.db").is_file());
    // The second start finds its file and its tables.
    let again = stderr_and_out(&authql_in(&dir, &["migrate"], &[]));
    assert!(!again.contains("created the database"), "{again}");
    assert!(!again.contains("applied migration"), "{again}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_in_memory_database_needs_no_file() {
    let output = authql(&["migrate"], &[("DATABASE_URL", "sqlite::memory:")]);
    let text = stderr_and_out(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("storing data in memory"), "{text}");
}

#[test]
fn an_unknown_database_scheme_is_refused_naming_the_accepted_forms() {
    for url in ["mysql://root:hunter2@db/authql", "authql.db", "sqlite://"] {
        let output = authql(&["serve"], &[("DATABASE_URL", url)]);
        assert!(!output.status.success(), "{url}");
        let text = stderr_and_out(&output);
        for expected in [
            "DATABASE_URL",
            "sqlite://",
            "sqlite::memory:",
            "postgres://",
        ] {
            assert!(text.contains(expected), "{url}: {text}");
        }
        assert!(!text.contains("hunter2"), "a password was printed: {text}");
    }
}

#[test]
fn a_missing_directory_is_named_at_start_up() {
    let output = authql(
        &["migrate"],
        &[("DATABASE_URL", "sqlite:///nonexistent-authql-dir/authql.db")],
    );
    assert!(!output.status.success());
    let text = stderr_and_out(&output);
    assert!(
        text.contains("could not open the SQLite database /nonexistent-authql-dir/authql.db: its directory does not exist"),
        "{text}"
    );
}

#[test]
fn bad_settings_are_refused_naming_the_variable() {
    let output = authql(&["serve"], &[("JWT_ACCESS_EXPIRES", "soon")]);
    assert!(!output.status.success());
    assert!(stderr_and_out(&output).contains("JWT_ACCESS_EXPIRES"));
}

#[test]
fn print_schema_prints_the_checked_in_schema() {
    let output = authql(&["print-schema"], &[]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        include_str!("../../schema.graphql")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_creates_a_missing_database_and_applies_every_migration() {
    // A name no test uses; `migrate` must create it.
    let db = TestDb::missing().await;
    let url = db.url();
    let output =
        tokio::task::spawn_blocking(move || authql(&["migrate"], &[("DATABASE_URL", &url)]))
            .await
            .unwrap();
    assert!(output.status.success(), "{}", stderr_and_out(&output));
    let text = stderr_and_out(&output);
    assert!(text.contains("created the database"), "{text}");
    assert!(text.contains("applied migration"), "{text}");
    assert!(
        !text.contains("postgres@"),
        "credentials in the log: {text}"
    );
    assert_eq!(
        db.execute("SELECT 1 FROM users, sessions, refresh_tokens")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_answers_then_stops_gracefully_on_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::Stdio;

    let db = TestDb::new().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_authql"))
        .env_clear()
        .current_dir(std::env::temp_dir())
        .envs([
            ("DATABASE_URL", db.url().as_str()),
            ("PORT", "0"),
            ("RUST_LOG", "info"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (address, lines) = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        let address = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| {
                let start = line.find("http://")? + "http://".len();
                let rest = &line[start..];
                Some(rest[..rest.find('/')?].to_owned())
            })
            .unwrap();
        (address, lines)
    })
    .await
    .unwrap();

    let ready = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        stream
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    })
    .await
    .unwrap();
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("shutting down")), "{rest:?}");
}

/// `authql users ...` against `db`, off the async runtime.
async fn users(db: &TestDb, args: &[&str], password: Option<&str>) -> std::process::Output {
    let url = db.url();
    let mut all = vec!["users"];
    all.extend_from_slice(args);
    let args: Vec<String> = all.iter().map(|s| (*s).to_owned()).collect();
    let password = password.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut env = vec![("DATABASE_URL", url.as_str())];
        if let Some(password) = &password {
            env.push(("AUTHQL_PASSWORD", password.as_str()));
        }
        authql(&args, &env)
    })
    .await
    .unwrap()
}

/// The one line a failed command says (after any log lines: the tests run
/// with `RUST_LOG=info`).
fn said(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr.lines().last().unwrap_or_default().to_owned()
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn users_commands_administer_a_real_database() {
    let db = TestDb::new().await;
    let password = "an operator's long password";
    let created = users(
        &db,
        &["create", "--email", "Root@Example.com", "--admin"],
        Some(password),
    )
    .await;
    assert!(created.status.success(), "{}", stderr_and_out(&created));
    let out = stdout(&created);
    assert!(
        out.starts_with("created ") && out.contains("root@example.com  ADMIN"),
        "{out}"
    );
    assert!(!stderr_and_out(&created).contains(password));

    // The account signs in through the API as a verified ADMIN.
    let app = super::helpers::TestApp::spawn_on(db.share(), None, &[]).await;
    let resp = app.login_raw("root@example.com", password).await;
    assert_eq!(resp.data("login")["user"]["role"], "ADMIN");
    let root = super::helpers::session(resp.data("login"));

    // Without a password source and off a terminal: a clear refusal.
    let refused = users(&db, &["create", "--email", "x@example.com"], None).await;
    assert!(!refused.status.success());
    assert_eq!(
        said(&refused),
        "authql: set AUTHQL_PASSWORD, or run on a terminal to be asked"
    );
    // A short password: the API's rule.
    let short = users(&db, &["create", "--email", "x@example.com"], Some("short")).await;
    assert!(!short.status.success());
    assert!(said(&short).starts_with("authql: password: "));

    let made = users(
        &db,
        &["create", "--email", "bob@example.com"],
        Some(password),
    )
    .await;
    assert!(made.status.success());
    let bob = app.login_raw("bob@example.com", password).await;
    let bob = super::helpers::session(bob.data("login"));

    let listed = users(&db, &["list", "--search", "BOB"], None).await;
    let out = stdout(&listed);
    assert!(
        out.contains("bob@example.com  USER") && out.ends_with("1 accounts\n"),
        "{out}"
    );

    // The last enabled ADMIN is protected here too.
    for args in [
        vec!["set-role", "root@example.com", "USER"],
        vec!["disable", "root@example.com"],
        vec!["delete", "root@example.com"],
    ] {
        let output = users(&db, &args, None).await;
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert_eq!(
            said(&output),
            "authql: refused: that would leave no enabled ADMIN (make another one first)"
        );
    }

    let revoked = users(&db, &["revoke-sessions", "bob@example.com"], None).await;
    assert_eq!(stdout(&revoked), "ended 1 sessions of bob@example.com\n");
    app.me(&bob.access).await.assert_error("UNAUTHENTICATED");
    let disabled = users(&db, &["disable", "bob@example.com"], None).await;
    assert!(stdout(&disabled).starts_with("disabled: "));
    app.login_raw("bob@example.com", password)
        .await
        .assert_error("ACCOUNT_DISABLED");
    let enabled = users(&db, &["enable", "bob@example.com"], None).await;
    assert!(stdout(&enabled).starts_with("enabled: "));
    let promoted = users(&db, &["set-role", "bob@example.com", "admin"], None).await;
    assert!(stdout(&promoted).contains("bob@example.com  ADMIN"));
    let unknown = users(&db, &["set-role", "bob@example.com", "ROOT"], None).await;
    assert_eq!(said(&unknown), "authql: unknown role `ROOT`: ADMIN or USER");
    let missing = users(&db, &["delete", "nobody@example.com"], None).await;
    assert_eq!(
        said(&missing),
        "authql: no account has the email nobody@example.com"
    );
    let deleted = users(&db, &["delete", "bob@example.com"], None).await;
    assert!(stdout(&deleted).starts_with("deleted bob@example.com"));

    // Every change is in the audit log, with no actor and no IP.
    let events = app
        .as_bearer(
            &root.access,
            "{ auditEvents(types: [USER_SESSIONS_REVOKED, USER_DISABLED, USER_ENABLED, ROLE_CHANGED, USER_DELETED]) { edges { node { type actorId ip } } } }",
        )
        .await;
    let edges = events.data("auditEvents")["edges"]
        .as_array()
        .unwrap()
        .clone();
    let kinds: Vec<&str> = edges
        .iter()
        .map(|e| e["node"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "USER_DELETED",
            "ROLE_CHANGED",
            "USER_ENABLED",
            "USER_DISABLED",
            "USER_SESSIONS_REVOKED"
        ]
    );
    assert!(
        edges
            .iter()
            .all(|e| e["node"]["actorId"].is_null() && e["node"]["ip"].is_null())
    );
}
