//! Tags request errors (those raised before execution) with their standard
//! codes, checks variables before anything runs, and records whether
//! execution started, so the HTTP layer can answer as the GraphQL-over-HTTP
//! spec asks (no `data`, and a 4xx status for
//! `application/graphql-response+json`).

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{
    IntrospectionMode, Request, Response, ServerError, ServerResult, ValidationResult, Variables,
};

use super::{RequestContext, root_fields, select_operation, variables};

/// `extensions.code` of a document that does not parse.
pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
/// `extensions.code` of a document that parses but is not valid.
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";

/// The extension factory registered on the schema.
pub struct RequestPhases;

impl ExtensionFactory for RequestPhases {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PhasesOfOneRequest::default())
    }
}

/// The extension's state for one request.
#[derive(Default)]
struct PhasesOfOneRequest {
    /// The requested operation name, for selecting the operation whose
    /// variables to check.
    operation_name: Mutex<Option<String>>,
}

fn tag(mut error: ServerError, code: &'static str) -> ServerError {
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
    error
}

#[async_trait::async_trait]
impl Extension for PhasesOfOneRequest {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Ok(mut name) = self.operation_name.lock() {
            name.clone_from(&request.operation_name);
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await.map_err(|mut e| {
            // The parser's message quotes the document back, and the document
            // may hold a password: keep only where the error is.
            e.message = "syntax error in the GraphQL document".to_owned();
            tag(e, PARSE_FAILED)
        })?;

        let operation_name = self.operation_name.lock().ok().and_then(|n| n.clone());
        let registry = &ctx.schema_env.registry;
        // An operation that cannot be selected is left to async-graphql to
        // report.
        if let Some(operation) = select_operation(&document, operation_name.as_deref()) {
            let refuse = |message: &str| tag(ServerError::new(message, None), VALIDATION_FAILED);
            if registry.introspection_mode == IntrospectionMode::Disabled
                && root_fields::asks_for_schema(&document, operation)
            {
                return Err(refuse("introspection is disabled on this server"));
            }
            if root_fields::guess_fields(&document, operation) > 1 {
                return Err(refuse(
                    "an operation may contain at most one field that checks a password, \
                     a code or a token",
                ));
            }
            variables::check(operation, variables, registry)
                .map_err(|e| tag(e, VALIDATION_FAILED))?;
        }
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| tag(e, VALIDATION_FAILED))
                .collect()
        })
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(request) = ctx.data_opt::<Arc<RequestContext>>() {
            request.mark_executed();
        }
        next.run(ctx, operation_name).await
    }
}
