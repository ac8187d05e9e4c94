//! `hiatus run --config FILE` and `hiatus demo --config FILE`.

use crate::clock::Clock;
use crate::gateway::server::{self, RunOptions};
use crate::gateway::Compiled;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

fn compile(config: &Path) -> Result<Compiled, ExitCode> {
    let loaded = super::load(config)?;
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
    match server::run(config, compiled, Clock::system(), options) {
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
                    crate::gateway::demo::origin(l).await;
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
    match server::run(config, compiled, Clock::system(), RunOptions::default()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
