//! The mail settings (API.md v2): where mail goes (`SMTP_URL`), from whom
//! (`MAIL_FROM`), the links it carries (`PASSWORD_RESET_URL`,
//! `EMAIL_VERIFY_URL`) and the templates it is written from.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use super::{ConfigError, invalid};

/// How mail leaves the server.
#[derive(Clone, PartialEq, Eq)]
pub enum MailTransport {
    /// `SMTP_URL=log`: each email, links included, is written to the log and
    /// not sent. For development only (refused in production).
    Log,
    /// An SMTP server.
    Smtp(SmtpServer),
}

impl fmt::Debug for MailTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Log => f.write_str("log"),
            Self::Smtp(server) => write!(f, "{}", server.describe()),
        }
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// `smtps://`: TLS from the first byte (port 465).
    Implicit,
    /// `smtp://`: plain, then `STARTTLS`, which the server must offer.
    StartTls,
    /// `smtp://...?tls=none`: no TLS at all (a relay on this machine).
    None,
}

/// An SMTP server from `SMTP_URL`. `Debug` never prints the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpServer {
    /// Host name or address.
    pub host: String,
    /// Port (465 for `smtps`, 587 for `smtp` unless given).
    pub port: u16,
    /// How the connection is secured.
    pub tls: SmtpTls,
    /// User name and password, percent-decoded, when the URL has them.
    pub credentials: Option<(String, String)>,
}

impl SmtpServer {
    /// A description safe to log (no credentials).
    pub fn describe(&self) -> String {
        let scheme = match self.tls {
            SmtpTls::Implicit => "smtps",
            SmtpTls::StartTls | SmtpTls::None => "smtp",
        };
        let query = if self.tls == SmtpTls::None {
            "?tls=none"
        } else {
            ""
        };
        format!("{scheme}://{}:{}{query}", self.host, self.port)
    }

    fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .trim_matches(['[', ']'])
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// `EMAIL_VERIFICATION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailVerification {
    /// No verification email at registration.
    Off,
    /// `register` queues a verification email; nothing is refused.
    Optional,
    /// As `Optional`, and an unverified account cannot start a session.
    Required,
}

/// Mail delivery, when it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailConfig {
    /// `SMTP_URL`.
    pub transport: MailTransport,
    /// `MAIL_FROM`, as given (`Name <address>` or an address).
    pub from: String,
    /// `PASSWORD_RESET_URL`, with `{token}` in it.
    pub reset_url: String,
    /// `EMAIL_VERIFY_URL`, with `{token}` in it.
    pub verify_url: String,
    /// `MAIL_TEMPLATES_DIR`.
    pub templates_dir: Option<PathBuf>,
}

/// The placeholder a link's URL must hold.
pub const TOKEN_PLACEHOLDER: &str = "{token}";

/// Reads the mail settings: `None` when no mail is set up (production
/// without `SMTP_URL`).
pub(super) fn mail(
    get: &dyn Fn(&str) -> Option<String>,
    production: bool,
) -> Result<Option<MailConfig>, ConfigError> {
    let transport = match get("SMTP_URL") {
        None if production => return Ok(None),
        None => MailTransport::Log,
        Some(raw) => smtp_url(&raw, production)?,
    };
    let smtp = matches!(transport, MailTransport::Smtp(_));
    let from = match get("MAIL_FROM") {
        Some(from) => from,
        None if production && smtp => {
            return Err(invalid(
                "MAIL_FROM",
                "must be set with an smtp:// or smtps:// SMTP_URL in production, \
                 like `Acme <no-reply@acme.example>`",
            ));
        }
        None => "authql <no-reply@localhost>".to_owned(),
    };
    if !looks_like_mailbox(&from) {
        return Err(invalid(
            "MAIL_FROM",
            "expected an address like `no-reply@acme.example` or `Acme <no-reply@acme.example>`",
        ));
    }
    Ok(Some(MailConfig {
        transport,
        from,
        reset_url: link_url(
            get("PASSWORD_RESET_URL"),
            "PASSWORD_RESET_URL",
            "http://localhost:5173/reset-password#token={token}",
            production,
        )?,
        verify_url: link_url(
            get("EMAIL_VERIFY_URL"),
            "EMAIL_VERIFY_URL",
            "http://localhost:5173/verify-email#token={token}",
            production,
        )?,
        templates_dir: get("MAIL_TEMPLATES_DIR").map(PathBuf::from),
    }))
}

/// `EMAIL_VERIFICATION`: `optional` when mail is on, else `off`.
pub(super) fn verification(
    value: Option<String>,
    mail_on: bool,
) -> Result<EmailVerification, ConfigError> {
    let mode = match value.as_deref() {
        None if mail_on => EmailVerification::Optional,
        None => EmailVerification::Off,
        Some("off") => EmailVerification::Off,
        Some("optional") => EmailVerification::Optional,
        Some("required") => EmailVerification::Required,
        Some(other) => {
            return Err(invalid(
                "EMAIL_VERIFICATION",
                format!("expected `off`, `optional` or `required`, got `{other}`"),
            ));
        }
    };
    if mode == EmailVerification::Required && !mail_on {
        return Err(invalid(
            "EMAIL_VERIFICATION",
            "`required` needs mail delivery: set SMTP_URL",
        ));
    }
    Ok(mode)
}

fn link_url(
    value: Option<String>,
    variable: &'static str,
    default: &str,
    production: bool,
) -> Result<String, ConfigError> {
    let url = match value {
        Some(url) => url,
        None if production => {
            return Err(invalid(
                variable,
                format!(
                    "must be set in production when mail is on: the page of your app that \
                     reads the token, like `https://app.example/page#token={TOKEN_PLACEHOLDER}`"
                ),
            ));
        }
        None => default.to_owned(),
    };
    if !url.contains(TOKEN_PLACEHOLDER)
        || !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(invalid(
            variable,
            format!("expected an http(s) URL holding `{TOKEN_PLACEHOLDER}`, got `{url}`"),
        ));
    }
    Ok(url)
}

