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
use tower_http::cors::{AllowHeaders, AllowOrigin, Any, CorsLayer};

use crate::auth::AuthService;
use crate::config::{Config, CorsOrigins};
use crate::db::Store;
use crate::graphql::{AppSchema, build_schema};
use crate::http;

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
}

impl AppState {
    /// Wires the services together.
    pub fn new(config: Config, store: Arc<dyn Store>) -> Self {
        let auth = Arc::new(AuthService::new(&config, Arc::clone(&store)));
        let schema = build_schema(&config, Arc::clone(&auth));
        Self {
            config: Arc::new(config),
            store,
            auth,
            schema,
        }
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
    if let Some(interval) = state.config.housekeeping_interval {
        tokio::spawn(crate::housekeeping::run(Arc::clone(&state.store), interval));
    }
    let limits = state.config.http;
    http::server::run(listener, router(state), limits, shutdown).await
}
