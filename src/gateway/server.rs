//! Wiring: pingora's server with our service and listeners (HTTP/1.1 and h2c on each),
//! started after the control plane (`control::start`: reloads, admin, ticker). The service's
//! app is the express lane ([`Express`]) with pingora's proxy behind it.
//!
//! Also [`serve`]: the same proxy on an already-bound tokio listener without pingora's
//! `Server` (no signals, no process exit), which the integration tests and benchmarks use to
//! run the real request path in-process on an ephemeral port.

use super::express::Express;
use super::proxy::Gateway;
use pingora::apps::{HttpServerOptions, ServerApp};
use pingora::server::configuration::ServerConf;
use std::sync::Arc;

/// h2c on the cleartext listeners unless switched off: pingora then tells HTTP/2 from HTTP/1
/// by peeking at the first 24 bytes of a connection (see README, "Known limits"). Every
/// listener's options; the load benchmark's plain Pingora proxy takes the same.
pub fn server_options(h2c: bool) -> HttpServerOptions {
    let mut o = HttpServerOptions::default();
    o.h2c = h2c;
    o
}

/// Pingora's runtime flavour for the proxy threads. `false`: one single-threaded tokio runtime
/// per thread, the way nginx runs one event loop per worker. A request's tasks then wake on the
/// thread they run on, with no cross-thread queue or stealing. Interleaved runs of the load
/// benchmark's plain Pingora proxy: 27–32 µs of CPU per request against 34–48 with stealing.
/// What is lost: a connection stays on the thread that accepted it; nothing in Hiatus spawns
/// long work on these threads (the control plane and health checks have their own runtime).
pub const WORK_STEALING: bool = false;

/// Serves the gateway on `listener` in this process until `shutdown` turns true.
pub async fn serve(listener: tokio::net::TcpListener, gateway: Gateway, shutdown: tokio::sync::watch::Receiver<bool>) {
    let conf = Arc::new(ServerConf::default());
    let h2c = gateway.current.load().config().gateway.h2c;
    let proxy = Arc::new(Express::new(gateway, &conf, h2c));
    let listener = pingora::protocols::l4::listener::Listener::from(listener);
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let Ok(mut stream) = accepted else { continue };
                // As pingora's own listeners do: without it, Nagle holds back small writes.
                let _ = stream.set_nodelay();
                let io: pingora::protocols::Stream = Box::new(stream);
                let (p, sd) = (proxy.clone(), shutdown.clone());
                tokio::spawn(async move {
                    let mut next = p.process_new(io, &sd).await;
                    while let Some(io) = next {
                        next = p.process_new(io, &sd).await;
                    }
                });
            }
        }
    }
    proxy.cleanup().await;
}
