//! The emails authql writes: one plain-text and one HTML template per kind,
//! built in (the files beside this one) or replaced from
//! `MAIL_TEMPLATES_DIR`.
//!
//! A kind's text template is `<kind>.txt`, whose first line is
//! `Subject: ...` and whose body follows a blank line; its HTML template is
//! `<kind>.html`. Placeholders are `{{app_name}}`, `{{email}}` (the
//! account's address), `{{new_email}}` (an email change's new address),
//! `{{link}}` and `{{expires_in}}` (how long the link works, in words).
//! Values are HTML-escaped in the HTML part. A template may leave out any
//! placeholder; an unknown one is refused at start-up, so a typo cannot
//! send `{{lnik}}` to every user.

use std::path::Path;

/// The kinds of email, each with its own template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A password-reset link.
    PasswordReset,
    /// Notice: the password was reset.
    PasswordResetDone,
    /// Notice: the password was changed.
    PasswordChanged,
    /// An address-verification link.
    VerifyEmail,
    /// An email-change confirmation link, to the new address.
    EmailChange,
    /// Notice to the old address of an email change.
    EmailChangeNotice,
}

impl Kind {
    /// Every kind, in a fixed order.
    pub const ALL: [Kind; 6] = [
        Kind::PasswordReset,
        Kind::PasswordResetDone,
        Kind::PasswordChanged,
        Kind::VerifyEmail,
        Kind::EmailChange,
        Kind::EmailChangeNotice,
    ];

    /// The file name stem (and the outbox's `kind` column).
    pub fn name(self) -> &'static str {
        match self {
            Kind::PasswordReset => "password_reset",
            Kind::PasswordResetDone => "password_reset_done",
            Kind::PasswordChanged => "password_changed",
            Kind::VerifyEmail => "verify_email",
            Kind::EmailChange => "email_change",
            Kind::EmailChangeNotice => "email_change_notice",
        }
    }

    fn built_in(self) -> (&'static str, &'static str) {
        match self {
            Kind::PasswordReset => (
                include_str!("templates/password_reset.txt"),
                include_str!("templates/password_reset.html"),
            ),
            Kind::PasswordResetDone => (
                include_str!("templates/password_reset_done.txt"),
                include_str!("templates/password_reset_done.html"),
            ),
            Kind::PasswordChanged => (
                include_str!("templates/password_changed.txt"),
                include_str!("templates/password_changed.html"),
            ),
            Kind::VerifyEmail => (
                include_str!("templates/verify_email.txt"),
                include_str!("templates/verify_email.html"),
            ),
            Kind::EmailChange => (
                include_str!("templates/email_change.txt"),
                include_str!("templates/email_change.html"),
            ),
            Kind::EmailChangeNotice => (
                include_str!("templates/email_change_notice.txt"),
                include_str!("templates/email_change_notice.html"),
            ),
        }
    }
}

const PLACEHOLDERS: [&str; 5] = ["app_name", "email", "new_email", "link", "expires_in"];

/// What fills the placeholders of one email.
#[derive(Debug, Default)]
pub struct Values<'a> {
    /// `{{app_name}}`.
    pub app_name: &'a str,
    /// `{{email}}`.
    pub email: &'a str,
    /// `{{new_email}}`.
    pub new_email: &'a str,
    /// `{{link}}`.
    pub link: &'a str,
    /// `{{expires_in}}`.
    pub expires_in: &'a str,
}

impl Values<'_> {
    fn get(&self, name: &str) -> &str {
        match name {
            "app_name" => self.app_name,
            "email" => self.email,
            "new_email" => self.new_email,
            "link" => self.link,
            "expires_in" => self.expires_in,
            _ => "",
        }
    }
}

/// An email ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// One line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

struct Template {
    subject: String,
    text: String,
    html: String,
}

/// Every kind's template, loaded once at start-up.
pub struct Templates {
    templates: Vec<(Kind, Template)>,
}

impl Templates {
    /// The built-in templates, each replaced by the files of `dir` that
    /// exist (`<kind>.txt`, `<kind>.html`). Errors name the file.
    pub fn load(dir: Option<&Path>) -> Result<Self, String> {
        if let Some(dir) = dir {
            if !dir.is_dir() {
                return Err(format!("{} is not a directory", dir.display()));
            }
        }
        let mut templates = Vec::with_capacity(Kind::ALL.len());
        for kind in Kind::ALL {
            let (text, html) = kind.built_in();
            let text = read_or(dir, &format!("{}.txt", kind.name()), text)?;
            let html = read_or(dir, &format!("{}.html", kind.name()), html)?;
            let file = format!("{}.txt", kind.name());
            let (subject, body) = split_subject(&text).ok_or_else(|| {
                format!("{file}: the first line must be `Subject: ...`, then a blank line")
            })?;
            for (name, part) in [(file.clone(), subject), (file, body)]
                .into_iter()
                .chain([(format!("{}.html", kind.name()), html.as_str())])
            {
                check_placeholders(part).map_err(|bad| format!("{name}: unknown {bad}"))?;
            }
            templates.push((
                kind,
                Template {
                    subject: subject.to_owned(),
                    text: body.to_owned(),
                    html,
                },
            ));
        }
        Ok(Self { templates })
    }

