//! The accept loop: HTTP/1.1 connections with deadlines, a cap on how many
//! are open at once, and a graceful stop.
//!
//! axum's `serve` gives hyper no timer and accepts without bound, so a
//! client that opens connections and sends half a header (or nothing) keeps
//! each one forever, until the process runs out of file descriptors and
//! stops answering anyone. Here:
//!
//! - every connection runs on a clock (see `connection.rs`): the
//!   head within `HTTP_HEADER_TIMEOUT`, the body within
//!   `HTTP_REQUEST_TIMEOUT` (else `408`), an idle kept-alive connection
//!   closed after `HTTP_IDLE_TIMEOUT`;
//! - at most `HTTP_MAX_CONNECTIONS` are open: past that, a new connection
//!   takes the place of one that has sent no request for a second (see
//!   `Slots`), or waits, in the kernel's backlog, for one to end;
//! - the soft open-files limit is raised to the hard one at start, and the
//!   cap lowered below it if need be, so `accept` never fails for want of a
//!   descriptor;
//! - on shutdown the loop stops accepting, idle connections close, and
//!   requests in flight get up to [`SHUTDOWN_GRACE`] to finish.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::Poll;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::Service;

use super::connection::{Clock, ClockedBody, ClockedStream, TimedBody};
use crate::config::HttpLimits;

/// How long requests in flight may take to finish once shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// File descriptors kept out of the connection cap: the listener, database
/// connections, the SQLite file and its journal, log files, and room to spare.
const RESERVED_DESCRIPTORS: u64 = 128;

/// Largest request head (request line and headers) accepted; past it the
/// answer is `431` (hyper's default is bounded only by its ~400 KiB read
/// buffer). A real client's head is well under 8 KiB.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Serves `app` on `listener` until `shutdown` completes, then stops as the
/// module docs say.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let cap = effective_cap(limits.max_connections);
    tracing::info!(
        connections = cap,
        header_timeout = ?limits.header_timeout,
        request_timeout = ?limits.request_timeout,
        idle_timeout = ?limits.idle_timeout,
        "accepting at most {cap} connections at once"
    );
    let slots = Slots::new(cap);
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
        };
        // Accepted before a slot is free: this one connection waits here,
        // the others in the kernel's backlog.
        let slot = tokio::select! {
            biased;
            () = &mut shutdown => break,
            slot = slots.take() => slot,
        };
        let Some(slot) = slot else { break };
        let clock = Clock::new(limits);
        slots.opened(&clock);
        let app = app.clone();
        let stopping = stopping.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, app, clock, stopping).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    if tokio::time::timeout(SHUTDOWN_GRACE, slots.all_free())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {SHUTDOWN_GRACE:?}: stopping anyway");
    }
    Ok(())
}

/// How long a connection may hold a slot without a request before a new
/// connection, arriving at the cap, may take its place. A real client sends
/// its request right after connecting (its first bytes arrive with, or just
/// after, the end of the TCP handshake). This also bounds how fast a full
/// server turns over: `HTTP_MAX_CONNECTIONS` slots per this time.
const SHED_AFTER: Duration = Duration::from_millis(250);

/// What [`Slots::shed_one`] did.
enum Shed {
    /// A connection was told to give up its slot.
    Done,
    /// The oldest silent connection may be shed after this long.
    NotBefore(Duration),
    /// Every open connection has sent a request.
    Nothing,
}

/// The connection slots, and the connections that could give theirs up.
///
/// At the cap, a new connection takes the slot of the oldest connection that
/// has been open for [`SHED_AFTER`] without sending a request: a slow or
/// silent client (a slowloris flood) then cannot keep everyone else out
/// until its header timeouts run out. A connection that has sent a request,
/// whether it is being answered or idle, keeps its slot; when no connection
/// can give way, new ones wait.
struct Slots {
    permits: Arc<Semaphore>,
    cap: usize,
    /// Connections in accept order that may not have sent a request yet;
    /// pruned from the front on every accept and every shed.
    silent: Mutex<VecDeque<Weak<Clock>>>,
    warned: AtomicBool,
}

