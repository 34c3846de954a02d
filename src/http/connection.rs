//! One connection's clock, and the wrappers that keep it: the socket, the
//! request body and the response body.
//!
//! A connection is always in one phase, each with its own deadline:
//!
//! | phase | starts when | deadline |
//! | --- | --- | --- |
//! | first | the connection is accepted | `HTTP_HEADER_TIMEOUT` later |
//! | head | a kept-alive connection receives the next request's first byte | `HTTP_HEADER_TIMEOUT` later |
//! | busy | the head is complete (the handler is called) | `2 × HTTP_REQUEST_TIMEOUT` later |
//! | idle | the response has been handed to the socket | `HTTP_IDLE_TIMEOUT` later |
//!
//! The connection's driver (`super::server`) drops the connection when its
//! deadline passes. Inside the busy phase the request body has a deadline of
//! its own, `HTTP_REQUEST_TIMEOUT` after the head, so a body that trickles in
//! is answered `408` while there is still time to say so; the rest of the
//! busy budget is for the handler and for a client slow to read the answer.
//!
//! Why not hyper's `header_read_timeout`: it also runs while a kept-alive
//! connection waits for its next request, so idle connections would close
//! after the header timeout rather than the idle one.
//!
//! The clock itself is a few atomics (two stores per request, a load per
//! read); the driver re-arms its one timer only when the deadline moves,
//! twice per request.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

use crate::config::HttpLimits;

/// Accepted, and no request head completed yet.
const FIRST: u8 = 0;
/// A later request's head is arriving.
const HEAD: u8 = 1;
const BUSY: u8 = 2;
const IDLE: u8 = 3;

/// How long a connection being closed keeps reading (and discarding) what
/// the client still sends, so that the answer it was given is not destroyed
/// by a TCP reset: closing a socket with unread data makes the kernel send
/// RST, and a client still writing its body (a `413`, a `408`) would see
/// `EPIPE` or `ECONNRESET` instead of the status.
const LINGER: Duration = Duration::from_secs(2);
/// Most bytes discarded while lingering.
const LINGER_BYTES: usize = 16 * 1024 * 1024;

/// The phase and deadline of one connection, shared by its socket, its
/// bodies and its driver.
pub struct Clock {
    limits: HttpLimits,
    start: Instant,
    phase: AtomicU8,
    /// The deadline, in milliseconds since `start`.
    deadline: AtomicU64,
    /// Set when the server needs this connection's slot (see
    /// `super::server`); its driver then drops it.
    shed: Notify,
}

impl Clock {
    /// A clock for a connection accepted now: its head is due within the
    /// header timeout, whether or not a byte ever arrives.
    pub fn new(limits: HttpLimits) -> Arc<Self> {
        let clock = Self {
            limits,
            start: Instant::now(),
            phase: AtomicU8::new(FIRST),
            deadline: AtomicU64::new(0),
            shed: Notify::new(),
        };
        clock.set_deadline(limits.header_timeout);
        Arc::new(clock)
    }

    /// How long ago the connection was accepted.
    pub fn age(&self) -> Duration {
        self.start.elapsed()
    }

    /// True until the first request head is complete: the connection has
    /// not yet sent anything the server could answer.
    pub fn never_requested(&self) -> bool {
        self.phase.load(Ordering::Relaxed) == FIRST
    }

    /// Asks the connection's driver to drop it.
    pub fn shed(&self) {
        self.shed.notify_one();
    }

    /// Resolves once [`Clock::shed`] was called.
    pub async fn shed_requested(&self) {
        self.shed.notified().await;
    }

    /// When the connection must be dropped, as it stands.
    pub fn deadline(&self) -> Instant {
        self.start + Duration::from_millis(self.deadline.load(Ordering::Acquire))
    }

    /// Until when the request body may take to arrive.
    fn body_deadline(&self) -> Instant {
        Instant::now() + self.limits.request_timeout
    }

    fn set_deadline(&self, after: Duration) {
        let at = self.start.elapsed() + after;
        let millis = u64::try_from(at.as_millis()).unwrap_or(u64::MAX);
        self.deadline.store(millis, Ordering::Release);
    }

