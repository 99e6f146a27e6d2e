//! A layer's future that either calls the service behind it or answers at
//! once with a small body of its own — without boxing either: the header
//! limit's refusals and the console's files.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Response;
use http_body_util::{Either, Full};
use pin_project_lite::pin_project;

pin_project! {
    #[project = AnsweredProjection]
    pub enum CallOrAnswer<F> {
        Call { #[pin] inner: F },
        Answer { response: Option<Response<Full<Bytes>>> },
    }
}

impl<F> CallOrAnswer<F> {
    pub fn call(inner: F) -> Self {
        CallOrAnswer::Call { inner }
    }

    pub fn answer(response: Response<Full<Bytes>>) -> Self {
        CallOrAnswer::Answer {
            response: Some(response),
        }
    }
}

impl<F, B, E> Future for CallOrAnswer<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<Either<B, Full<Bytes>>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            AnsweredProjection::Call { inner } => inner.poll(cx).map_ok(|r| r.map(Either::Left)),
            AnsweredProjection::Answer { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response.map(Either::Right))),
                None => Poll::Pending,
            },
        }
    }
}