impl Slots {
    fn new(cap: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(cap)),
            cap,
            silent: Mutex::new(VecDeque::new()),
            warned: AtomicBool::new(false),
        }
    }

    fn opened(&self, clock: &Arc<Clock>) {
        if let Ok(mut silent) = self.silent.lock() {
            // Drop what can never be shed from the front: a silent
            // connection there ends within the header timeout, so the queue
            // holds at most that long's worth of connections.
            while silent
                .front()
                .is_some_and(|front| front.upgrade().is_none_or(|c| !c.never_requested()))
            {
                silent.pop_front();
            }
            silent.push_back(Arc::downgrade(clock));
        }
    }

    /// A free slot, shedding a silent connection for it if there is none.
    /// `None` only if the semaphore was closed.
    async fn take(&self) -> Option<OwnedSemaphorePermit> {
        loop {
            if let Ok(slot) = Arc::clone(&self.permits).try_acquire_owned() {
                return Some(slot);
            }
            if !self.warned.swap(true, Ordering::Relaxed) {
                // Once per run: a full server is the operator's business, and
                // a line per connection would flood the log during an attack.
                tracing::warn!(
                    "HTTP_MAX_CONNECTIONS reached: new connections wait, or replace \
                     connections that sent no request"
                );
            }
            // Shed: its slot comes back as soon as its task ends. Else wait
            // for the oldest silent connection to pass its grace, or, with
            // none, for any connection to end.
            let wait = match self.shed_one() {
                Shed::Done => Duration::from_secs(5),
                Shed::NotBefore(wait) => wait,
                Shed::Nothing => Duration::from_secs(3600),
            };
            tokio::select! {
                slot = Arc::clone(&self.permits).acquire_owned() => return slot.ok(),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Sheds the oldest connection that has sent no request for
    /// [`SHED_AFTER`].
    fn shed_one(&self) -> Shed {
        let Ok(mut silent) = self.silent.lock() else {
            return Shed::Nothing;
        };
        while let Some(front) = silent.front() {
            let Some(clock) = front.upgrade() else {
                silent.pop_front();
                continue;
            };
            if !clock.never_requested() {
                silent.pop_front();
                continue;
            }
            let age = clock.age();
            if age < SHED_AFTER {
                return Shed::NotBefore(SHED_AFTER - age);
            }
            silent.pop_front();
            clock.shed();
            return Shed::Done;
        }
        Shed::Nothing
    }

    /// Resolves once every connection has ended.
    async fn all_free(&self) {
        let all = u32::try_from(self.cap).unwrap_or(u32::MAX);
        let _ = self.permits.acquire_many(all).await;
    }
}

/// Errors of `accept` itself. Those about one connection (reset before it
/// was accepted) are the client's; the others (out of descriptors or
/// memory) are the machine's, and retrying at once would spin.
async fn accept_failed(error: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset, Interrupted};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted
    ) {
        return;
    }
    tracing::error!(%error, "accept failed; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Runs one connection to its end: closed by either side, past its
/// deadline, or stopped gracefully at shutdown.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    clock: Arc<Clock>,
    mut stopping: watch::Receiver<bool>,
) {
    // Answers are written whole; Nagle's delay would only hold them back.
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(ClockedStream::new(stream, Arc::clone(&clock)));
    let service = {
        let clock = Arc::clone(&clock);
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            clock.request_started();
            let mut request =
                request.map(|body| axum::body::Body::new(TimedBody::new(body, &clock)));
            // What `into_make_service_with_connect_info` would add: the
            // peer, for the per-IP limits and audit events.
            request.extensions_mut().insert(ConnectInfo(peer));
            let answer = app.clone().call(request);
            let clock = Arc::clone(&clock);
            async move {
                let response = answer.await?;
                Ok::<_, Infallible>(response.map(|body| ClockedBody::new(body, clock)))
            }
        })
    };
    let mut builder = http1::Builder::new();
    builder
        // The clock keeps every deadline (see `super::connection`).
        .header_read_timeout(None)
        .max_header_size(MAX_HEAD_BYTES);
    let mut connection = pin!(builder.serve_connection(io, service));
    let mut stop = pin!(stopping.wait_for(|stop| *stop));
    let mut shed = pin!(clock.shed_requested());
    let mut draining = false;
    let mut armed = clock.deadline();
    let mut timer = pin!(tokio::time::sleep_until(armed));
    poll_fn(|cx| {
        if !draining && stop.as_mut().poll(cx).is_ready() {
            draining = true;
            connection.as_mut().graceful_shutdown();
        }
        if shed.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        if connection.as_mut().poll(cx).is_ready() {
            // Errors here are the client's (a reset, a malformed request)
            // and hyper has answered what could be answered.
            return Poll::Ready(());
        }
        // Everything that moves the deadline happens while the connection
        // is polled, so the timer is set right after each poll.
        loop {
            let deadline = clock.deadline();
            if deadline != armed {
                armed = deadline;
                timer.as_mut().reset(armed);
            }
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if clock.deadline() == armed {
                // Past its deadline: dropping the connection closes it.
                return Poll::Ready(());
            }
        }
    })
    .await;
}

