//! Each accepted connection: who it is from, and whether it is idle. A
//! connection with no call in flight that has carried no bytes for the idle
//! timeout is closed; one holding a call open — a watch stream that has had
//! nothing to say for an hour, say — is never idle.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tonic::transport::server::Connected;
use tower::{Layer, Service};

/// What a connection's calls know of it (a request extension).
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub remote_addr: Option<SocketAddr>,
    activity: Arc<Activity>,
}

/// Calls in flight, and when bytes last moved or a call last began or ended.
#[derive(Debug)]
struct Activity {
    in_flight: AtomicUsize,
    /// Milliseconds since `epoch`.
    last: AtomicU64,
    epoch: Instant,
}

impl Activity {
    fn new() -> Self {
        Activity {
            in_flight: AtomicUsize::new(0),
            last: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    fn touch(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Relaxed);
    }

    fn idle_since(&self) -> Instant {
        self.epoch + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }
}

/// A TCP connection that ends itself once idle for `idle_timeout`.
pub struct Connection {
    io: TcpStream,
    info: ConnectionInfo,
    idle_timeout: Option<Duration>,
    // boxed: the server needs its connections Unpin; one allocation per connection
    timer: Pin<Box<Sleep>>,
}

impl Connection {
    pub fn new(io: TcpStream, idle_timeout: Option<Duration>) -> Self {
        let activity = Arc::new(Activity::new());
        let remote_addr = io.peer_addr().ok();
        let far = Instant::now() + idle_timeout.unwrap_or(Duration::from_secs(86_400));
        Connection {
            io,
            info: ConnectionInfo { remote_addr, activity },
            idle_timeout,
            timer: Box::pin(tokio::time::sleep_until(far)),
        }
    }
}

impl Connected for Connection {
    type ConnectInfo = ConnectionInfo;

    fn connect_info(&self) -> ConnectionInfo {
        self.info.clone()
    }
}

impl AsyncRead for Connection {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.info.activity.touch();
                }
                Poll::Ready(result)
            }
            // Waiting for the client: the moment to see whether it has been
            // idle too long. The server reads whenever it has nothing else
            // to do, so this runs after every call ends.
            Poll::Pending => {
                let Some(timeout) = this.idle_timeout else {
                    return Poll::Pending;
                };
                let activity = &this.info.activity;
                if activity.in_flight.load(Ordering::Relaxed) > 0 {
                    return Poll::Pending;
                }
                let deadline = activity.idle_since() + timeout;
                if this.timer.deadline() != deadline {
                    this.timer.as_mut().reset(deadline);
                }
                match this.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the connection was idle too long",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written
            && n > 0
        {
            this.info.activity.touch();
        }
        written
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = written
            && n > 0
        {
            this.info.activity.touch();
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Counts each call in flight on its connection until its response body
/// is done with (a stream's, when the stream ends).
#[derive(Debug, Clone, Copy, Default)]
pub struct CountCallsLayer;

impl<S> Layer<S> for CountCallsLayer {
    type Service = CountCalls<S>;

    fn layer(&self, inner: S) -> CountCalls<S> {
        CountCalls { inner }
    }
}

#[derive(Debug, Clone)]
pub struct CountCalls<S> {
    inner: S,
}

/// One call in flight on a connection; dropped when its response body is.
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        activity.touch();
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CountCalls<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<Counted<ResBody>>;
    type Error = S::Error;
    type Future = CountedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let call = request
            .extensions()
            .get::<ConnectionInfo>()
            .map(|info| InFlight::begin(info.activity.clone()));
        CountedFuture {
            inner: self.inner.call(request),
            call,
        }
    }
}

pin_project! {
    pub struct CountedFuture<F> {
        #[pin]
        inner: F,
        call: Option<InFlight>,
    }
}

impl<F, B, E> Future for CountedFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<Counted<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = std::task::ready!(this.inner.poll(cx))?;
        let call = this.call.take();
        Poll::Ready(Ok(response.map(|body| Counted { body, _call: call })))
    }
}

pin_project! {
    /// A response body that keeps its call counted while it lives.
    pub struct Counted<B> {
        #[pin]
        body: B,
        _call: Option<InFlight>,
    }
}

impl<B: http_body::Body> http_body::Body for Counted<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.project().body.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