    /// Bytes arrived. On an idle connection they begin the next request,
    /// whose head is then due within the header timeout.
    fn received(&self) {
        if self.phase.load(Ordering::Relaxed) == IDLE {
            self.phase.store(HEAD, Ordering::Relaxed);
            self.set_deadline(self.limits.header_timeout);
        }
    }

    /// A request head is complete and its handler is being called.
    pub fn request_started(&self) {
        self.phase.store(BUSY, Ordering::Relaxed);
        self.set_deadline(self.limits.request_timeout * 2);
    }

    /// The response has been handed to the socket: the connection waits for
    /// its next request.
    fn response_done(&self) {
        self.phase.store(IDLE, Ordering::Relaxed);
        self.set_deadline(self.limits.idle_timeout);
    }
}

/// The socket of a connection: reports reads to the clock, and lingers
/// when it is shut down (see [`LINGER`]).
pub struct ClockedStream<S> {
    inner: S,
    clock: Arc<Clock>,
    linger: Option<Linger>,
}

struct Linger {
    until: Pin<Box<Sleep>>,
    discarded: usize,
    write_closed: bool,
}

impl<S> ClockedStream<S> {
    /// Wraps an accepted socket.
    pub fn new(inner: S, clock: Arc<Clock>) -> Self {
        Self {
            inner,
            clock,
            linger: None,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ClockedStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            self.clock.received();
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for ClockedStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    /// Sends FIN, then reads and discards what the client still sends until
    /// it closes too, [`LINGER`] passes or [`LINGER_BYTES`] were discarded.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let linger = this.linger.get_or_insert_with(|| Linger {
            until: Box::pin(tokio::time::sleep(LINGER)),
            discarded: 0,
            write_closed: false,
        });
        if !linger.write_closed {
            ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
            linger.write_closed = true;
        }
        let mut scratch = [0u8; 8192];
        loop {
            if linger.discarded >= LINGER_BYTES || linger.until.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(()));
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.inner).poll_read(cx, &mut buf) {
                Poll::Pending => return Poll::Pending,
                // The client closed (or reset) its side: nothing to protect.
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => linger.discarded += buf.filled().len(),
            }
        }
    }
}

/// The request body stopped arriving before its deadline.
#[derive(Debug)]
pub struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTimedOut {}

/// A request body that fails with [`BodyTimedOut`] once its deadline has
/// passed. The timer is made only if the body is not all there at once (the
/// usual case for this API's small bodies costs no timer).
pub struct TimedBody<B> {
    inner: B,
    deadline: Instant,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<B> TimedBody<B> {
    /// `inner`, due within the request timeout from now.
    pub fn new(inner: B, clock: &Clock) -> Self {
        Self {
            inner,
            deadline: clock.body_deadline(),
            timer: None,
        }
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let deadline = this.deadline;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(Some(Err(Box::new(BodyTimedOut))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that tells the clock when it has been sent (or dropped).
pub struct ClockedBody<B> {
    inner: B,
    clock: Arc<Clock>,
}

impl<B> ClockedBody<B> {
    /// Wraps the body of a response on the connection `clock` keeps.
    pub fn new(inner: B, clock: Arc<Clock>) -> Self {
        Self { inner, clock }
    }
}

impl<B> Drop for ClockedBody<B> {
    fn drop(&mut self) {
        self.clock.response_done();
    }
}

impl<B: Body + Unpin> Body for ClockedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> HttpLimits {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            max_connections: 1,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn each_phase_has_its_deadline() {
        let clock = Clock::new(limits());
        let start = Instant::now();
        assert_eq!(clock.deadline(), start + Duration::from_secs(10));
        // Bytes of the first head change nothing: the head is due 10 s after
        // the connection started, however slowly it comes.
        tokio::time::advance(Duration::from_secs(4)).await;
        clock.received();
        assert_eq!(clock.deadline(), start + Duration::from_secs(10));
        clock.request_started();
        assert_eq!(clock.deadline(), start + Duration::from_secs(64));
        tokio::time::advance(Duration::from_secs(1)).await;
        clock.response_done();
        assert_eq!(clock.deadline(), start + Duration::from_secs(80));
        // The next request's first byte starts its header timeout.
        tokio::time::advance(Duration::from_secs(20)).await;
        clock.received();
        assert_eq!(clock.deadline(), start + Duration::from_secs(35));
    }
}