/// `max` lowered to what the open-files limit allows, after raising that
/// limit as far as this process may.
fn effective_cap(max: usize) -> usize {
    match raise_open_files_limit() {
        Some(limit) => {
            let room =
                usize::try_from(limit.saturating_sub(RESERVED_DESCRIPTORS)).unwrap_or(usize::MAX);
            if room < max {
                tracing::warn!(
                    "HTTP_MAX_CONNECTIONS={max} is above what the open-files limit ({limit}) \
                     allows; accepting at most {room}. Raise the limit (ulimit -n, LimitNOFILE) \
                     to allow more"
                );
            }
            max.min(room.max(1))
        }
        None => max,
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the soft
/// limit in force (`None` where it cannot be read).
#[cfg(target_os = "linux")]
fn raise_open_files_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let (Some(current), hard) = (limit.current, limit.maximum) {
        // An unlimited hard limit still has a ceiling (fs.nr_open); a
        // million descriptors is past any cap this server is given.
        let target = hard.unwrap_or(1 << 20);
        if target > current {
            limit.current = Some(target);
            if setrlimit(Resource::Nofile, limit).is_err() {
                return Some(current);
            }
        }
    }
    getrlimit(Resource::Nofile).current
}

#[cfg(not(target_os = "linux"))]
fn raise_open_files_limit() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> HttpLimits {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            max_connections: 4,
        }
    }

    fn queued(slots: &Slots) -> usize {
        slots.silent.lock().map(|q| q.len()).unwrap_or(0)
    }

    #[tokio::test(start_paused = true)]
    async fn sheds_only_the_oldest_silent_connection_past_its_grace() {
        let slots = Slots::new(2);
        let old = Clock::new(limits());
        slots.opened(&old);
        tokio::time::advance(Duration::from_millis(100)).await;
        let young = Clock::new(limits());
        slots.opened(&young);
        assert!(matches!(slots.shed_one(), Shed::NotBefore(d) if d == Duration::from_millis(150)));
        tokio::time::advance(Duration::from_millis(150)).await;
        assert!(matches!(slots.shed_one(), Shed::Done));
        // The young one has sent a request since: it keeps its slot.
        young.request_started();
        assert!(matches!(slots.shed_one(), Shed::Nothing));
    }

    #[tokio::test(start_paused = true)]
    async fn the_queue_forgets_connections_that_ended_or_sent_a_request() {
        let slots = Slots::new(4);
        for _ in 0..1000 {
            let clock = Clock::new(limits());
            slots.opened(&clock);
            clock.request_started();
        }
        assert_eq!(queued(&slots), 1);
        let kept: Vec<_> = (0..3).map(|_| Clock::new(limits())).collect();
        for clock in &kept {
            slots.opened(clock);
        }
        drop(kept);
        let last = Clock::new(limits());
        slots.opened(&last);
        assert_eq!(queued(&slots), 1);
    }
}
