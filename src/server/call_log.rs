//! One log line per call: method, protocol, status code and latency (for
//! successful heartbeats at debug). Bodies and headers (which carry tokens)
//! are never logged.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame};
use tower::{Layer, Service};

use crate::protocol::connect::{CallCode, StreamCallCode};

#[derive(Clone, Copy, Default)]
pub struct CallLogLayer;

impl<S> Layer<S> for CallLogLayer {
    type Service = CallLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallLog { inner }
    }
}

#[derive(Clone)]
pub struct CallLog<S> {
    inner: S,
}

/// The call being served; logs itself once when the response body is done
/// (or dropped, e.g. when the client went away).
struct Call {
    method: String,
    protocol: &'static str,
    started: Instant,
    code: Option<String>,
    http_status: u16,
    /// A Connect stream's code, said in its last message.
    stream_code: Option<StreamCallCode>,
}

impl Drop for Call {
    fn drop(&mut self) {
        if let Some(stream) = &self.stream_code {
            // a stream that never wrote its end was cut off: the client went away
            let code = stream.0.get().copied().unwrap_or(tonic::Code::Cancelled);
            self.code = Some((code as i32).to_string());
        }
        let code = self.code.as_deref().unwrap_or(match self.http_status {
            200 => "0",
            _ => "",
        });
        let code = grpc_code_name(code);
        let elapsed = self.started.elapsed();
        crate::base::metrics::record_call(&self.method, self.protocol, code, elapsed.as_secs_f64());
        let (method, protocol, http_status) = (&self.method, self.protocol, self.http_status);
        let latency_us = elapsed.as_micros() as u64;
        if code == "OK" && is_heartbeat(method) {
            tracing::debug!(target: "paddock::call", method = %method, protocol, code, http_status, latency_us, "call");
            return;
        }
        tracing::info!(target: "paddock::call", method = %method, protocol, code, http_status, latency_us, "call");
    }
}

/// Calls every runner (or probe) makes every few seconds: a successful one
/// is logged at debug, or a fleet of 100,000 runners would write 3,333
/// lines a second saying nothing. Their failures are logged like any call's.
fn is_heartbeat(method: &str) -> bool {
    let method = method.strip_prefix("/api").unwrap_or(method);
    matches!(
        method,
        "/gitpod.v1.RunnerInteractionService/MarkRunnerActive" | "/grpc.health.v1.Health/Check"
    )
}

fn grpc_code_name(code: &str) -> &'static str {
    match code {
        "0" => "OK",
        "1" => "CANCELLED",
        "2" => "UNKNOWN",
        "3" => "INVALID_ARGUMENT",
        "4" => "DEADLINE_EXCEEDED",
        "5" => "NOT_FOUND",
        "6" => "ALREADY_EXISTS",
        "7" => "PERMISSION_DENIED",
        "8" => "RESOURCE_EXHAUSTED",
        "9" => "FAILED_PRECONDITION",
        "10" => "ABORTED",
        "11" => "OUT_OF_RANGE",
        "12" => "UNIMPLEMENTED",
        "13" => "INTERNAL",
        "14" => "UNAVAILABLE",
        "15" => "DATA_LOSS",
        "16" => "UNAUTHENTICATED",
        _ => "-",
    }
}

fn protocol<B>(request: &Request<B>) -> &'static str {
    let content_type = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if request.method() == http::Method::OPTIONS {
        // CORS preflights are not calls, but they are worth seeing as such
        "cors-preflight"
    } else if content_type.starts_with("application/grpc-web") {
        "grpc-web"
    } else if content_type.starts_with("application/grpc") {
        "grpc"
    } else if content_type.starts_with("application/json") || content_type.starts_with("application/proto") {
        "connect"
    } else if content_type.starts_with("application/connect+") {
        "connect-stream"
    } else if request.method() == http::Method::GET && request.uri().query().is_some() {
        "connect-get"
    } else {
        "http"
    }
}

fn grpc_status(headers: &HeaderMap) -> Option<String> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CallLog<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = Response<LoggedBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let method = request.uri().path().to_owned();
        let protocol = protocol(&request);
        let started = Instant::now();
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            let call = Call {
                method,
                protocol,
                started,
                // trailers-only responses (errors) carry the status in headers;
                // Connect answers say it in an extension
                code: grpc_status(response.headers()).or_else(|| {
                    response
                        .extensions()
                        .get::<CallCode>()
                        .map(|c| (c.0 as i32).to_string())
                }),
                http_status: response.status().as_u16(),
                stream_code: response.extensions().get::<StreamCallCode>().cloned(),
            };
            Ok(response.map(|inner| LoggedBody {
                inner,
                call: Some(call),
            }))
        })
    }
}

