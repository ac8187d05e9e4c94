//! `hiatus run --config FILE` and `hiatus demo --config FILE`, and the process's wiring: the
//! control plane (`control::start`: reloads, admin, ticker, prober) first, then pingora's server
//! with the gateway's app on every listener (HTTP/1.1 and h2c on each).

use crate::clock::Clock;
use crate::compiled::Compiled;
use crate::control::admin::Admin;
use crate::control::reload::Reloader;
use crate::control::vet::Vetter;
use crate::gateway::drain::{Drain, Drained, LAST_WORDS};
use crate::gateway::server::App;
use crate::gateway::server::WORK_STEALING;
use crate::gateway::Gateway;
use crate::telemetry::accesslog::AccessLog;
use crate::telemetry::logger;
use crate::telemetry::metrics::Metrics;
use arc_swap::ArcSwap;
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::{ExecutionPhase, Server};
use pingora::services::listening::Service;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

fn compile(config: &Path) -> Result<Compiled, ExitCode> {
    let loaded = super::load_to_serve(config, None)?;
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    Compiled::build(loaded.config, chrono::Utc::now().timestamp(), 1).map_err(|e| {
        eprintln!("error: {}: {e}", config.display());
        ExitCode::from(2)
    })
}

pub fn run(config: &Path, options: RunOptions) -> ExitCode {
    let compiled = match compile(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match serve(config, compiled, Clock::system(), options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// The gateway plus the built-in origin, with the lines to try printed first.
pub fn demo(config: &Path, origin: SocketAddr) -> ExitCode {
    let compiled = match compile(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let listener = match std::net::TcpListener::bind(origin) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: the demo origin cannot listen on {origin}: {e}");
            return ExitCode::from(1);
        }
    };
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        if let (Ok(rt), Ok(())) = (runtime, listener.set_nonblocking(true)) {
            rt.block_on(async move {
                if let Ok(l) = tokio::net::TcpListener::from_std(listener) {
                    super::origin::origin(l).await;
                }
            });
        }
    });
    let at = compiled.config().gateway.listen.first().copied().unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)));
    println!("hiatus demo: the built-in origin listens on http://{origin}");
    println!("Try:");
    for t in &compiled.config().tenants {
        if let Some(h) = t.hosts.first() {
            println!("  curl -i -H 'Host: {h}' http://{at}/        # {}", t.display_name());
        }
    }
    if let Some(h) = compiled.config().tenants.iter().find_map(|t| t.hosts.first()) {
        println!("  curl -i -H 'Host: {h}' -H 'Accept: application/json' -H 'Accept-Language: de' http://{at}/");
    }
    println!("  curl -i -H 'Host: nobody.example' http://{at}/        # unknown host: never forwarded");
    println!("Open in a browser: http://maint.localhost:{}/ (*.localhost names point to this machine)", at.port());
    if let Some(tls) = compiled.config().gateway.listen_tls.first() {
        // The certificate is scripts/demo-cert.sh's: its CA is what a client trusts.
        let port = tls.port();
        println!("Over HTTPS (HTTP/2 and HTTP/1.1), trusting the demo's CA:");
        println!("  curl -i --cacert target/demo-tls/ca.pem https://app.localhost:{port}/");
        println!("  curl -i --cacert target/demo-tls/ca.pem https://maint.localhost:{port}/");
        println!("  (a browser warns: the CA is not one it knows; import target/demo-tls/ca.pem to trust it)");
    }
    match serve(config, compiled, Clock::system(), RunOptions::default()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// What `hiatus run` was asked to do beyond the configuration.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Take the listening sockets over from a running Hiatus (pingora's upgrade).
    pub upgrade: bool,
    /// Path of the socket the listening sockets are handed over on.
    pub upgrade_sock: Option<String>,
}

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

