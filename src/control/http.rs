//! The server side of the admin listener and the demo origin: pingora's HTTP/1 session
//! (parsing, framing, keep-alive) under bounds of our own.
//!
//! Owns [`Bounded`], a pingora `HttpServerApp` over a set of [`Endpoints`]: a request's whole
//! head must arrive within [`Limits::head`] (pingora's own read timeout is per read, so a
//! client sending a byte now and then would hold a connection forever), its body within
//! [`Limits::body`] and [`Limits::max_body`] bytes (413 otherwise, read no further); a head
//! pingora cannot parse gets a 400. Every answer is complete (`Content-Length`), so endpoints
//! only say what to answer. [`serve`] drives it on a tokio listener of the caller's (tests,
//! the demo origin); `hiatus run` adds it to pingora's server as a service.
//!
//! It does not route, authenticate or know any endpoint (that is `admin` and `cli::origin`).

use async_trait::async_trait;
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ReusedHttpStream, ServerApp};
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// How long a client may take with a request's parts, and how much body it may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From the connection (or the previous answer) to the head's last byte; also how long an
    /// idle keep-alive connection stays open.
    pub head: Duration,
    /// From the end of the head to the body's last byte.
    pub body: Duration,
    /// The most body bytes a request may have; more is a 413.
    pub max_body: usize,
}

impl Default for Limits {
    /// Generous for operators and scrapers, small for anyone else: no endpoint reads a body.
    fn default() -> Limits {
        Limits { head: Duration::from_secs(10), body: Duration::from_secs(10), max_body: 64 * 1024 }
    }
}

/// An answer: status, `Content-Type`, further fields, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub fields: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Answer {
        Answer { status, content_type, fields: Vec::new(), body: body.into() }
    }

    fn text(status: u16, body: &str) -> Answer {
        Answer::new(status, "text/plain", body)
    }
}

/// What a server answers to a request whose head and body arrived within the limits.
#[async_trait]
pub trait Endpoints: Send + Sync + 'static {
    async fn answer(&self, head: &RequestHeader, body: &[u8]) -> Answer;

    /// The answer to a request whose body is over [`Limits::max_body`] (its body unread).
    fn too_large(&self, _head: &RequestHeader) -> Answer {
        Answer::text(413, "the body is too large\n")
    }
}

/// [`Endpoints`] served with [`Limits`] (see the module doc).
#[derive(Debug)]
pub struct Bounded<E> {
    pub endpoints: Arc<E>,
    pub limits: Limits,
}

impl<E> Bounded<E> {
    pub fn new(endpoints: Arc<E>, limits: Limits) -> Bounded<E> {
        Bounded { endpoints, limits }
    }
}

/// Why a body was not read whole.
enum BodyError {
    TooLarge,
    /// Too slow, cut short or badly framed: the connection cannot go on.
    Broken,
}

/// Reads the body within the limits. A `Content-Length` over the limit is refused before a
/// byte is read.
async fn read_body(http: &mut ServerSession, limits: Limits) -> Result<Vec<u8>, BodyError> {
    let announced = http
        .req_header()
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limits.max_body as u64) {
        return Err(BodyError::TooLarge);
    }
    let read = async {
        let mut body = Vec::new();
        loop {
            match http.read_request_body().await {
                Ok(Some(chunk)) if body.len() + chunk.len() > limits.max_body => return Err(BodyError::TooLarge),
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => return Ok(body),
                Err(_) => return Err(BodyError::Broken),
            }
        }
    };
    tokio::time::timeout(limits.body, read).await.unwrap_or(Err(BodyError::Broken))
}

/// Writes `answer` whole; `false` when the connection broke.
async fn write(http: &mut ServerSession, answer: Answer, close: bool) -> bool {
    if close {
        http.set_keepalive(None);
    }
    let Ok(mut head) = ResponseHeader::build(answer.status, Some(answer.fields.len() + 3)) else { return false };
    let fields = [("content-type", answer.content_type.to_string()), ("content-length", answer.body.len().to_string())];
    for (name, value) in fields.into_iter().chain(answer.fields) {
        if head.insert_header(name, value).is_err() {
            return false;
        }
    }
    if http.write_response_header(Box::new(head)).await.is_err() {
        return false;
    }
    // `HEAD`: the head says the body's length, the body stays out (pingora's writer expects none).
    let head_only = http.req_header().method == http::Method::HEAD;
    head_only || answer.body.is_empty() || http.write_response_body(answer.body.into(), true).await.is_ok()
}

/// The answer to a head pingora could not parse, written on the bare connection: the session
/// has no request to answer (and its writers expect one).
const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: 12\r\nconnection: close\r\n\r\nbad request\n";

#[async_trait]
impl<E: Endpoints> HttpServerApp for Bounded<E> {
    async fn process_new_http(
        self: &Arc<Self>,
        mut http: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        match tokio::time::timeout(self.limits.head, http.read_request()).await {
            Ok(Ok(true)) => {}
            // Closed between requests, or half a head within the time: nothing to answer.
            Ok(Ok(false)) | Err(_) => return None,
            Ok(Err(e)) if *e.etype() == pingora::ErrorType::InvalidHTTPHeader => {
                if let ServerSession::H1(h1) = http {
                    let mut stream = h1.into_inner();
                    let _ = stream.write_all(BAD_REQUEST).await;
                    let _ = stream.flush().await;
                }
                return None;
            }
            Ok(Err(_)) => return None,
        }
        let (answer, close) = match read_body(&mut http, self.limits).await {
            Ok(body) => (self.endpoints.answer(http.req_header(), &body).await, *shutdown.borrow()),
            // The rest of the body is not read: the connection ends with the answer.
            Err(BodyError::TooLarge) => (self.endpoints.too_large(http.req_header()), true),
            Err(BodyError::Broken) => return None,
        };
        if !write(&mut http, answer, close).await {
            return None;
        }
        let settings = HttpPersistentSettings::for_session(&http);
        match http.finish().await {
            Ok(Some(stream)) => Some(ReusedHttpStream::from_reusable_stream(stream, settings)),
            _ => None,
        }
    }
}

/// Serves `app` on `listener` until the process ends: one task per connection, so a slow
/// client holds up no other.
pub async fn serve<A: ServerApp + Send + Sync + 'static>(listener: tokio::net::TcpListener, app: Arc<A>) {
    let listener = pingora::protocols::l4::listener::Listener::from(listener);
    // Never sent: these servers run until their process ends.
    let (_never, shutdown) = tokio::sync::watch::channel(false);
    loop {
        let Ok(mut stream) = listener.accept().await else { continue };
        let _ = stream.set_nodelay();
        let io: pingora::protocols::Stream = Box::new(stream);
        let (app, shutdown) = (app.clone(), shutdown.clone());
        tokio::spawn(async move {
            app.process_new(io, &shutdown).await;
        });
    }
}
