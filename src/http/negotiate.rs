//! `Accept` header negotiation between the two GraphQL response media types.

/// A media type `/graphql` can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/graphql-response+json`: request errors get a 4xx status.
    GraphqlResponseJson,
    /// `application/json`: every well-formed request gets 200 (what Apollo
    /// Client and older tools expect).
    Json,
}

impl MediaType {
    /// The `Content-Type` value.
    pub fn content_type(self) -> &'static str {
        match self {
            MediaType::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        }
    }
}

/// Picks the media type the client prefers, by quality value; a missing or
/// empty header means `application/json` (as the spec asks during its
/// transition period), and so does a wildcard. `None` means nothing we can
/// produce is acceptable (`406`).
pub fn negotiate(accept: Option<&str>) -> Option<MediaType> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Some(MediaType::Json);
    };
    let mut best: Option<(f32, u8, MediaType)> = None;
    for entry in accept.split(',') {
        let mut parts = entry.split(';');
        let range = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        // Specific types win ties over wildcards.
        let (media, specificity) = match range.as_str() {
            "application/graphql-response+json" => (MediaType::GraphqlResponseJson, 2),
            "application/json" => (MediaType::Json, 2),
            "application/*" | "*/*" => (MediaType::Json, 1),
            _ => continue,
        };
        if quality <= 0.0 {
            continue;
        }
        if best.is_none_or(|(q, s, _)| quality > q || (quality == q && specificity > s)) {
            best = Some((quality, specificity, media));
        }
    }
    best.map(|(_, _, media)| media)
}

/// True when the `Accept` header asks for HTML (a browser opening GraphiQL).
pub fn wants_html(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.to_ascii_lowercase().contains("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use MediaType::*;

    #[test]
    fn picks_by_quality_then_specificity() {
        assert_eq!(negotiate(None), Some(Json));
        assert_eq!(negotiate(Some("")), Some(Json));
        assert_eq!(negotiate(Some("application/json")), Some(Json));
        assert_eq!(
            negotiate(Some("application/graphql-response+json")),
            Some(GraphqlResponseJson)
        );
        // What Apollo Client sends.
        assert_eq!(
            negotiate(Some(
                "application/graphql-response+json,application/json;q=0.9"
            )),
            Some(GraphqlResponseJson)
        );
        assert_eq!(
            negotiate(Some(
                "application/graphql-response+json;q=0.5, application/json"
            )),
            Some(Json)
        );
        assert_eq!(negotiate(Some("*/*")), Some(Json));
        assert_eq!(negotiate(Some("text/html, */*;q=0.8")), Some(Json));
        assert_eq!(
            negotiate(Some("*/*, application/graphql-response+json")),
            Some(GraphqlResponseJson)
        );
    }

    #[test]
    fn refuses_what_it_cannot_produce() {
        assert_eq!(negotiate(Some("text/html")), None);
        assert_eq!(negotiate(Some("application/xml")), None);
        assert_eq!(negotiate(Some("application/json;q=0")), None);
    }

    proptest::proptest! {
        #[test]
        fn any_accept_header_is_handled(accept in "[ -~]{0,200}") {
            let _ = negotiate(Some(&accept));
            let _ = wants_html(Some(&accept));
        }
    }

    #[test]
    fn detects_browsers() {
        assert!(wants_html(Some("text/html,application/xhtml+xml")));
        assert!(!wants_html(Some("application/json")));
        assert!(!wants_html(None));
    }
}
