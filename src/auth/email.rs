//! The email rule of the contract: trimmed and lowercased before use, at most
//! 254 characters, shaped like `local@domain.tld`.

/// Longest email accepted, in characters after trimming (RFC 5321's path
/// limit, less the angle brackets).
pub const MAX_EMAIL_CHARS: usize = 254;

/// Why an email was refused (the message the client sees).
pub type EmailError = &'static str;

/// Trims and lowercases `raw`, then checks its shape.
///
/// The check is deliberately simple (one `@`, a non-empty local part without
/// spaces, a dotted domain whose last label has two or more characters and a
/// letter, so `xn--` IDN top-level domains pass): full RFC 5322 parsing
/// accepts addresses no mail system delivers to, and the only real proof of
/// an address is a message that arrives. The contract's only length rule is
/// the 254-character total, so the RFC 5321 part limits are not enforced.
pub fn normalize(raw: &str) -> Result<String, EmailError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("email must not be empty");
    }
    // Counted before lowercasing (which can only lengthen a string) to bound
    // the work, and after, because the lowercased form is what is stored.
    if trimmed.chars().count() > MAX_EMAIL_CHARS {
        return Err("email must be at most 254 characters");
    }
    let email = trimmed.to_lowercase();
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err("email must be at most 254 characters");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err("email must look like name@example.com");
    };
    let local_ok = !local.is_empty()
        && !local.contains(|c: char| c.is_whitespace() || c.is_control() || c == '@');
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().count() >= 2 && tld.chars().any(char::is_alphabetic));
    if local_ok && domain_ok {
        Ok(email)
    } else {
        Err("email must look like name@example.com")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_lowercases() {
        assert_eq!(
            normalize("  Alice@Example.COM \n").unwrap(),
            "alice@example.com"
        );
        assert_eq!(normalize("ÉLOÏSE@exemple.fr").unwrap(), "éloïse@exemple.fr");
    }

    #[test]
    fn accepts_common_shapes() {
        for ok in [
            "a@b.co",
            "first.last+tag@sub.example.org",
            "o'brien@example.ie",
            "x_y-z@my-host.example",
        ] {
            assert!(normalize(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            "   ",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@b.",
            "a@.com",
            "a@b..com",
            "a b@example.com",
            "a@b@example.com",
            "a@-b.com",
            "a@b.c",
            "a@b.12",
            "a@exa mple.com",
            "a\u{0}@example.com",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn length_limit_counts_characters_after_trimming() {
        let domain = "@example.com";
        let local = "a".repeat(64);
        let labels = "b".repeat(60);
        // Build exactly 254 characters: local@ + labels joined to fit.
        let mut email = format!("{local}@{labels}.{labels}.{labels}.");
        while email.chars().count() < MAX_EMAIL_CHARS - 3 {
            email.push('c');
        }
        email.push_str(".io");
        assert_eq!(email.chars().count(), 254);
        assert!(normalize(&format!("  {email}  ")).is_ok());
        let too_long = format!("{email}x");
        assert!(normalize(&too_long).is_err());
        // No per-part limits beyond the total: a 242-character local part fits.
        assert!(normalize(&format!("{}{domain}", "a".repeat(242))).is_ok());
        assert!(normalize(&format!("{}{domain}", "a".repeat(243))).is_err());
    }

    #[test]
    fn idn_top_level_domains_pass() {
        assert!(normalize("user@example.xn--p1ai").is_ok());
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_normalized_or_refused_without_panicking(raw in "\\PC{0,300}") {
            if let Ok(email) = normalize(&raw) {
                proptest::prop_assert!(email.chars().count() <= MAX_EMAIL_CHARS);
                proptest::prop_assert_eq!(email.trim(), email.as_str());
                proptest::prop_assert_eq!(email.to_lowercase(), email.clone());
                proptest::prop_assert_eq!(email.matches('@').count(), 1);
                // Normalizing is idempotent.
                proptest::prop_assert_eq!(normalize(&email), Ok(email.clone()));
            }
        }
    }
}
