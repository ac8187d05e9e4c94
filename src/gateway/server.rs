//! The gateway as a pingora server app ([`App`]): every connection of every listener goes to
//! the HTTP/1.1 lane (`http1`), which hands a connection that opens with the HTTP/2 preface to
//! the h2c lane. Pingora keeps what a server process needs — listeners, the socket hand-over
//! of an upgrade, signals, graceful shutdown — and, on h2c, its HTTP/2 framing.
//!
//! Also [`serve`]: the same app on an already-bound tokio listener without pingora's `Server`
//! (no signals, no process exit), which the integration tests and benchmarks use to run the
//! real request path in-process on an ephemeral port.

use super::core::Core;
use super::http1::Entry;
use super::record::Gateway;
use super::tls::Tls;
use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use std::net::SocketAddr;
use std::sync::Arc;

/// Pingora's runtime flavour for the proxy threads. `false`: one single-threaded tokio runtime
/// per thread, the way nginx runs one event loop per worker. A request's tasks then wake on the
/// thread they run on, with no cross-thread queue or stealing. Interleaved runs of the load
/// benchmark's plain Pingora proxy: 27–32 µs of CPU per request against 34–48 with stealing.
/// What is lost: a connection stays on the thread that accepted it; nothing in Hiatus spawns
/// long work on these threads (the control plane and health checks have their own runtime).
pub const WORK_STEALING: bool = false;

/// The server app on every listener.
#[derive(Debug)]
pub struct App {
    core: Arc<Core>,
    /// Take h2c (HTTP/2 with prior knowledge) on the plain listeners.
    h2c: bool,
    /// The TLS listeners' handshake, when there are any.
    tls: Option<Tls>,
}

/// Why the gateway's app could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The TLS listeners' configuration (`gateway::tls`'s words).
    #[error("{0}")]
    Tls(String),
}

impl App {
    /// `tls` and `plain`: the addresses the listeners are bound to (a connection's local
    /// address says which kind it came in on). Fails only when the TLS listeners'
    /// configuration cannot be made.
    pub fn new(gateway: Gateway, h2c: bool, tls: &[SocketAddr], plain: &[SocketAddr]) -> Result<App, AppError> {
        let tls = Tls::new(&gateway, tls, plain).map_err(AppError::Tls)?;
        Ok(App { core: Arc::new(Core::new(gateway)), h2c, tls })
    }
}

#[async_trait]
impl ServerApp for App {
    async fn process_new(self: &Arc<Self>, io: Stream, shutdown: &ShutdownWatch) -> Option<Stream> {
        let local = io.get_socket_digest().and_then(|d| d.local_addr().and_then(|a| a.as_inet()).copied());
        let entry = match (&self.tls, local) {
            (Some(tls), Some(local)) if tls.listens_on(local) => {
                let timeout = self.core.gateway.current.load().config().gateway.tls_handshake_timeout;
                let done = tls.handshake(io, timeout).await?;
                let entry = if done.h2 { Entry::TlsH2 } else { Entry::Tls };
                super::http1::connection(&self.core, done.io, shutdown, entry).await;
                return None;
            }
            _ => Entry::Plain { h2c: self.h2c },
        };
        super::http1::connection(&self.core, io, shutdown, entry).await;
        None
    }
}

/// Serves the gateway on `listener` in this process until `shutdown` turns true.
pub async fn serve(listener: tokio::net::TcpListener, gateway: Gateway, shutdown: tokio::sync::watch::Receiver<bool>) {
    serve_tls(listener, None, gateway, shutdown).await;
}

/// As [`serve`], with a TLS listener beside the plain one (the same app decides by the local
/// address, as in the process).
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: Option<tokio::net::TcpListener>,
    gateway: Gateway,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let h2c = gateway.current.load().config().gateway.h2c;
    let plain: Vec<SocketAddr> = listener.local_addr().into_iter().collect();
    let secure: Vec<SocketAddr> = tls.iter().filter_map(|l| l.local_addr().ok()).collect();
    let app = match App::new(gateway, h2c, &secure, &plain) {
        Ok(app) => Arc::new(app),
        Err(e) => {
            log::error!("{e}");
            return;
        }
    };
    let listener = pingora::protocols::l4::listener::Listener::from(listener);
    let tls = tls.map(pingora::protocols::l4::listener::Listener::from);
    let mut stop = shutdown.clone();
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => {
                // As the process does when pingora begins a graceful stop.
                app.core.gateway.drain.begin();
                break;
            }
            accepted = listener.accept() => accepted,
            accepted = async { match &tls { Some(l) => l.accept().await, None => std::future::pending().await } } => accepted,
        };
        let Ok(mut stream) = accepted else { continue };
        // As pingora's own listeners do: without it, Nagle holds back small writes.
        let _ = stream.set_nodelay();
        let io: Stream = Box::new(stream);
        let (app, sd) = (app.clone(), shutdown.clone());
        tokio::spawn(async move {
            app.process_new(io, &sd).await;
        });
    }
}