/// `smtps://user:pass@host:465`, `smtp://user:pass@host:587`,
/// `smtp://host:port?tls=none` or `log`. Messages never repeat the value:
/// it may hold a password.
fn smtp_url(raw: &str, production: bool) -> Result<MailTransport, ConfigError> {
    const FORMS: &str = "expected smtps://user:pass@host:465, smtp://user:pass@host:587 \
                         (STARTTLS), smtp://host:port?tls=none, or log";
    if raw == "log" {
        if production {
            return Err(invalid(
                "SMTP_URL",
                "`log` writes emails, links included, to the log: not in production",
            ));
        }
        return Ok(MailTransport::Log);
    }
    let bad = || invalid("SMTP_URL", FORMS);
    let (implicit, rest) = if let Some(rest) = raw.strip_prefix("smtps://") {
        (true, rest)
    } else if let Some(rest) = raw.strip_prefix("smtp://") {
        (false, rest)
    } else {
        return Err(bad());
    };
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let rest = rest.trim_end_matches('/');
    let (credentials, authority) = match rest.rsplit_once('@') {
        Some((userinfo, authority)) => {
            let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let user = percent_decode(user).ok_or_else(bad)?;
            let pass = percent_decode(pass).ok_or_else(bad)?;
            (Some((user, pass)), authority)
        }
        None => (None, rest),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            (host, Some(port.parse::<u16>().map_err(|_| bad())?))
        }
        _ => (authority, None),
    };
    if host.is_empty() || host.contains(['/', '@', ' ']) {
        return Err(bad());
    }
    let tls = match (implicit, query) {
        (true, None) => SmtpTls::Implicit,
        (false, None) => SmtpTls::StartTls,
        (false, Some("tls=none")) => SmtpTls::None,
        _ => return Err(bad()),
    };
    let server = SmtpServer {
        host: host.trim_matches(['[', ']']).to_owned(),
        port: port.unwrap_or(if implicit { 465 } else { 587 }),
        tls,
        credentials,
    };
    if production && tls == SmtpTls::None && !server.is_loopback() {
        return Err(invalid(
            "SMTP_URL",
            "`tls=none` sends passwords and links in the clear: in production only to a \
             loopback address (a relay on this machine)",
        ));
    }
    Ok(MailTransport::Smtp(server))
}

/// `%XX` escapes of a URL's user or password.
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `address` or `Name <address>`, with a plausible address. The transport
/// parses it again strictly when it starts.
fn looks_like_mailbox(from: &str) -> bool {
    let address = match (from.rfind('<'), from.strip_suffix('>')) {
        (Some(open), Some(inner)) => &inner[open + 1..],
        (None, None) => from,
        _ => return false,
    };
    matches!(address.split_once('@'), Some((local, domain))
        if !local.is_empty() && !domain.is_empty() && !address.contains(char::is_whitespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(raw: &str) -> SmtpServer {
        match smtp_url(raw, false).unwrap() {
            MailTransport::Smtp(server) => server,
            MailTransport::Log => panic!("log"),
        }
    }

    #[test]
    fn smtp_urls_of_every_form() {
        let s = server("smtps://me%40acme:p%3Ass@mail.acme.example");
        assert_eq!(
            (s.host.as_str(), s.port, s.tls),
            ("mail.acme.example", 465, SmtpTls::Implicit)
        );
        assert_eq!(
            s.credentials,
            Some(("me@acme".to_owned(), "p:ss".to_owned()))
        );
        assert_eq!(format!("{s:?}"), "smtps://mail.acme.example:465");
        let s = server("smtp://user:pw@mail.acme.example:2525");
        assert_eq!((s.port, s.tls), (2525, SmtpTls::StartTls));
        let s = server("smtp://127.0.0.1:1025?tls=none");
        assert_eq!((s.port, s.tls, s.credentials), (1025, SmtpTls::None, None));
        let s = server("smtp://[::1]:25?tls=none");
        assert_eq!(s.host, "::1");
        assert!(s.is_loopback());
        assert_eq!(smtp_url("log", false).unwrap(), MailTransport::Log);
    }

    #[test]
    fn bad_smtp_urls_are_refused_without_echoing_them() {
        for raw in [
            "mail.acme.example",
            "http://mail.acme.example",
            "smtp://",
            "smtp://host:notaport",
            "smtps://host?tls=none",
            "smtp://host?tls=maybe",
            "smtp://us%zzer:secret@host",
        ] {
            let error = smtp_url(raw, false).unwrap_err();
            assert_eq!(error.variable, "SMTP_URL");
            assert!(!error.message.contains("secret"), "{raw}");
        }
    }

    #[test]
    fn production_refuses_log_and_cleartext_to_another_host() {
        assert!(smtp_url("log", true).is_err());
        assert!(smtp_url("smtp://mail.acme.example:25?tls=none", true).is_err());
        assert!(smtp_url("smtp://localhost:25?tls=none", true).is_ok());
        assert!(smtp_url("smtp://127.0.0.1:25?tls=none", true).is_ok());
    }

    #[test]
    fn mailboxes() {
        for ok in ["a@b.co", "Acme <no-reply@acme.example>", "<a@b>"] {
            assert!(looks_like_mailbox(ok), "{ok}");
        }
        for bad in [
            "acme",
            "Acme <no-reply>",
            "a b@c.d",
            "Acme no-reply@acme.example>",
        ] {
            assert!(!looks_like_mailbox(bad), "{bad}");
        }
    }
}
