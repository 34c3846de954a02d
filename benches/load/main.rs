//! The load benchmark: `cargo bench --bench load`.
//!
//! Starts the release build of authql on a fresh database, seeds
//! what each scenario needs, runs every scenario for a fixed time at a fixed
//! concurrency over loopback, and prints one row per scenario: successful
//! requests/s, p50, p99, errors (an HTTP 200 whose body carries GraphQL `errors` counts as
//! one) and the server's peak RSS so far, then the bcrypt bound: cores × the rate of the
//! fastest bcrypt on the machine (authql's own or the system's C one, see
//! `hashers`), each hasher's time per hash, and every bcrypt-bound rate as a
//! share of that bound. Its own load generator (hyper, one
//! keep-alive connection per virtual user, on one thread) needs nothing
//! installed beyond the database.
//!
//! Settings: `BENCH_SECONDS` (per scenario, default 10), `BENCH_ONLY` (a
//! comma-separated subset of
//! `me,sessions,refresh,request_reset,login,register,admin_users_search,storm,timing`;
//! `admin_users_search` first seeds a million accounts in bulk) and
//! `BENCH_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/authql_bench`,
//! or an SQLite one such as `sqlite:///tmp/authql-bench.db`; either way the
//! database is dropped and recreated). `BENCH_BIN` benchmarks another
//! authql binary (an earlier build, for before-and-after figures).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

mod client;
mod hashers;
mod seed;
mod server;
mod stats;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};

use client::Conn;
use server::Server;
use stats::Outcome;

const PASSWORD: &str = "bench password 123";
const SEED_EMAIL: &str = "seed@bench.example";
const BCRYPT_COST: u32 = 10;

const ME: &str = "{ me { id email role } }";
const SESSIONS: &str = "{ me { sessions { id current } } }";
const REQUEST_RESET: &str = "mutation($e: String!) { requestPasswordReset(email: $e) }";
const LOGIN: &str =
    "mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken } }";
const REGISTER: &str =
    "mutation($input: RegisterInput!) { register(input: $input) { accessToken refreshToken } }";
const USERS_SEARCH: &str =
    "query($s: String) { users(first: 20, search: $s) { totalCount edges { node { id email } } } }";
const REFRESH: &str =
    "mutation($t: String) { refreshToken(refreshToken: $t) { accessToken refreshToken } }";

/// What a virtual user sends, over and over.
#[derive(Clone)]
enum Load {
    /// `me` with this access token.
    Me(String),
    /// `me { sessions }` with this access token.
    Sessions(String),
    /// `refreshToken`, chaining each returned token into the next call.
    Refresh,
    /// `login` of the seeded account.
    Login,
    /// `register` with a new email each time.
    Register,
    /// `requestPasswordReset`, the seeded account's address and an unknown
    /// one in turn.
    RequestReset,
    /// An ADMIN's `users` search matching one account in 1,000.
    UsersSearch(String),
}

fn body(query: &str, variables: Value) -> String {
    json!({ "query": query, "variables": variables }).to_string()
}

fn login_body() -> String {
    body(
        LOGIN,
        json!({ "input": { "email": SEED_EMAIL, "password": PASSWORD } }),
    )
}

/// Logs the seeded account in; returns `(accessToken, refreshToken)`.
async fn login(conn: &mut Conn) -> (String, String) {
    let (_, bytes) = conn.post(login_body(), None).await;
    let v: Value = serde_json::from_slice(&bytes).expect("login answer");
    let payload = &v["data"]["login"];
    (
        payload["accessToken"]
            .as_str()
            .expect("accessToken")
            .to_owned(),
        payload["refreshToken"]
            .as_str()
            .expect("refreshToken")
            .to_owned(),
    )
}