/// Runs the gateway until a signal stops it. Never returns on success (the process exits).
fn serve(config_path: &std::path::Path, compiled: Compiled, clock: Clock, options: RunOptions) -> Result<(), String> {
    let settings = compiled.config().gateway.clone();
    // From here on the process speaks through its log (stderr); a configuration's errors and
    // warnings before this were the command's own output, as `hiatus check` prints them.
    let rust_log = std::env::var("RUST_LOG").ok();
    if let Some(w) =
        logger::install(settings.log_level, settings.log_format, rust_log.as_deref()).map_err(|e| e.to_string())?
    {
        log::warn!("{w}");
    }
    let config = compiled.config();
    log::info!(
        "hiatus {} starting{}: {}, generation {}, {} tenant(s), {} window(s)",
        super::VERSION,
        if options.upgrade { " (taking over the listeners of a running Hiatus)" } else { "" },
        config_path.display(),
        compiled.generation,
        config.tenants.len(),
        config.windows.len()
    );
    if let Some(file) = &settings.emergency_file {
        // What a `hiatus emergency` killed mid-edit left in the watched folder.
        match crate::control::emergency::remove_leftovers(file) {
            Ok(removed) => {
                removed.iter().for_each(|r| log::info!("removed {}, left by an unfinished edit", r.display()))
            }
            Err(e) => log::warn!("{e}"),
        }
    }
    // In an upgrade the addresses are taken over from the running process, not bound anew.
    let (listen, listen_tls, admin_at) = if options.upgrade {
        (settings.listen.clone(), settings.listen_tls.clone(), settings.admin)
    } else {
        let admin = settings.admin.map(|a| check_listeners(&[a])).transpose()?;
        let tls = check_listeners(&settings.listen_tls)?;
        (check_listeners(&settings.listen)?, tls, admin.and_then(|a| a.first().copied()))
    };
    let grace = settings.grace_period;
    let conf = ServerConf {
        threads: settings.threads,
        work_stealing: WORK_STEALING,
        // Pingora's own wait is whole seconds and always sleeps all of it; `stop_when_drained`
        // ends the process first, as soon as the connections are done. This is only the bound.
        grace_period_seconds: Some(grace.as_secs() + 1 + LAST_WORDS.as_secs() + 1),
        graceful_shutdown_timeout_seconds: Some(1),
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
    let access_log =
        AccessLog::start(&settings.access_log, settings.access_log_format).map_err(|e| format!("access log: {e}"))?;
    // ACME's challenges and issued certificates: the gateway's, the manager's and the admin's.
    let gateway_acme = crate::acme::Acme::new();
    let reloader = Reloader::new(config_path.to_path_buf(), current.clone(), clock.clone(), Some(metrics.clone()));
    // Reloads read new files in a child first: a refused file's parse never costs this process.
    let reloader = Arc::new(match Vetter::this_binary() {
        Ok(vetter) => reloader.vetted_by(vetter),
        Err(e) => {
            log::warn!("config: reloads are read in this process ({e})");
            reloader
        }
    });
    // Cluster mode: etcd's operator document is followed from now on (`cluster`).
    // There the operator API writes to etcd too (`cluster::api`), handed in as a trait object.
    let mut sections: Vec<Arc<dyn crate::control::admin::StateSection>> = Vec::new();
    let mut operator_store: Option<Arc<dyn crate::control::api::store::OperatorStore>> = None;
    if let Some(c) = &reloader.current().load().config().cluster {
        let started = crate::cluster::start(c, config_path, reloader.clone(), settings.state_dir.as_deref())
            .map_err(|e| format!("cluster: {e}"))?;
        crate::cluster::contact::register(&metrics, started.contact.clone()).map_err(|e| format!("metrics: {e}"))?;
        sections.push(started.contact);
        operator_store = Some(started.store);
    }
    let admin = Arc::new(Admin {
        reloader,
        metrics: Some(metrics.clone()),
        clock: clock.clone(),
        token: settings.admin_token.clone(),
        ready: AtomicBool::new(false),
        limits: crate::control::http::Limits::default(),
        acme: Some(gateway_acme.clone()),
        sections,
        idempotency: Default::default(),
        operator_store,
    });
    // The control plane first: it installs the SIGHUP handler before anything can send one.
    crate::control::start(admin.clone()).map_err(|e| format!("control plane: {e}"))?;
    let mut gateway =
        Gateway::new(current.clone(), clock.clone()).with_metrics(metrics.clone()).with_access_log(access_log.clone());
    gateway.acme = gateway_acme.clone();
    crate::acme::manager::start(current.clone(), gateway_acme, clock.clone())?;
    crate::acme::metrics::register(&metrics, current, gateway.acme.clone(), gateway.handshakes.clone())
        .map_err(|e| format!("metrics: {e}"))?;
    crate::control::scrape::register(&metrics, admin.reloader.clone(), clock, Some(gateway.drain.clone()))
        .map_err(|e| format!("metrics: {e}"))?;
    let drain = gateway.drain.clone();
    let app = App::new(gateway, settings.h2c, &listen_tls, &listen).map_err(|e| e.to_string())?;
    let mut proxy = Service::new("Hiatus".to_string(), app);
    // TLS listeners are plain pingora listeners too: the app does the handshake
    // (`gateway::tls`), so the upgrade hands their sockets over like the others.
    for a in listen.iter().chain(&listen_tls) {
        // No read buffer in front of a client's socket: pingora's default is a zeroed 64 KiB one
        // per connection, and both lanes read into buffers of their own, so it only added a
        // copy and 42 KiB of memory per idle keep-alive connection. The small write buffer
        // stays: HTTP/2 writes a response's frames one by one, which it joins into one send.
        let endpoint = ListenerConfig::tcp(a.to_string()).l4_buffer(L4BufferSettings::default().read(0));
        proxy.add_listener(endpoint);
    }
    server.add_service(proxy);
    if let Some(a) = admin_at {
        // A service of its own, on one thread of its own: never on a request runtime's loop.
        let mut service = Service::new("Hiatus admin".to_string(), admin.app());
        service.threads = Some(1);
        service.add_tcp(&a.to_string());
        server.add_service(service);
        // Stdout: the announcement scripts and tests read; the log has its own line.
        println!(
            "hiatus: admin on http://{a} (/metrics /healthz /readyz /state /certificates, POST /reload, /api/v1/)"
        );
        log::info!("admin listener on http://{a}");
    }
    stop_when_drained(server.watch_execution_phase(), drain, grace, access_log);
    announce_when_listening(listen, listen_tls, admin_at, admin);
    server.run_forever()
}

/// Ends the process once a graceful stop (SIGTERM, or the old process of an upgrade after the
/// hand-over) has drained the client connections, or at the end of `grace` after telling the
/// requests still waiting for an upstream to answer 503 (`Drain::wait`). The access log is
/// written out first; a quick stop (SIGINT) is pingora's.
fn stop_when_drained(
    mut phases: tokio::sync::broadcast::Receiver<ExecutionPhase>,
    drain: Arc<Drain>,
    grace: Duration,
    access_log: Option<AccessLog>,
) {
    // Whether a signal asked for a graceful stop: a stop without one is SIGINT's quick stop.
    let mut graceful = false;
    std::thread::spawn(move || loop {
        match phases.blocking_recv() {
            Ok(ExecutionPhase::GracefulTerminate) => {
                graceful = true;
                log::info!("shutdown: SIGTERM, draining the connections");
            }
            Ok(ExecutionPhase::GracefulUpgradeTransferringFds) => {
                graceful = true;
                log::info!("shutdown: SIGQUIT, handing the listeners over to the new process, then draining");
            }
            Ok(ExecutionPhase::ShutdownStarted) => {
                drain.begin();
                if !graceful {
                    log::info!("shutdown: SIGINT, stopping now without draining");
                }
            }
            Ok(ExecutionPhase::ShutdownGracePeriod) => {
                let open = drain.open_connections();
                log::info!("stopping: {open} connection(s) open, grace period {grace:?}");
                let drained = drain.wait(grace);
                if let Some(log) = &access_log {
                    log.flush(Duration::from_secs(2));
                }
                match drained {
                    Drained::Finished => log::info!("stopped: every connection finished"),
                    Drained::Expired { open } => {
                        log::warn!("stopped: grace period over, {open} connection(s) were still open")
                    }
                }
                log::logger().flush();
                std::process::exit(0);
            }
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    });
}

/// Says "listening" (stdout, `/readyz`) only once every listener accepts connections: pingora
/// binds inside `run_forever`, after this function has handed over control. The admin
/// listener, a service of its own that may bind later, is waited for first: whoever reads
/// "listening" may call it at once.
fn announce_when_listening(
    listen: Vec<SocketAddr>,
    listen_tls: Vec<SocketAddr>,
    admin_at: Option<SocketAddr>,
    admin: Arc<Admin>,
) {
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let accepting = |a: &SocketAddr| {
            while std::net::TcpStream::connect_timeout(a, std::time::Duration::from_millis(200)).is_err() {
                if std::time::Instant::now() > deadline {
                    log::error!("{a} is not accepting connections; is the address in use?");
                    return false;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            true
        };
        if admin_at.as_ref().is_some_and(|a| a.port() != 0 && !accepting(a)) {
            return;
        }
        let all = listen.iter().map(|a| ("http", a)).chain(listen_tls.iter().map(|a| ("https", a)));
        for (scheme, a) in all {
            if !accepting(a) {
                return;
            }
            println!("hiatus: listening on {scheme}://{a}");
            log::info!("listening on {scheme}://{a}");
        }
        admin.ready.store(true, std::sync::atomic::Ordering::Relaxed);
    });
}
