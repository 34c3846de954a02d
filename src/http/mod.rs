//! The HTTP surface: `/graphql` (POST, GET, GraphiQL), `/graphiql/` (its
//! files), `/healthz`, `/readyz`.
//!
//! async-graphql-axum's extractors accept batches, ignore `Accept` and run
//! mutations sent over GET, so `/graphql` is handled here, following the
//! GraphQL-over-HTTP spec: content negotiation, `405` for a mutation over GET,
//! `415` for a body that is not JSON, `413` past the body limit, and request
//! errors (unparsable or invalid documents) without a `data` entry.
//!
//! [`server`] is the accept loop under it all: connection deadlines, the
//! connection cap, lingering closes and the graceful stop.

mod client_ip;
mod connection;
mod graphiql;
mod graphql;
mod health;
mod negotiate;
mod response;
pub mod server;

pub use client_ip::ClientIp;
pub use graphiql::graphiql_asset;
pub use graphql::{BODY_LIMIT, graphql_get, graphql_post};
pub use health::{healthz, readyz};
pub use negotiate::{MediaType, negotiate};
