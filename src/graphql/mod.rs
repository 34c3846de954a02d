//! The GraphQL schema: types, resolvers, guards and limits.
//!
//! Resolvers stay thin: they turn input into a call to [`crate::auth`] and
//! the result into output. Per-request data (the bearer token, the refresh
//! cookie, the authenticated principal) lives in [`RequestContext`].

mod account;
mod admin;
mod context;
mod cookie;
mod email_links;
mod extension;
mod resolvers;
mod root_fields;
mod types;
mod user;
mod variables;

use std::sync::Arc;

use async_graphql::{EmptySubscription, MergedObject, Schema, SchemaBuilder};

pub use context::{Authenticated, RequestContext, RoleGuard};
pub use cookie::{REFRESH_COOKIE, read_refresh_cookie};
pub use extension::{PARSE_FAILED, VALIDATION_FAILED};
pub use root_fields::select_operation;

use crate::auth::AuthService;
use crate::config::{AppEnv, Config};

// Every mutation, one part per area (a plain comment: a doc comment would
// become the type's description in the SDL).
#[allow(missing_docs)]
#[derive(MergedObject, Default)]
pub struct Mutation(
    resolvers::SignInMutation,
    account::AccountMutation,
    email_links::EmailLinkMutation,
    admin::AdminMutation,
);

// Every query, one part per area.
#[allow(missing_docs)]
#[derive(MergedObject, Default)]
pub struct Query(resolvers::AccountQuery, admin::AdminQuery);

/// The schema type served at `/graphql`.
pub type AppSchema = Schema<Query, Mutation, EmptySubscription>;

/// Deepest selection accepted. GraphiQL's introspection query nests about 13
/// levels (`ofType` chains); the API's own operations need 3.
const MAX_DEPTH: usize = 20;
/// Most fields one operation may select, counted statically: bounds the work
/// of a single document (aliases included).
const MAX_COMPLEXITY: usize = 1_000;

/// Whether refresh tokens travel in an httpOnly cookie (`REFRESH_TOKEN_COOKIE`).
#[derive(Debug, Clone, Copy)]
pub struct CookieMode(pub bool);

fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .extension(extension::RequestPhases)
}

/// Builds the schema with the services the resolvers use.
pub fn build_schema(config: &Config, auth: Arc<AuthService>) -> AppSchema {
    let mut builder = builder().data(auth).data(CookieMode(config.refresh_cookie));
    if !config.graphql_introspection {
        builder = builder.disable_introspection();
    }
    if config.app_env == AppEnv::Production {
        // "Did you mean ...?" hints map the schema for whoever probes it.
        builder = builder.disable_suggestions();
    }
    builder.finish()
}

/// The SDL of the schema (`authql print-schema`, and `schema.graphql`).
pub fn sdl() -> String {
    builder().finish().sdl()
}
