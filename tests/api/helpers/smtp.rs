//! A small SMTP server for the tests: it speaks enough of RFC 5321 for a
//! real client (lettre) to deliver to it over a socket, keeps what it
//! receives, and can misbehave on demand (refuse a recipient, answer slowly,
//! drop the connection mid-message, not listen at all).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent after `DATA` (headers and body), dot-unstuffed.
    pub data: String,
}

/// How the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Accepts everything.
    Accept,
    /// Answers `550` to every `RCPT TO`.
    RefuseRecipients,
    /// Waits this long before accepting a message's data.
    Slow(Duration),
    /// Closes the connection in the middle of a message's data.
    DropMidMessage,
}

struct Shared {
    received: Mutex<Vec<Received>>,
    behaviour: Mutex<Behaviour>,
    arrived: Notify,
}

/// The server; it stops when dropped.
pub struct SmtpServer {
    pub port: u16,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpServer {
    /// Listens on a free loopback port.
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// Listens on `port` (0: a free one), for a server that comes back on
    /// the port a client was configured with.
    pub async fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            received: Mutex::new(Vec::new()),
            behaviour: Mutex::new(Behaviour::Accept),
            arrived: Notify::new(),
        });
        let task = tokio::spawn({
            let shared = Arc::clone(&shared);
            async move {
                while let Ok((socket, _)) = listener.accept().await {
                    tokio::spawn(serve(socket, Arc::clone(&shared)));
                }
            }
        });
        Self { port, shared, task }
    }

    /// A free loopback port nothing listens on (a mail server that is down).
    pub async fn unused_port() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    }

    /// `SMTP_URL` for a server on `port`.
    pub fn url_for(port: u16) -> String {
        format!("smtp://127.0.0.1:{port}?tls=none")
    }

    /// This server's `SMTP_URL`.
    pub fn url(&self) -> String {
        Self::url_for(self.port)
    }

    pub fn behave(&self, behaviour: Behaviour) {
        *self.shared.behaviour.lock().unwrap() = behaviour;
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` messages have arrived (panics after 20 s).
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let arrived = self.shared.arrived.notified();
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!(
                    "expected {n} messages, got {}: {received:?}",
                    received.len()
                );
            }
        }
    }
}

async fn serve(socket: TcpStream, shared: Arc<Shared>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    let _ = write.write_all(b"220 authql-test ESMTP\r\n").await;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let behaviour = *shared.behaviour.lock().unwrap();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-authql-test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("HELO") {
            b"250 authql-test\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&command);
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            if behaviour == Behaviour::RefuseRecipients {
                b"550 5.1.1 no such mailbox\r\n"
            } else {
                to.push(address(&command));
                b"250 OK\r\n"
            }
        } else if upper == "DATA" {
            let _ = write.write_all(b"354 go ahead\r\n").await;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                if line == ".\r\n" {
                    break;
                }
                if behaviour == Behaviour::DropMidMessage && data.len() > 64 {
                    // Hang up halfway: the client never hears an answer.
                    return;
                }
                let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                data.push_str(unstuffed);
            }
            if let Behaviour::Slow(delay) = behaviour {
                tokio::time::sleep(delay).await;
            }
            shared.received.lock().unwrap().push(Received {
                from: from.clone(),
                to: std::mem::take(&mut to),
                data,
            });
            shared.arrived.notify_waiters();
            b"250 OK queued\r\n"
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else if upper == "RSET" || upper == "NOOP" {
            b"250 OK\r\n"
        } else {
            b"502 not implemented\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// The address inside `MAIL FROM:<...>` / `RCPT TO:<...>`.
fn address(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let end = command[start..]
        .find('>')
        .map_or(command.len(), |i| start + i);
    command[start..end].to_owned()
}