pin_project_lite::pin_project! {
    pub struct LoggedBody<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
    }
}

impl<B: Body> Body for LoggedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(trailers), Some(call)) = (frame.trailers_ref(), this.call.as_mut())
                    && let Some(code) = grpc_status(trailers)
                {
                    call.code = Some(code);
                }
            }
            // end of body: log now rather than when the connection lets go of it
            Poll::Ready(None) => drop(this.call.take()),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn each_call_logs_one_line_with_method_code_and_latency_but_no_secret() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let inner = tower::service_fn(|_req: Request<String>| async {
            let mut response = Response::new(String::from("body"));
            response.headers_mut().insert("grpc-status", "5".parse().unwrap());
            Ok::<_, std::convert::Infallible>(response)
        });
        let request = Request::builder()
            .uri("/gitpod.v1.RunnerService/GetRunner")
            .header("content-type", "application/grpc")
            .header("authorization", "Bearer pdk_pat_very_secret")
            .body(String::new())
            .unwrap();
        let response = CallLogLayer.layer(inner).oneshot(request).await.unwrap();
        response.into_body().collect().await.unwrap();

        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(log.contains("method=/gitpod.v1.RunnerService/GetRunner"), "{log}");
        assert!(
            log.contains("code=\"NOT_FOUND\"") || log.contains("code=NOT_FOUND"),
            "{log}"
        );
        assert!(
            log.contains("protocol=\"grpc\"") || log.contains("protocol=grpc"),
            "{log}"
        );
        assert!(log.contains("latency_us="), "{log}");
        assert!(!log.contains("pdk_pat_very_secret"), "{log}");
    }

    /// A successful lease is logged at debug; a failed one at info.
    #[tokio::test]
    async fn successful_heartbeats_are_logged_at_debug_failed_ones_at_info() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        for status in ["0", "16"] {
            let inner = tower::service_fn(move |_req: Request<String>| async move {
                let mut response = Response::new(String::from("body"));
                response.headers_mut().insert("grpc-status", status.parse().unwrap());
                Ok::<_, std::convert::Infallible>(response)
            });
            let request = Request::builder()
                .uri("/gitpod.v1.RunnerInteractionService/MarkRunnerActive")
                .header("content-type", "application/grpc")
                .body(String::new())
                .unwrap();
            let response = CallLogLayer.layer(inner).oneshot(request).await.unwrap();
            response.into_body().collect().await.unwrap();
        }
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert_eq!(log.lines().count(), 1, "only the failure at info: {log}");
        assert!(log.contains("UNAUTHENTICATED"), "{log}");
        assert!(is_heartbeat("/api/gitpod.v1.RunnerInteractionService/MarkRunnerActive"));
        assert!(!is_heartbeat("/gitpod.v1.RunnerService/GetRunner"));
    }

    /// A Connect stream answers 200 at once; its code is the one its last
    /// message carries, or CANCELLED when it never got there.
    #[tokio::test]
    async fn a_connect_stream_is_logged_with_the_code_it_ended_with() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        for ended in [Some(tonic::Code::NotFound), None] {
            let inner = tower::service_fn(move |_req: Request<String>| async move {
                let code = StreamCallCode::default();
                let mut response = Response::new(String::from("envelopes"));
                response.extensions_mut().insert(code.clone());
                if let Some(ended) = ended {
                    code.0.set(ended).unwrap();
                }
                Ok::<_, std::convert::Infallible>(response)
            });
            let request = Request::builder()
                .uri("/grpc.health.v1.Health/Watch")
                .header("content-type", "application/connect+json")
                .body(String::new())
                .unwrap();
            let response = CallLogLayer.layer(inner).oneshot(request).await.unwrap();
            response.into_body().collect().await.unwrap();
        }
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 2, "{log}");
        assert!(
            lines[0].contains("NOT_FOUND") && lines[0].contains("connect-stream"),
            "{log}"
        );
        assert!(lines[1].contains("CANCELLED"), "{log}");
    }
}
