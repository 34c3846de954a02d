//! `POST /graphql` and `GET /graphql`.

use std::sync::Arc;

use async_graphql::parser::types::OperationType;
use async_graphql::{Request, Variables};
use axum::body::{Body as HttpBody, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::ClientIp;
use super::connection::BodyTimedOut;
use super::graphiql;
use super::negotiate::{MediaType, negotiate, wants_html};
use super::response::{graphql, refusal};
use crate::app::AppState;
use crate::auth::Origin;
use crate::graphql::{RequestContext, read_refresh_cookie, select_operation};

/// Largest request body accepted. Operations of this API are a few hundred
/// bytes and GraphiQL's introspection query about 2 KiB.
pub const BODY_LIMIT: usize = 32 * 1024;

/// The JSON body of a GraphQL-over-HTTP request.
#[derive(Deserialize)]
struct Body {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<serde_json::Value>,
    extensions: Option<serde_json::Value>,
}

/// The query string of a GET request.
#[derive(Deserialize)]
pub struct GetParams {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `Authorization: Bearer <token>` (scheme case-insensitive, RFC 7235).
fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = header_str(headers, header::AUTHORIZATION)?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// The `User-Agent`, as UTF-8 (HTTP allows other bytes there; a header that
/// is not UTF-8 is not recorded).
fn user_agent(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::USER_AGENT)?;
    std::str::from_utf8(value.as_bytes()).ok()
}

/// A client's `X-Request-Id`, when it is a plausible id (1 to 128 of
/// `A-Z a-z 0-9 . _ : -`): anything else is client-chosen text that has no
/// place in the audit log, and is dropped.
fn request_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("x-request-id")?.as_bytes();
    let valid = (1..=128).contains(&value.len())
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    valid.then(|| String::from_utf8_lossy(value).into_owned())
}

fn refresh_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(read_refresh_cookie)
}

fn not_acceptable() -> Response {
    refusal(
        StatusCode::NOT_ACCEPTABLE,
        MediaType::Json,
        "Accept must allow application/json or application/graphql-response+json",
    )
}

/// The parameters of a GraphQL-over-HTTP request, from a body or a query
/// string.
struct Params {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<serde_json::Value>,
    extensions: Option<serde_json::Value>,
}

/// Builds the GraphQL request from its parameters, or the 400 answer.
fn build_request(media: MediaType, params: Params) -> Result<Request, Box<Response>> {
    let Params {
        query,
        operation_name,
        variables,
        extensions,
    } = params;
    let bad = |message: &str| Box::new(refusal(StatusCode::BAD_REQUEST, media, message));
    let Some(query) = query else {
        return Err(bad("the request has no `query`"));
    };
    let variables = match variables {
        None | Some(serde_json::Value::Null) => Variables::default(),
        Some(value @ serde_json::Value::Object(_)) => Variables::from_json(value),
        Some(_) => return Err(bad("`variables` must be an object")),
    };
    // Not used by this server, but a malformed one is still a bad request.
    if !matches!(
        extensions,
        None | Some(serde_json::Value::Null | serde_json::Value::Object(_))
    ) {
        return Err(bad("`extensions` must be an object"));
    }
    let mut request = Request::new(query).variables(variables);
    if let Some(name) = operation_name {
        request = request.operation_name(name);
    }
    Ok(request)
}

async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    ip: Option<std::net::IpAddr>,
    request: Request,
    media: MediaType,
) -> Response {
    let context = Arc::new(RequestContext::new(
        bearer_token(headers),
        refresh_cookie(headers),
        Origin::new(ip, user_agent(headers)).with_request_id(request_id(headers)),
    ));
    let result = state
        .schema
        .execute(request.data(Arc::clone(&context)))
        .await;
    graphql(media, result, context.executed())
}

/// `POST /graphql` with a JSON body.
pub async fn graphql_post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: HttpBody,
) -> Response {
    let Some(media) = negotiate(header_str(&headers, header::ACCEPT)) else {
        return not_acceptable();
    };
    let is_json = header_str(&headers, header::CONTENT_TYPE).is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    });
    if !is_json {
        // Also what keeps cross-site HTML forms (which cannot send JSON) from
        // posting to /graphql with the browser's cookies.
        return refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            "Content-Type must be application/json",
        );
    }
    let body = match read_body(&headers, body).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return closing(refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                media,
                "the request body is too large",
            ));
        }
        Err(BodyError::TimedOut) => {
            return closing(refusal(
                StatusCode::REQUEST_TIMEOUT,
                media,
                "the request body did not arrive in time",
            ));
        }
        Err(BodyError::Broken) => {
            return refusal(StatusCode::BAD_REQUEST, media, "unreadable body");
        }
    };
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return refusal(
            StatusCode::BAD_REQUEST,
            media,
            "batched requests are not supported",
        );
    }
    let Ok(parsed) = serde_json::from_slice::<Body>(&body) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            media,
            "the body must be a JSON object with a string `query`",
        );
    };
    let params = Params {
        query: parsed.query,
        operation_name: parsed.operation_name,
        variables: parsed.variables,
        extensions: parsed.extensions,
    };
    match build_request(media, params) {
        Ok(request) => execute(&state, &headers, ip, request, media).await,
        Err(response) => *response,
    }
}

