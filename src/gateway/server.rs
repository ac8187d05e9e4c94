//! The gateway as a pingora server app ([`App`]): every connection of every listener goes to
//! the HTTP/1.1 lane (`http1`), which hands a connection that opens with the HTTP/2 preface to
//! the h2c lane. Pingora keeps what a server process needs — listeners, the socket hand-over
//! of an upgrade, signals, graceful shutdown — and, on h2c, its HTTP/2 framing.
//!
//! Also [`serve`]: the same app on an already-bound tokio listener without pingora's `Server`
//! (no signals, no process exit), which the integration tests and benchmarks use to run the
//! real request path in-process on an ephemeral port.

use super::core::Core;
use super::record::Gateway;
use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
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
    /// Take h2c (HTTP/2 with prior knowledge) on these listeners.
    h2c: bool,
}

impl App {
    pub fn new(gateway: Gateway, h2c: bool) -> App {
        App { core: Arc::new(Core::new(gateway)), h2c }
    }
}

#[async_trait]
impl ServerApp for App {
    async fn process_new(self: &Arc<Self>, io: Stream, shutdown: &ShutdownWatch) -> Option<Stream> {
        super::http1::connection(&self.core, io, shutdown, self.h2c).await;
        None
    }
}

/// Serves the gateway on `listener` in this process until `shutdown` turns true.
pub async fn serve(listener: tokio::net::TcpListener, gateway: Gateway, shutdown: tokio::sync::watch::Receiver<bool>) {
    let h2c = gateway.current.load().config().gateway.h2c;
    let app = Arc::new(App::new(gateway, h2c));
    let listener = pingora::protocols::l4::listener::Listener::from(listener);
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            _ = stop.changed() => {
                // As the process does when pingora begins a graceful stop.
                app.core.gateway.drain.begin();
                break;
            }
            accepted = listener.accept() => {
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
    }
}
