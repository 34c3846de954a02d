//! The client's IP address, for rate limits and audit events.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::app::AppState;

/// The client IP: the socket peer, or with `TRUST_PROXY_HEADERS=true` the
/// last address in `X-Forwarded-For`.
///
/// The last entry is the one the proxy in front of us appended: the address
/// it saw. Entries before it were written by the client or by proxies we do
/// not run, so they are ignored; a client cannot spoof its way out of a limit
/// by sending the header itself. Without the setting the header is ignored
/// entirely: anyone can send it.
pub struct ClientIp(pub Option<IpAddr>);

/// The last well-formed address in `X-Forwarded-For` headers.
pub fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last_header = headers.get_all("x-forwarded-for").iter().next_back()?;
    let last_entry = last_header.to_str().ok()?.rsplit(',').next()?.trim();
    last_entry.parse().ok()
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let ip = if state.config.trust_proxy_headers {
            forwarded_for(&parts.headers).or(peer)
        } else {
            peer
        };
        Ok(Self(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn takes_the_entry_our_proxy_appended() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 10.0.0.7, 203.0.113.9"),
        );
        assert_eq!(forwarded_for(&headers), Some([203, 0, 113, 9].into()));
        headers.append("x-forwarded-for", HeaderValue::from_static("198.51.100.1"));
        assert_eq!(forwarded_for(&headers), Some([198, 51, 100, 1].into()));
        headers.insert("x-forwarded-for", HeaderValue::from_static("garbage"));
        assert_eq!(forwarded_for(&headers), None);
        headers.insert("x-forwarded-for", HeaderValue::from_static("2001:db8::1"));
        assert_eq!(
            forwarded_for(&headers),
            Some("2001:db8::1".parse().unwrap())
        );
    }
}
