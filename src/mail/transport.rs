//! Handing one email to the mail server (lettre over SMTP, with rustls), or
//! to the log (`SMTP_URL=log`, development).

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{MailConfig, MailTransport, SmtpServer, SmtpTls};
use crate::db::QueuedEmail;

/// How long one SMTP exchange may take. Longer than a slow server's 30 s
/// answer; the worker sends several emails at once, so one slow server
/// holds up only its own email.
const SMTP_TIMEOUT: Duration = Duration::from_secs(60);

/// Why an email was not handed over. The text is safe to log: it names the
/// kind of failure, never the message, the recipient or a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError(pub String);

/// Where emails go.
pub enum Sender {
    /// Written to the log, links included, and not sent.
    Log,
    /// An SMTP server.
    Smtp {
        /// The transport (one connection per email: a pool would keep
        /// sockets to a server that may be far away and rarely used).
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        /// `MAIL_FROM`.
        from: Mailbox,
    },
}

impl Sender {
    /// Builds the sender for the configured transport.
    pub fn new(config: &MailConfig) -> Result<Self, String> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|_| "MAIL_FROM is not a valid mailbox".to_owned())?;
        match &config.transport {
            MailTransport::Log => Ok(Sender::Log),
            MailTransport::Smtp(server) => Ok(Sender::Smtp {
                transport: Box::new(smtp(server)?),
                from,
            }),
        }
    }

    /// Hands one email over.
    pub async fn send(&self, email: &QueuedEmail) -> Result<(), SendError> {
        match self {
            Sender::Log => {
                tracing::info!(target: "authql::mail", to = %email.recipient,
                    subject = %email.subject,
                    "email not sent (SMTP_URL=log):\n{}", email.text);
                Ok(())
            }
            Sender::Smtp { transport, from } => {
                let to: Mailbox = email
                    .recipient
                    .parse()
                    .map_err(|_| SendError("the recipient is not a valid address".into()))?;
                // A Message-ID in the sender's domain: mail without one, or
                // with one of `localhost`, scores as spam at many receivers.
                let message_id = format!("<{}@{}>", uuid::Uuid::new_v4(), from.email.domain());
                let message = Message::builder()
                    .message_id(Some(message_id))
                    .from(from.clone())
                    .to(to)
                    .subject(email.subject.clone())
                    .multipart(MultiPart::alternative_plain_html(
                        email.text.clone(),
                        email.html.clone(),
                    ))
                    .map_err(|_| SendError("the message could not be built".into()))?;
                transport
                    .send(message)
                    .await
                    .map(drop)
                    .map_err(|e| SendError(describe(&e)))
            }
        }
    }
}

fn smtp(server: &SmtpServer) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let tls = || {
        TlsParameters::new(server.host.clone())
            .map_err(|_| format!("TLS for {} could not be set up", server.describe()))
    };
    let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.as_str())
        .port(server.port)
        .timeout(Some(SMTP_TIMEOUT))
        .tls(match server.tls {
            SmtpTls::Implicit => Tls::Wrapper(tls()?),
            SmtpTls::StartTls => Tls::Required(tls()?),
            SmtpTls::None => Tls::None,
        });
    let builder = match &server.credentials {
        Some((user, pass)) => builder.credentials(Credentials::new(user.clone(), pass.clone())),
        None => builder,
    };
    Ok(builder.build())
}

/// A failure in words that name no message, address or credential.
fn describe(error: &lettre::transport::smtp::Error) -> String {
    let kind = if error.is_permanent() {
        "refused by the mail server (5xx)"
    } else if error.is_transient() {
        "deferred by the mail server (4xx)"
    } else if error.is_timeout() {
        "timed out"
    } else if error.is_tls() {
        "TLS failed"
    } else if error.is_response() {
        "unexpected answer from the mail server"
    } else if error.is_client() {
        "refused by the client"
    } else {
        "connection failed"
    };
    kind.to_owned()
}