/// One virtual user: sends `load` until `deadline`; returns latencies (µs)
/// and the number of errors.
async fn virtual_user(
    addr: SocketAddr,
    load: Load,
    user: usize,
    deadline: Instant,
) -> (Vec<u32>, usize) {
    let mut conn = Conn::open(addr).await;
    let mut refresh = match load {
        Load::Refresh => Some(login(&mut conn).await.1),
        _ => None,
    };
    let (mut latencies, mut errors, mut n) = (Vec::with_capacity(1 << 16), 0, 0u64);
    while Instant::now() < deadline {
        n += 1;
        let (request, bearer) = match &load {
            Load::Me(token) => (body(ME, json!({})), Some(token.as_str())),
            Load::Sessions(token) => (body(SESSIONS, json!({})), Some(token.as_str())),
            Load::UsersSearch(token) => (
                body(USERS_SEARCH, json!({ "s": seed::NEEDLE })),
                Some(token.as_str()),
            ),
            Load::Refresh => (body(REFRESH, json!({ "t": refresh })), None),
            Load::Login => (login_body(), None),
            Load::RequestReset => {
                // Each virtual user asks for its own account (a person asks
                // for one link, not thousands for one address: those queue
                // on one counter row and are rate limited anyway).
                let email = if n % 2 == 0 {
                    reset_account(user)
                } else {
                    format!("nobody-{user}-{n}@bench.example")
                };
                (body(REQUEST_RESET, json!({ "e": email })), None)
            }
            Load::Register => {
                let email = format!("u{user}-{n}-{}@bench.example", std::process::id());
                (
                    body(
                        REGISTER,
                        json!({ "input": { "email": email, "password": PASSWORD } }),
                    ),
                    None,
                )
            }
        };
        let sent = Instant::now();
        let (status, bytes) = conn.post(request, bearer).await;
        latencies.push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        let ok = status.is_success() && !bytes.windows(8).any(|w| w == b"\"errors\"");
        if !ok {
            errors += 1;
        }
        if let Load::Refresh = load {
            refresh = if ok {
                let v: Value = serde_json::from_slice(&bytes).unwrap_or_default();
                v["data"]["refreshToken"]["refreshToken"]
                    .as_str()
                    .map(str::to_owned)
            } else {
                None
            };
            if refresh.is_none() {
                // The chain broke (counted above): start a new session.
                refresh = Some(login(&mut conn).await.1);
            }
        }
    }
    (latencies, errors)
}

/// Runs `connections` virtual users of `load` for `duration`.
async fn scenario(
    addr: SocketAddr,
    name: &str,
    load: Load,
    connections: usize,
    duration: Duration,
) -> Outcome {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let users: Vec<_> = (0..connections)
        .map(|user| tokio::spawn(virtual_user(addr, load.clone(), user, deadline)))
        .collect();
    let mut outcome = Outcome {
        name: name.to_owned(),
        connections,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        errors: 0,
    };
    for user in users {
        let (latencies, errors) = user.await.unwrap();
        outcome.latencies.extend(latencies);
        outcome.errors += errors;
    }
    outcome.elapsed = started.elapsed();
    outcome
}

async fn fresh_database(url: &str) {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
        return;
    }
    let (server, name) = url
        .rsplit_once('/')
        .expect("a database name in BENCH_DATABASE_URL");
    let mut conn = AsyncPgConnection::establish(&format!("{server}/postgres"))
        .await
        .expect("PostgreSQL must be running");
    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
}

/// The account virtual user `user` asks a reset link for.
fn reset_account(user: usize) -> String {
    format!("reset-{user}@bench.example")
}

