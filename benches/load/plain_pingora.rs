//! The baseline for the load benchmark: a plain Pingora 0.9 proxy with no schedule, no pages,
//! no metrics and no header rewriting, on Hiatus's server settings (runtime flavour, allocator).
//! The difference between its rows and Hiatus's in `benches/load/results.md` is what Hiatus's own
//! work (routing, schedule evaluation, forwarding headers, metrics) costs on top of Pingora.
//!
//!   plain-pingora --upstream 127.0.0.1:8080 --listen 127.0.0.1:8000 [--listen …] [--threads 1] [--h2c]

use async_trait::async_trait;
use pingora::proxy::{http_proxy_service, ProxyHttp, Session};
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::Server;
use pingora::upstreams::peer::HttpPeer;

/// The same allocator as the `hiatus` binary (src/main.rs), so the comparison is about the
/// proxies' work, not about malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug)]
struct Plain {
    upstream: std::net::SocketAddr,
}

#[async_trait]
impl ProxyHttp for Plain {
    type CTX = ();
    fn new_ctx(&self) {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> pingora::Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.upstream, false, String::new())))
    }
}

fn main() {
    let mut listen = Vec::new();
    let mut upstream = None;
    let mut threads = 1;
    let mut h2c = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => listen.extend(args.next()),
            "--upstream" => upstream = args.next().and_then(|v| v.parse().ok()),
            "--threads" => threads = args.next().and_then(|v| v.parse().ok()).unwrap_or(1),
            "--h2c" => h2c = true,
            _ => {
                eprintln!("usage: plain-pingora --upstream ADDR --listen ADDR [--listen ADDR] [--threads N] [--h2c]");
                std::process::exit(2);
            }
        }
    }
    let (Some(upstream), false) = (upstream, listen.is_empty()) else {
        eprintln!("plain-pingora: --upstream ADDR and at least one --listen ADDR are required");
        std::process::exit(2);
    };
    let conf = ServerConf { threads, work_stealing: hiatus::gateway::server::WORK_STEALING, ..ServerConf::default() };
    let mut server = Server::new_with_opt_and_conf(Some(Opt::default()), conf);
    server.bootstrap();
    let mut proxy = http_proxy_service(&server.configuration, Plain { upstream });
    if let Some(app) = proxy.app_logic_mut() {
        // h2c next to HTTP/1.1, as Hiatus takes it: pingora tells them apart by the preface.
        let mut options = pingora::apps::HttpServerOptions::default();
        options.h2c = h2c;
        app.server_options = Some(options);
    }
    for a in &listen {
        proxy.add_tcp(a);
    }
    server.add_service(proxy);
    server.run_forever()
}
