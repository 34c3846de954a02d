//! The application as a value: [`AppState`], [`router`] and [`serve`].
//!
//! Tests call exactly these, so they drive the same router users hit.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower_http::cors::{AllowHeaders, AllowOrigin, Any, CorsLayer};

use crate::auth::AuthService;
use crate::config::{Config, ConfigError, CorsOrigins};
use crate::db::Store;
use crate::graphql::{AppSchema, build_schema};
use crate::http;
use crate::mail::Mail;

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The configuration the process started with.
    pub config: Arc<Config>,
    /// The storage backend.
    pub store: Arc<dyn Store>,
    /// The authentication flows.
    pub auth: Arc<AuthService>,
    /// The GraphQL schema, with the services its resolvers use.
    pub schema: AppSchema,
    /// Mail delivery, when it is on.
    pub mail: Option<Arc<Mail>>,
    /// Tells the background tasks to stop.
    stop: Arc<Notify>,
}

impl AppState {
    /// Wires the services together. Fails when the mail templates or
    /// transport cannot be set up (the error names the variable).
    pub fn new(config: Config, store: Arc<dyn Store>) -> Result<Self, ConfigError> {
        let mail = Mail::new(&config)?.map(Arc::new);
        let auth = Arc::new(AuthService::new(&config, Arc::clone(&store), mail.clone()));
        let schema = build_schema(&config, Arc::clone(&auth));
        Ok(Self {
            config: Arc::new(config),
            store,
            auth,
            schema,
            mail,
            stop: Arc::new(Notify::new()),
        })
    }

    /// Starts the background tasks: the outbox worker (when mail is on) and
    /// the housekeeping purge. `serve` calls this; tests that drive the
    /// router in process call it themselves.
    pub fn start_background(&self) {
        self.start_mail_worker();
        if let Some(interval) = self.config.housekeeping_interval {
            let retention = self.config.audit_retention;
            let store = Arc::clone(&self.store);
            tokio::spawn(crate::housekeeping::run(store, interval, retention));
        }
    }

    /// Starts the outbox worker, when mail is on.
    pub fn start_mail_worker(&self) {
        if let Some(mail) = &self.mail {
            mail.start_worker(Arc::clone(&self.store), Arc::clone(&self.stop));
        }
    }

    /// Stops the outbox worker (between two emails, never mid-send).
    pub fn stop_background(&self) {
        self.stop.notify_waiters();
    }
}

fn cors(origins: &CorsOrigins) -> Option<CorsLayer> {
    let base = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(AllowHeaders::mirror_request())
        .max_age(Duration::from_secs(600));
    match origins {
        CorsOrigins::None => None,
        // `*` cannot go with credentials (Fetch spec), so the cookie mode
        // needs an explicit list of origins.
        CorsOrigins::Any => Some(base.allow_origin(Any)),
        CorsOrigins::List(list) => {
            let list: Vec<HeaderValue> = list
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect();
            Some(
                base.allow_origin(AllowOrigin::list(list))
                    .allow_credentials(true)
                    .expose_headers([header::CONTENT_TYPE]),
            )
        }
    }
}

/// The HTTP routes of the API.
pub fn router(state: AppState) -> Router {
    let cors = cors(&state.config.cors_origins);
    let router = Router::new()
        .route("/graphql", get(http::graphql_get).post(http::graphql_post))
        .route("/graphiql/{file}", get(http::graphiql_asset))
        .route("/healthz", get(http::healthz))
        .route("/readyz", get(http::readyz))
        .with_state(state);
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// Serves the API on `listener` until `shutdown` completes, then finishes
/// the requests in flight (see [`http::server`] for the connection rules).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Pay for the dummy bcrypt hash now, in the background, so the first
    // unknown-email login is not slower than the others.
    let hasher = state.auth.hasher().clone();
    tokio::spawn(async move {
        if hasher.warm_up().await.is_err() {
            tracing::warn!("could not prepare the dummy password hash");
        }
    });
    state.start_background();
    let limits = state.config.http;
    let stopper = state.clone();
    let served = http::server::run(listener, router(state), limits, shutdown).await;
    stopper.stop_background();
    served
}