/// Why a request body could not be read.
enum BodyError {
    /// Over [`BODY_LIMIT`].
    TooLarge,
    /// Not all there within `HTTP_REQUEST_TIMEOUT`.
    TimedOut,
    /// The client broke off, or sent a malformed chunked body.
    Broken,
}

/// Reads the body, at most [`BODY_LIMIT`] bytes of it. A `Content-Length`
/// over the limit is refused before a byte of the body is read.
async fn read_body(headers: &HeaderMap, body: HttpBody) -> Result<Bytes, BodyError> {
    let declared = header_str(headers, header::CONTENT_LENGTH).and_then(|n| n.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        return Err(BodyError::TooLarge);
    }
    let limited = http_body_util::Limited::new(body, BODY_LIMIT);
    match http_body_util::BodyExt::collect(limited).await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Err(error) => {
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error.as_ref());
            while let Some(current) = cause {
                if current.is::<BodyTimedOut>() {
                    return Err(BodyError::TimedOut);
                }
                cause = current.source();
            }
            Err(BodyError::Broken)
        }
    }
}

/// `response` with `Connection: close`: after a body that was not read to
/// its end, the connection cannot carry another request. The server then
/// closes it gently (see `super::connection`), so the client reads this
/// answer even while it is still sending.
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// True when the operation the request selects is a mutation (or a
/// subscription). Unparsable documents are left to the executor, which
/// reports them as parse errors. This parses GET documents a second time;
/// GET is the rare path (POST is what clients use), so that is cheaper than
/// threading a parsed document through async-graphql's request.
fn selects_mutation(query: &str, operation_name: Option<&str>) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return false;
    };
    select_operation(&document, operation_name).is_some_and(|op| op.ty != OperationType::Query)
}

/// `GET /graphql`: the GraphiQL page for browsers (its files are under
/// `/graphiql/`), queries (never mutations) otherwise.
pub async fn graphql_get(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    params: Result<Query<GetParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let accept = header_str(&headers, header::ACCEPT);
    let params = params.ok().map(|Query(p)| p);
    let has_query = params.as_ref().is_some_and(|p| p.query.is_some());
    if state.config.graphiql && !has_query && wants_html(accept) {
        return graphiql::page();
    }
    let Some(media) = negotiate(accept) else {
        return not_acceptable();
    };
    let Some(params) = params else {
        return refusal(StatusCode::BAD_REQUEST, media, "malformed query string");
    };
    let json = |raw: Option<&str>| {
        raw.map(serde_json::from_str::<serde_json::Value>)
            .transpose()
    };
    let (Ok(variables), Ok(extensions)) = (
        json(params.variables.as_deref()),
        json(params.extensions.as_deref()),
    ) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            media,
            "`variables` and `extensions` must be JSON",
        );
    };
    if let Some(query) = &params.query {
        if selects_mutation(query, params.operation_name.as_deref()) {
            let mut response = refusal(
                StatusCode::METHOD_NOT_ALLOWED,
                media,
                "mutations must be sent with POST",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
    }
    let params = Params {
        query: params.query,
        operation_name: params.operation_name,
        variables,
        extensions,
    };
    match build_request(media, params) {
        Ok(request) => execute(&state, &headers, ip, request, media).await,
        Err(response) => *response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(bearer_token(&headers), Some("abc".into()));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer_token(&headers), None);
    }

    #[test]
    fn finds_mutations_by_operation_name() {
        assert!(selects_mutation("mutation { logoutAll }", None));
        assert!(!selects_mutation("{ me { id } }", None));
        let doc = "query A { me { id } } mutation B { logoutAll }";
        assert!(selects_mutation(doc, Some("B")));
        assert!(!selects_mutation(doc, Some("A")));
        assert!(!selects_mutation("mutation {", None));
    }
}
