//! The test application and request helpers.

pub mod db;
pub mod proxy;
pub mod smtp;
pub mod tokens;

use std::collections::HashMap;
use std::sync::Arc;

use authql::app::{AppState, router};
use authql::config::Config;
use authql::config::Database;
use authql::db::pg::PgStore;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub use db::{Backend, TestDb, backend};

/// The secrets every test app signs with, so tests can forge tokens.
pub const ACCESS_SECRET: &str = "test-access-secret-0123456789abcdef";
pub const REFRESH_SECRET: &str = "test-refresh-secret-0123456789abcdef";
pub const PASSWORD: &str = "correct horse battery";

/// The settings of a production deployment (introspection, GraphiQL and
/// field suggestions off by default).
pub const PRODUCTION: [(&str, &str); 3] = [
    ("APP_ENV", "production"),
    (
        "JWT_ACCESS_SECRET",
        "a-production-secret-of-32-bytes-or-more",
    ),
    (
        "JWT_REFRESH_SECRET",
        "another-production-secret-of-32-bytes",
    ),
];

/// Percent-encodes `s` for a query string.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The router over a database of its own.
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub db: TestDb,
}

/// A server on a socket (see [`TestApp::listen`]); stops when dropped.
pub struct Listening {
    pub address: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A response, body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// `errors[0].extensions.code`, or "" when there is no error.
    pub fn code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("")
    }

    /// Asserts the response is a GraphQL error with `code` and returns it.
    #[track_caller]
    pub fn assert_error(&self, code: &str) -> &Self {
        assert_eq!(self.code(), code, "expected {code}, got: {}", self.text);
        assert_eq!(
            self.body["errors"].as_array().unwrap().len(),
            1,
            "{}",
            self.text
        );
        self
    }

    /// Asserts there are no errors and returns `data.<field>`.
    #[track_caller]
    pub fn data(&self, field: &str) -> &Value {
        assert!(
            self.body.get("errors").is_none(),
            "unexpected errors: {}",
            self.text
        );
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        &self.body["data"][field]
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Tokens of a signed-in session.
#[derive(Debug, Clone)]
pub struct Session {
    pub access: String,
    pub refresh: String,
    pub user_id: String,
}

pub const REGISTER: &str = "mutation($input: RegisterInput!) { register(input: $input) { accessToken refreshToken tokenType expiresIn user { id email role createdAt } } }";
pub const LOGIN: &str = "mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken tokenType expiresIn user { id email role createdAt } } }";
pub const REFRESH: &str = "mutation($t: String) { refreshToken(refreshToken: $t) { accessToken refreshToken tokenType expiresIn user { id email role } } }";
pub const LOGOUT: &str = "mutation($t: String) { logout(refreshToken: $t) }";
pub const LOGOUT_ALL: &str = "mutation { logoutAll }";
pub const ME: &str = "{ me { id email role createdAt } }";

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// An app whose configuration adds (or overrides) these variables.
    pub async fn spawn_with(vars: &[(&str, &str)]) -> Self {
        let db = TestDb::new().await;
        Self::spawn_on(db, None, vars).await
    }

    /// A second server on this app's database, as another instance behind
    /// a load balancer would be: its own pool, limits and state.
    pub async fn sibling(&self, vars: &[(&str, &str)]) -> Self {
        Self::spawn_on(self.db.share(), None, vars).await
    }

    /// Ends the session of `token`; returns `logout`'s answer, which must
    /// not be an error.
    pub async fn logged_out(&self, token: &str) -> bool {
        self.logout(token).await.data("logout").as_bool().unwrap()
    }

    /// An app on `db`, optionally reaching it through another URL (a proxy).
    pub async fn spawn_on(db: TestDb, url: Option<String>, vars: &[(&str, &str)]) -> Self {
        let url = url.unwrap_or_else(|| db.url());
        let mut map: HashMap<String, String> = [
            ("DATABASE_URL", url.as_str()),
            ("BCRYPT_COST", "4"),
            ("JWT_ACCESS_SECRET", ACCESS_SECRET),
            ("JWT_REFRESH_SECRET", REFRESH_SECRET),
            ("DATABASE_POOL_SIZE", "10"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in vars {
            map.insert(k.to_string(), v.to_string());
        }
        let config = Config::from_lookup(|k| map.get(k).cloned()).unwrap();
        let pool_size = config.database_pool_size;
        let store: Arc<dyn authql::db::Store> = match &config.database {
            // Already migrated (from the template): the pool is all it takes.
            Database::Postgres(url) => Arc::new(PgStore::new(url, pool_size).unwrap()),
            // Opened (created, migrated) as `authql` does it.
            database => authql::db::open(database, pool_size).await.unwrap().store,
        };
        let state = AppState::new(config, store).unwrap();
        state.start_mail_worker();
        Self {
            router: router(state.clone()),
            state,
            db,
        }
    }

    /// Serves this app on a real socket of its own (127.0.0.1, a free port),
    /// through the same accept loop `authql serve` runs, until the returned
    /// value is dropped.
    pub async fn listen(&self) -> Listening {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = self.state.clone();
        tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            authql::app::serve(listener, state, shutdown).await.unwrap();
        });
        Listening {
            address,
            _stop: stop,
        }
    }

    /// Sends any request through the router.
    pub async fn send(&self, request: Request<Body>) -> Resp {
        send_request(self.router.clone(), request).await
    }

    /// POSTs an operation through `router` (for spawned tasks).
    pub async fn send_on(router: Router, query: &str, variables: Value) -> Resp {
        let body = json!({ "query": query, "variables": variables }).to_string();
        let request = Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        send_request(router, request).await
    }

    /// POSTs a GraphQL operation as Apollo Client would, with extra headers.
    pub async fn post_with(&self, query: &str, variables: Value, headers: &[(&str, &str)]) -> Resp {
        let mut request = Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = json!({ "query": query, "variables": variables }).to_string();
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    /// POSTs an operation as if from `ip` (the socket peer), with headers.
    pub async fn post_from(
        &self,
        ip: [u8; 4],
        query: &str,
        variables: Value,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut request = Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .extension(ConnectInfo(SocketAddr::from((ip, 40_000))));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = json!({ "query": query, "variables": variables }).to_string();
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    pub async fn post(&self, query: &str, variables: Value) -> Resp {
        self.post_with(query, variables, &[]).await
    }

    /// Runs `query` with `Authorization: Bearer <token>`.
    pub async fn as_bearer(&self, token: &str, query: &str) -> Resp {
        self.as_bearer_with(token, query, json!({})).await
    }

    /// Runs `query` with `variables` and `Authorization: Bearer <token>`.
    pub async fn as_bearer_with(&self, token: &str, query: &str, variables: Value) -> Resp {
        let auth = format!("Bearer {token}");
        self.post_with(query, variables, &[("authorization", &auth)])
            .await
    }

    pub async fn register_raw(&self, email: &str, password: &str) -> Resp {
        self.post(
            REGISTER,
            json!({ "input": { "email": email, "password": password } }),
        )
        .await
    }

    pub async fn login_raw(&self, email: &str, password: &str) -> Resp {
        self.post(
            LOGIN,
            json!({ "input": { "email": email, "password": password } }),
        )
        .await
    }

    /// Registers and returns the session; panics on failure.
    pub async fn register(&self, email: &str) -> Session {
        session(self.register_raw(email, PASSWORD).await.data("register"))
    }

    /// Logs in and returns the session; panics on failure.
    pub async fn login(&self, email: &str) -> Session {
        session(self.login_raw(email, PASSWORD).await.data("login"))
    }

    pub async fn refresh(&self, token: &str) -> Resp {
        self.post(REFRESH, json!({ "t": token })).await
    }

    pub async fn logout(&self, token: &str) -> Resp {
        self.post(LOGOUT, json!({ "t": token })).await
    }

    pub async fn me(&self, token: &str) -> Resp {
        self.as_bearer(token, ME).await
    }
}

async fn send_request(router: Router, request: Request<Body>) -> Resp {
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
        text,
    }
}

/// Presents `token` to `refreshToken` `n` times at once, round-robin over
/// `routers` (instances sharing a database); returns each answer's error
/// code, "" for a success.
pub async fn concurrent_refreshes(routers: &[Router], token: &str, n: usize) -> Vec<String> {
    let calls = (0..n).map(|i| {
        let router = routers[i % routers.len()].clone();
        let token = token.to_owned();
        tokio::spawn(async move {
            TestApp::send_on(router, REFRESH, json!({ "t": token }))
                .await
                .code()
                .to_owned()
        })
    });
    futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

/// The session in an `AuthPayload`.
pub fn session(payload: &Value) -> Session {
    Session {
        access: payload["accessToken"].as_str().unwrap().to_owned(),
        refresh: payload["refreshToken"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        user_id: payload["user"]["id"].as_str().unwrap().to_owned(),
    }
}
