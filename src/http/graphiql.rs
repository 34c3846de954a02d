//! GraphiQL, served from files embedded in the binary.
//!
//! Auth servers often run in closed networks, so the IDE must not depend on
//! a CDN: the page and every script and stylesheet it loads come from this
//! server (GraphiQL 3.9.0 and React 18.3.1, vendored from npm with their
//! licenses in `graphiql/`; its `README.md` says how to update them).
//!
//! The page is `GET /graphql` for a browser; the files it loads are
//! `GET /graphiql/<name>`. Only the names below are served (a fixed table,
//! never a file-system lookup), and only while GraphiQL is switched on
//! (`GRAPHIQL`); anything else there is a plain 404.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;

/// The page: a shell that loads the assets below, nothing inline but a few
/// lines of CSS.
const PAGE: &str = include_str!("graphiql/index.html");

/// Who may load what on the page: this origin only. No inline or `eval`'d
/// script; inline styles are allowed because GraphiQL's editors set them.
/// `connect-src 'self'` keeps the IDE's requests on this server.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Versioned third-party files never change under one name: a year in
/// browser caches.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// authql's own start-up script has no version in its name: revalidate.
const REVALIDATE: &str = "no-cache";

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// One embedded file: its name in the URL, media type, caching and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    cache_control: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "graphiql-3.9.0.min.js",
        content_type: JS,
        cache_control: IMMUTABLE,
        body: include_bytes!("graphiql/graphiql-3.9.0.min.js"),
    },
    Asset {
        name: "graphiql-3.9.0.min.css",
        content_type: CSS,
        cache_control: IMMUTABLE,
        body: include_bytes!("graphiql/graphiql-3.9.0.min.css"),
    },
    Asset {
        name: "react-18.3.1.production.min.js",
        content_type: JS,
        cache_control: IMMUTABLE,
        body: include_bytes!("graphiql/react-18.3.1.production.min.js"),
    },
    Asset {
        name: "react-dom-18.3.1.production.min.js",
        content_type: JS,
        cache_control: IMMUTABLE,
        body: include_bytes!("graphiql/react-dom-18.3.1.production.min.js"),
    },
    Asset {
        name: "authql-graphiql.js",
        content_type: JS,
        cache_control: REVALIDATE,
        body: include_bytes!("graphiql/authql-graphiql.js"),
    },
];

/// The GraphiQL page, pointed at `/graphql`.
pub fn page() -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
        ],
        PAGE,
    )
        .into_response();
    nosniff(&mut response);
    response
}

/// `GET /graphiql/{name}`: an embedded file, while GraphiQL is on.
pub async fn graphiql_asset(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match asset(&name) {
        Some(response) if state.config.graphiql => response,
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The embedded file called `name`, or `None` when there is no such file.
fn asset(name: &str) -> Option<Response> {
    let asset = ASSETS.iter().find(|a| a.name == name)?;
    let mut response = (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, asset.cache_control),
        ],
        asset.body,
    )
        .into_response();
    nosniff(&mut response);
    Some(response)
}

/// Browsers must trust the declared type, never guess one.
fn nosniff(response: &mut Response) {
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `src`/`href` value in the page.
    fn page_links() -> Vec<&'static str> {
        let mut links = Vec::new();
        for attribute in ["src=\"", "href=\""] {
            let mut rest = PAGE;
            while let Some(start) = rest.find(attribute) {
                rest = &rest[start + attribute.len()..];
                let end = rest.find('"').unwrap_or(rest.len());
                links.push(&rest[..end]);
            }
        }
        // The empty icon keeps browsers from asking for /favicon.ico.
        links.retain(|link| *link != "data:,");
        links
    }

    #[test]
    fn the_page_loads_only_embedded_assets_from_this_server() {
        let links = page_links();
        assert_eq!(links.len(), ASSETS.len(), "{links:?}");
        for link in links {
            let name = link
                .strip_prefix("/graphiql/")
                .unwrap_or_else(|| panic!("{link} is not an embedded asset"));
            assert!(asset(name).is_some(), "{name} is not embedded");
        }
    }

    #[test]
    fn nothing_refers_to_another_host() {
        assert!(!PAGE.contains("://"));
        let script = std::str::from_utf8(include_bytes!("graphiql/authql-graphiql.js")).unwrap();
        assert!(!script.contains("://"));
        assert!(script.contains("\"/graphql\""));
        assert!(script.contains("Authorization"));
    }

    #[test]
    fn assets_carry_their_type_caching_and_nosniff() {
        let response = asset("graphiql-3.9.0.min.js").unwrap();
        let headers = response.headers();
        assert_eq!(headers[header::CONTENT_TYPE], JS);
        assert_eq!(headers[header::CACHE_CONTROL], IMMUTABLE);
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let css = asset("graphiql-3.9.0.min.css").unwrap();
        assert_eq!(css.headers()[header::CONTENT_TYPE], CSS);
        let own = asset("authql-graphiql.js").unwrap();
        assert_eq!(own.headers()[header::CACHE_CONTROL], REVALIDATE);
    }

    #[test]
    fn unknown_names_are_not_served() {
        for name in [
            "",
            "index.html",
            "../Cargo.toml",
            "LICENSE.graphiql",
            "README.md",
        ] {
            assert!(asset(name).is_none(), "{name}");
        }
    }

    #[test]
    fn the_page_forbids_inline_scripts_and_other_origins() {
        let response = page();
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("script-src 'self';"));
        assert!(csp.contains("connect-src 'self'"));
        assert!(!PAGE.contains("<script>"));
    }
}