    /// Writes an email of `kind` with `values`.
    pub fn render(&self, kind: Kind, values: &Values<'_>) -> Rendered {
        let template = self
            .templates
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, t)| t);
        let Some(template) = template else {
            // Every kind is loaded; an empty email is the safe fallback.
            return Rendered {
                subject: String::new(),
                text: String::new(),
                html: String::new(),
            };
        };
        // A subject is one header line: no value may break it.
        let one_line = |v: &str| v.replace(['\r', '\n'], " ");
        Rendered {
            subject: fill(&template.subject, values, &one_line),
            text: fill(&template.text, values, &|v: &str| v.to_owned()),
            html: fill(&template.html, values, &escape_html),
        }
    }
}

fn read_or(dir: Option<&Path>, file: &str, built_in: &str) -> Result<String, String> {
    let Some(path) = dir.map(|d| d.join(file)).filter(|p| p.exists()) else {
        return Ok(built_in.to_owned());
    };
    std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
}

fn split_subject(text: &str) -> Option<(&str, &str)> {
    let (first, rest) = text.split_once('\n')?;
    let subject = first.strip_prefix("Subject:")?.trim();
    let body = rest
        .strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))?;
    (!subject.is_empty()).then_some((subject, body))
}

/// Every `{{name}}` in `template` must be a known placeholder.
fn check_placeholders(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| "`{{` without `}}`".to_owned())?;
        let name = after[..end].trim();
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!("placeholder `{{{{{name}}}}}`"));
        }
        rest = &after[end + 2..];
    }
    Ok(())
}

fn fill(template: &str, values: &Values<'_>, encode: &dyn Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len() + 128);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break;
        };
        out.push_str(&encode(values.get(after[..end].trim())));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values<'static> {
        Values {
            app_name: "Acme",
            email: "ada@example.com",
            new_email: "ada@new.example",
            link: "https://app.example/reset#token=aq_x&y=\"1\"",
            expires_in: "1 hour",
        }
    }

    #[test]
    fn every_built_in_template_renders_its_values() {
        let templates = Templates::load(None).unwrap();
        for kind in Kind::ALL {
            let email = templates.render(kind, &values());
            assert!(email.subject.contains("Acme"), "{kind:?}");
            assert!(!email.subject.contains('\n'));
            assert!(email.text.contains("Acme") && email.html.contains("Acme"));
            assert!(!email.text.contains("{{") && !email.html.contains("{{"));
        }
        let reset = templates.render(Kind::PasswordReset, &values());
        assert_eq!(reset.subject, "Reset your Acme password");
        assert!(
            reset
                .text
                .contains("https://app.example/reset#token=aq_x&y=\"1\"")
        );
        assert!(
            reset
                .html
                .contains("href=\"https://app.example/reset#token=aq_x&amp;y=&quot;1&quot;\"")
        );
    }

    #[test]
    fn a_directory_replaces_the_files_it_has() {
        let dir = std::env::temp_dir().join(format!("authql-tpl-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("password_reset.txt"),
            "Subject: {{app_name}}: new password\n\nGo to {{link}}\n",
        )
        .unwrap();
        let templates = Templates::load(Some(&dir)).unwrap();
        let reset = templates.render(Kind::PasswordReset, &values());
        assert_eq!(reset.subject, "Acme: new password");
        assert_eq!(
            reset.text,
            "Go to https://app.example/reset#token=aq_x&y=\"1\"\n"
        );
        // The HTML part was not replaced.
        assert!(reset.html.contains("Reset your password"));

        std::fs::write(dir.join("verify_email.html"), "<a href=\"{{lnik}}\">x</a>").unwrap();
        let error = Templates::load(Some(&dir)).err().unwrap();
        assert!(
            error.contains("verify_email.html") && error.contains("lnik"),
            "{error}"
        );
        std::fs::write(dir.join("verify_email.html"), "ok").unwrap();
        std::fs::write(dir.join("email_change.txt"), "no subject line").unwrap();
        let error = Templates::load(Some(&dir)).err().unwrap();
        assert!(error.contains("email_change.txt"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(Templates::load(Some(&dir)).is_err());
    }
}