/// `requestPasswordReset` timing for the seeded (known) address and for
/// unknown ones: `samples` sequential requests of each, interleaved, 10 ms
/// apart; returns both medians in ms.
async fn reset_timing(conn: &mut Conn, samples: usize) -> (f64, f64) {
    let mut known = Vec::with_capacity(samples);
    let mut unknown = Vec::with_capacity(samples);
    for i in 0..samples {
        for (email, times) in [
            (SEED_EMAIL.to_owned(), &mut known),
            (format!("nobody-timing-{i}@bench.example"), &mut unknown),
        ] {
            let body = body(REQUEST_RESET, json!({ "e": email }));
            // Spaced out, so each request is timed alone: a known address's
            // background job (token, email, delivery) would otherwise land
            // on the next request's clock.
            tokio::time::sleep(Duration::from_millis(10)).await;
            let sent = Instant::now();
            conn.post(body, None).await;
            times.push(sent.elapsed().as_secs_f64() * 1000.0);
        }
    }
    (median(&mut known), median(&mut unknown))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Login timing for an unknown email and for a wrong password: `samples`
/// sequential logins of each, interleaved; returns both medians in ms.
async fn login_timing(conn: &mut Conn, samples: usize) -> (f64, f64) {
    let mut unknown = Vec::with_capacity(samples);
    let mut wrong = Vec::with_capacity(samples);
    for i in 0..samples {
        for (email, times) in [
            (format!("nobody-{i}@bench.example"), &mut unknown),
            (SEED_EMAIL.to_owned(), &mut wrong),
        ] {
            let body = body(
                LOGIN,
                json!({ "input": { "email": email, "password": "not the password" } }),
            );
            let sent = Instant::now();
            conn.post(body, None).await;
            times.push(sent.elapsed().as_secs_f64() * 1000.0);
        }
    }
    (median(&mut unknown), median(&mut wrong))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    format!("{cores} cores, {cpu}")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else is expected.
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let duration = Duration::from_secs(seconds);
    let url = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/authql_bench".to_owned());

    let backend = if url.starts_with("sqlite") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    println!(
        "authql load benchmark on {backend}: {}; {seconds} s per scenario; BCRYPT_COST={BCRYPT_COST}",
        machine()
    );
    fresh_database(&url).await;
    // First start creates and migrates the database; the second measures
    // start-up on a migrated database, as in production.
    let (first, _) = Server::start(&url, BCRYPT_COST).await;
    drop(first);
    let (server, ready) = Server::start(&url, BCRYPT_COST).await;
    println!(
        "ready (spawn to /readyz 200) on a migrated database: {:.1} ms",
        ready.as_secs_f64() * 1000.0
    );

    let addr = server.addr;
    let mut conn = Conn::open(addr).await;
    let (_, reply) = conn
        .post(
            body(
                REGISTER,
                json!({ "input": { "email": SEED_EMAIL, "password": PASSWORD } }),
            ),
            None,
        )
        .await;
    assert!(
        !reply.windows(8).any(|w| w == b"\"errors\""),
        "seeding failed"
    );
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let wanted = |key: &str| only.is_empty() || only.split(',').any(|k| k.trim() == key);
    let (access, _) = login(&mut conn).await;
    if wanted("request_reset") {
        for user in 0..32 {
            let input = json!({ "input": { "email": reset_account(user), "password": PASSWORD } });
            conn.post(body(REGISTER, input), None).await;
        }
    }

    println!();
    let mut bcrypt_bound_rates = Vec::new();
    stats::header();
    for (key, name, load, connections) in [
        ("me", "me", Load::Me(access.clone()), 32),
        // Before the scenarios that sign the seeded account in again: it
        // has two sessions here, as a person with a laptop and a phone.
        (
            "sessions",
            "me { sessions }",
            Load::Sessions(access.clone()),
            32,
        ),
        ("refresh", "refresh", Load::Refresh, 32),
        (
            "request_reset",
            "requestPasswordReset",
            Load::RequestReset,
            32,
        ),
        ("login", "login (cost 10)", Load::Login, 32),
        ("register", "register (cost 10)", Load::Register, 32),
    ] {
        if wanted(key) {
            let mut outcome = scenario(addr, name, load, connections, duration).await;
            stats::row(&mut outcome, server.peak_rss_mib());
            bcrypt_bound_rates.push((name, outcome.rate()));
        }
    }
    if wanted("admin_users_search") {
        let took = seed::million(&url, SEED_EMAIL).await;
        println!(
            "(seeded {} accounts in {:.1} s)",
            seed::ACCOUNTS,
            took.as_secs_f64()
        );
        let load = Load::UsersSearch(access.clone());
        let name = "users(search) of 1M";
        let mut outcome = scenario(addr, name, load, 8, duration).await;
        stats::row(&mut outcome, server.peak_rss_mib());
    }
    if wanted("storm") {
        let me = Load::Me(access.clone());
        let (mut me, mut storm) = tokio::join!(
            scenario(addr, "me during login storm", me, 8, duration),
            scenario(addr, "login storm (cost 10)", Load::Login, 64, duration),
        );
        stats::row(&mut me, server.peak_rss_mib());
        stats::row(&mut storm, server.peak_rss_mib());
        bcrypt_bound_rates.push(("login storm (cost 10)", storm.rate()));
    }

    if wanted("timing") {
        let (unknown, wrong) = login_timing(&mut conn, 200).await;
        println!();
        println!(
            "login timing, median of 200 each: unknown email {unknown:.1} ms, wrong password \
             {wrong:.1} ms, gap {:.1} %",
            100.0 * (unknown - wrong).abs() / wrong
        );
        let (known, unknown) = reset_timing(&mut conn, 200).await;
        println!(
            "requestPasswordReset timing, median of 200 each: known address {known:.2} ms, \
             unknown {unknown:.2} ms, gap {:.1} %",
            100.0 * (known - unknown).abs() / unknown
        );
    }

    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!();
    println!("bcrypt at cost {BCRYPT_COST}, one hash (median of 9, the hashers in alternation):");
    let timings = hashers::per_hash(PASSWORD, BCRYPT_COST);
    let fastest = timings
        .iter()
        .map(|(t, _)| t.seconds)
        .filter(|s| s.is_finite())
        .fold(f64::INFINITY, f64::min);
    for (timing, missing) in &timings {
        match missing {
            Some(why) => println!("  {:<38} not measured: {why}", timing.name),
            None => println!(
                "  {:<38} {:>6.2} ms  {:.3} x the fastest",
                timing.name,
                timing.seconds * 1000.0,
                timing.seconds / fastest
            ),
        }
    }
    let bound = cores as f64 / fastest;
    println!(
        "bcrypt bound: {cores} cores / {:.2} ms (the fastest above) = {bound:.1} hashes/s",
        fastest * 1000.0
    );
    let parallel = hashers::parallel_rate(PASSWORD, BCRYPT_COST, cores);
    println!("authql's hasher on {cores} threads at once, measured: {parallel:.1} hashes/s");
    for (name, rate) in bcrypt_bound_rates {
        if name.contains("cost 10") {
            println!(
                "  {name}: {rate:.1}/s = {:.1} % of the bound, {:.1} % of the parallel rate",
                100.0 * rate / bound,
                100.0 * rate / parallel
            );
        }
    }
}
