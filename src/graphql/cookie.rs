//! The refresh-token cookie (`REFRESH_TOKEN_COOKIE=on`).
//!
//! The cookie is `HttpOnly` (scripts, and so XSS, cannot read it), `Secure`,
//! `SameSite=Strict` (no cross-site request carries it) and scoped to
//! `/graphql`, the only path that reads it.

use async_graphql::Context;

use super::CookieMode;
use super::context::request_context;
use crate::error::AppError;

/// The cookie's name.
pub const REFRESH_COOKIE: &str = "authql_refresh";

const ATTRIBUTES: &str = "HttpOnly; Secure; SameSite=Strict; Path=/graphql";

/// Finds `authql_refresh` in a `Cookie` request header.
pub fn read_refresh_cookie(header: &str) -> Option<String> {
    header.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == REFRESH_COOKIE && !value.is_empty()).then(|| value.trim_matches('"').to_owned())
    })
}

fn cookie_mode(ctx: &Context<'_>) -> bool {
    ctx.data_opt::<CookieMode>().is_some_and(|mode| mode.0)
}

/// The refresh token a call presents: the argument, or in cookie mode the
/// cookie. Returns the token and whether it came from the cookie.
pub(super) fn presented_refresh_token(
    ctx: &Context<'_>,
    argument: Option<String>,
) -> Result<(String, bool), AppError> {
    if let Some(token) = argument {
        return Ok((token, false));
    }
    if cookie_mode(ctx) {
        if let Some(token) = request_context(ctx)?.refresh_cookie() {
            return Ok((token.to_owned(), true));
        }
    }
    Err(AppError::InvalidRefreshToken)
}

/// In cookie mode, sets the refresh cookie and returns false (the token
/// stays out of the body); otherwise returns true.
pub(super) fn deliver_refresh_token(ctx: &Context<'_>, token: &str, max_age: u64) -> bool {
    if !cookie_mode(ctx) {
        return true;
    }
    ctx.append_http_header(
        axum::http::header::SET_COOKIE,
        format!("{REFRESH_COOKIE}={token}; {ATTRIBUTES}; Max-Age={max_age}"),
    );
    false
}

/// In cookie mode, tells the browser to drop the refresh cookie.
pub(super) fn clear_refresh_cookie(ctx: &Context<'_>) {
    if cookie_mode(ctx) {
        ctx.append_http_header(
            axum::http::header::SET_COOKIE,
            format!("{REFRESH_COOKIE}=; {ATTRIBUTES}; Max-Age=0"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_refresh_cookie_among_others() {
        assert_eq!(
            read_refresh_cookie("a=1; authql_refresh=abc.def.ghi; b=2"),
            Some("abc.def.ghi".into())
        );
        assert_eq!(read_refresh_cookie("authql_refresh="), None);
        assert_eq!(read_refresh_cookie("other=1"), None);
        assert_eq!(read_refresh_cookie("xauthql_refresh=1"), None);
    }
}
