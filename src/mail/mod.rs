//! Email: what authql writes ([`templates`]), how it leaves the server
//! ([`transport`]) and the outbox worker that sends it ([`worker`]).
//!
//! The flows never talk to a mail server. They ask [`Mail`] to write an
//! email ([`Mail::compose`]), hand it to the store in the same call that
//! makes the change it reports (so the two commit together), then
//! [`Mail::wake`] the worker.

pub mod templates;
pub mod transport;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use uuid::Uuid;

use crate::config::{Config, ConfigError, MailConfig, TOKEN_PLACEHOLDER};
use crate::db::{NewEmail, Store};
pub use templates::Kind;
use templates::{Templates, Values};
use transport::Sender;

/// Mail delivery as the flows see it.
pub struct Mail {
    config: MailConfig,
    app_name: String,
    templates: Templates,
    sender: Arc<Sender>,
    wake: Arc<Notify>,
}

impl Mail {
    /// Loads the templates and builds the transport, or `None` when no mail
    /// is set up. Errors name the variable at fault.
    pub fn new(config: &Config) -> Result<Option<Self>, ConfigError> {
        let Some(mail) = &config.mail else {
            return Ok(None);
        };
        let templates =
            Templates::load(mail.templates_dir.as_deref()).map_err(|message| ConfigError {
                variable: "MAIL_TEMPLATES_DIR",
                message,
            })?;
        let sender = Sender::new(mail).map_err(|message| ConfigError {
            variable: "SMTP_URL",
            message,
        })?;
        Ok(Some(Self {
            config: mail.clone(),
            app_name: config.app_name.clone(),
            templates,
            sender: Arc::new(sender),
            wake: Arc::new(Notify::new()),
        }))
    }

    /// Writes an email of `kind` to `recipient`. `email` fills
    /// `{{email}}`; `new_email` an email change's new address; `link` and
    /// `expires_in` the link and its lifetime, for kinds that carry one.
    pub fn compose(
        &self,
        kind: Kind,
        recipient: &str,
        email: &str,
        new_email: &str,
        link: Option<(&str, Duration)>,
    ) -> NewEmail {
        let (link, expires_in) = match link {
            Some((link, ttl)) => (link.to_owned(), in_words(ttl)),
            None => (String::new(), String::new()),
        };
        let rendered = self.templates.render(
            kind,
            &Values {
                app_name: &self.app_name,
                email,
                new_email,
                link: &link,
                expires_in: &expires_in,
            },
        );
        NewEmail {
            id: Uuid::new_v4(),
            kind: kind.name(),
            recipient: recipient.to_owned(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
        }
    }

    /// The password-reset link for `token`.
    pub fn reset_link(&self, token: &str) -> String {
        self.config.reset_url.replace(TOKEN_PLACEHOLDER, token)
    }

    /// The verification (and email-change) link for `token`.
    pub fn verify_link(&self, token: &str) -> String {
        self.config.verify_url.replace(TOKEN_PLACEHOLDER, token)
    }

    /// Tells the worker an email was queued, so it need not wait for its
    /// next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Starts the outbox worker; it runs until `stop` is notified.
    pub fn start_worker(&self, store: Arc<dyn Store>, stop: Arc<Notify>) {
        tokio::spawn(worker::run(
            store,
            Arc::clone(&self.sender),
            Arc::clone(&self.wake),
            stop,
        ));
    }
}

/// `1 hour`, `24 hours`, `30 minutes`: a lifetime as a person reads it.
fn in_words(ttl: Duration) -> String {
    let seconds = ttl.as_secs();
    let (n, unit) = if seconds % 86_400 == 0 && seconds >= 86_400 * 2 {
        (seconds / 86_400, "day")
    } else if seconds % 3_600 == 0 && seconds > 0 {
        (seconds / 3_600, "hour")
    } else if seconds % 60 == 0 && seconds > 0 {
        (seconds / 60, "minute")
    } else {
        (seconds, "second")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_in_words() {
        assert_eq!(in_words(Duration::from_secs(3_600)), "1 hour");
        assert_eq!(in_words(Duration::from_secs(86_400)), "24 hours");
        assert_eq!(in_words(Duration::from_secs(7 * 86_400)), "7 days");
        assert_eq!(in_words(Duration::from_secs(1_800)), "30 minutes");
        assert_eq!(in_words(Duration::from_secs(90)), "90 seconds");
    }
}
