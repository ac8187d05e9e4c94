//! Wiring: pingora's server with our service and listeners (HTTP/1.1 and h2c on each),
//! started after the control plane (`control::start`: reloads, admin, ticker). The service's
//! app is the express lane ([`Express`]) with pingora's proxy behind it.
//!
//! Also [`serve`]: the same proxy on an already-bound tokio listener without pingora's
//! `Server` (no signals, no process exit), which the integration tests and benchmarks use to
//! run the real request path in-process on an ephemeral port.

use super::compiled::Compiled;
use super::express::Express;
use super::proxy::Gateway;
use crate::clock::Clock;
use crate::config::Config;
use crate::control::accesslog::AccessLog;
use crate::control::admin::Admin;
use crate::control::metrics::Metrics;
use crate::control::reload::Reloader;
use arc_swap::ArcSwap;
use pingora::apps::{HttpServerOptions, ServerApp};
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::Server;
use pingora::services::listening::Service;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// What `hiatus run` was asked to do beyond the configuration.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Take the listening sockets over from a running Hiatus (pingora's upgrade).
    pub upgrade: bool,
    /// Path of the socket the listening sockets are handed over on.
    pub upgrade_sock: Option<String>,
}

/// h2c on the cleartext listeners unless switched off: pingora then tells HTTP/2 from HTTP/1
/// by peeking at the first 24 bytes of a connection (see README, "Known limits"). Every
/// listener's options; the load benchmark's plain Pingora proxy takes the same.
pub fn server_options(h2c: bool) -> HttpServerOptions {
    let mut o = HttpServerOptions::default();
    o.h2c = h2c;
    o
}

/// Keeps the coarse clock ticking and rebuilds the snapshot before its horizon runs out.
#[derive(Debug)]
pub struct Ticker {
    pub current: Arc<ArcSwap<Compiled>>,
    pub clock: Clock,
}

impl Ticker {
    /// One tick: read the clock; rebuild the timelines around `now` when the horizon is due.
    pub fn tick(&self) {
        self.clock.tick();
        let now = self.clock.now();
        let current = self.current.load_full();
        if current.horizon_due(now) {
            let config: Config = current.config().clone();
            match Compiled::build_with(config, now, current.generation, &current.health) {
                // Only over the snapshot it was built from: a reload that landed meanwhile is
                // newer and must not be replaced by the old configuration.
                Ok(c) => {
                    let previous = self.current.compare_and_swap(&current, Arc::new(c));
                    if !Arc::ptr_eq(&previous, &current) {
                        log::info!("a reload landed while re-materialising; keeping the reload");
                    }
                    crate::memory::release();
                }
                Err(e) => log::error!("re-materialising the schedule failed, keeping the old one: {e}"),
            }
        }
    }
}

/// Pingora's runtime flavour for the proxy threads. `false`: one single-threaded tokio runtime
/// per thread, the way nginx runs one event loop per worker. A request's tasks then wake on the
/// thread they run on, with no cross-thread queue or stealing. Interleaved runs of the load
/// benchmark's plain Pingora proxy: 27–32 µs of CPU per request against 34–48 with stealing.
/// What is lost: a connection stays on the thread that accepted it; nothing in Hiatus spawns
/// long work on these threads (the control plane and health checks have their own runtime).
pub const WORK_STEALING: bool = false;

/// Checks that every address can be bound now: pingora would otherwise keep running with no
/// listener after a failed bind.
pub fn check_listeners(addrs: &[SocketAddr]) -> Result<Vec<SocketAddr>, String> {
    let mut out = Vec::new();
    for a in addrs {
        let l = std::net::TcpListener::bind(a).map_err(|e| format!("cannot listen on {a}: {e}"))?;
        // Port 0: take the port the system chose (released again just before pingora binds).
        out.push(l.local_addr().map_err(|e| format!("{a}: {e}"))?);
    }
    Ok(out)
}

/// Runs the gateway until a signal stops it. Never returns on success (pingora exits).
pub fn run(config_path: &std::path::Path, compiled: Compiled, clock: Clock, options: RunOptions) -> Result<(), String> {
    let settings = compiled.config().gateway.clone();
    let listen = if options.upgrade { settings.listen.clone() } else { check_listeners(&settings.listen)? };
    let conf = ServerConf {
        threads: settings.threads,
        work_stealing: WORK_STEALING,
        grace_period_seconds: Some(settings.grace_period.as_secs()),
        graceful_shutdown_timeout_seconds: Some(5),
        upgrade_sock: options.upgrade_sock.clone().unwrap_or_else(|| "/tmp/hiatus-upgrade.sock".to_string()),
        daemon: false,
        max_retries: 4,
        ..ServerConf::default()
    };
    let opt = Opt { upgrade: options.upgrade, ..Opt::default() };
    // The configuration's parse is over: its working set need not stay resident.
    crate::memory::release();
    let mut server = Server::new_with_opt_and_conf(Some(opt), conf);
    server.bootstrap();
    let current = Arc::new(ArcSwap::from_pointee(compiled));
    let metrics = Metrics::new().map(Arc::new).map_err(|e| format!("metrics: {e}"))?;
    let access_log = AccessLog::start(&settings.access_log).map_err(|e| format!("access log: {e}"))?;
    let reloader =
        Arc::new(Reloader::new(config_path.to_path_buf(), current.clone(), clock.clone(), Some(metrics.clone())));
    let admin = Arc::new(Admin {
        reloader,
        metrics: Some(metrics.clone()),
        clock: clock.clone(),
        token: settings.admin_token.clone(),
        ready: AtomicBool::new(false),
    });
    // The control plane first: it installs the SIGHUP handler before anything can send one.
    let admin_at = crate::control::start(admin.clone(), settings.admin).map_err(|e| format!("admin listener: {e}"))?;
    if settings.admin.is_some() {
        println!("hiatus: admin on http://{admin_at} (/metrics /healthz /readyz /state, POST /reload)");
    }
    let gateway = Gateway::new(current, clock).with_metrics(metrics).with_access_log(access_log);
    let app = Express::new(gateway, &server.configuration, settings.h2c);
    let mut proxy = Service::new("Hiatus".to_string(), app);
    for a in &listen {
        // No read buffer in front of a client's socket: pingora's default is a zeroed 64 KiB one
        // per connection, and both lanes read into buffers of their own, so it only added a
        // copy and 42 KiB of memory per idle keep-alive connection. The small write buffer
        // stays: pingora's lane writes a head and a short body as two writes, which it joins
        // into one send.
        let endpoint = ListenerConfig::tcp(a.to_string()).l4_buffer(L4BufferSettings::default().read(0));
        proxy.add_listener(endpoint);
    }
    server.add_service(proxy);
    announce_when_listening(listen, admin);
    server.run_forever()
}

/// Says "listening" (stdout, `/readyz`) only once every listener accepts connections: pingora
/// binds inside `run_forever`, after this function has handed over control.
fn announce_when_listening(listen: Vec<SocketAddr>, admin: Arc<Admin>) {
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        for a in &listen {
            while std::net::TcpStream::connect_timeout(a, std::time::Duration::from_millis(200)).is_err() {
                if std::time::Instant::now() > deadline {
                    eprintln!("hiatus: {a} is not accepting connections; is the address in use?");
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            println!("hiatus: listening on http://{a}");
        }
        admin.ready.store(true, std::sync::atomic::Ordering::Relaxed);
    });
}

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
