//! The request header limit on HTTP/1.1, where hyper's own bound is its
//! read buffer (hundreds of KiB): the same size HTTP/2 enforces through
//! SETTINGS_MAX_HEADER_LIST_SIZE, counted the same way, answered 431.

use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{Either, Full};
use tower::{Layer, Service};

use super::answered::CallOrAnswer;
use super::codes;

/// HTTP/2's size of a header list: each field's name, value and 32 bytes.
pub fn header_list_size(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 32)
        .sum()
}

#[derive(Debug, Clone, Copy)]
pub struct HeaderLimitLayer {
    max: usize,
}

impl HeaderLimitLayer {
    pub fn new(max: u32) -> Self {
        HeaderLimitLayer {
            max: usize::try_from(max).unwrap_or(usize::MAX),
        }
    }
}

impl<S> Layer<S> for HeaderLimitLayer {
    type Service = HeaderLimit<S>;

    fn layer(&self, inner: S) -> HeaderLimit<S> {
        HeaderLimit { inner, max: self.max }
    }
}

#[derive(Debug, Clone)]
pub struct HeaderLimit<S> {
    inner: S,
    max: usize,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HeaderLimit<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<Either<ResBody, Full<Bytes>>>;
    type Error = S::Error;
    type Future = CallOrAnswer<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let size = header_list_size(request.headers());
        if size > self.max {
            return CallOrAnswer::answer(too_large(size, self.max));
        }
        CallOrAnswer::call(self.inner.call(request))
    }
}

/// 431, with a Connect error body a Connect or browser client can read.
fn too_large(size: usize, max: usize) -> Response<Full<Bytes>> {
    let code = tonic::Code::ResourceExhausted;
    let body = serde_json::json!({
        "code": codes::connect_name(code),
        "message": format!("request headers of {size} bytes: at most {max} (counted as HTTP/2 counts them)"),
    });
    let mut response = Response::new(Full::new(Bytes::from(serde_json::to_vec(&body).unwrap_or_default())));
    *response.status_mut() = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
