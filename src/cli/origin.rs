//! The built-in demo origin: a tiny HTTP/1.1 server so the demo needs no other software.
//!
//! It answers every request with a small page that shows what the gateway forwarded (method,
//! path, `X-Forwarded-*`, request id). It is a demo and test aid, not a web server: the HTTP
//! side is the admin listener's (`control::http`).
//!
//! Its sockets are `TCP_NODELAY` (`control::http::serve` sets it): a client that pipelines (the
//! load benchmark's, a test's) has a second answer written while the first is not yet
//! acknowledged, and Nagle would hold that answer back until the client's delayed ACK (40 ms).

use crate::control::http::{serve, Answer, Bounded, Endpoints, Limits};
use pingora::http::RequestHeader;
use std::sync::Arc;
use tokio::net::TcpListener;

/// `hiatus origin --listen ADDR`: the origin alone, until the process is stopped.
pub fn run(listen: std::net::SocketAddr) -> std::process::ExitCode {
    let served = tokio::runtime::Builder::new_current_thread().enable_all().build().and_then(|rt| {
        rt.block_on(async {
            let listener = TcpListener::bind(listen).await?;
            println!("hiatus origin: listening on http://{}", listener.local_addr()?);
            origin(listener).await;
            Ok(())
        })
    });
    match served {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: the origin cannot listen on {listen}: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

/// Accepts connections forever.
pub async fn origin(listener: TcpListener) {
    serve(listener, Arc::new(Bounded::new(Arc::new(DemoOrigin), Limits::default()))).await;
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The page every request gets.
#[derive(Debug)]
struct DemoOrigin;

#[async_trait::async_trait]
impl Endpoints for DemoOrigin {
    async fn answer(&self, head: &RequestHeader, _body: &[u8]) -> Answer {
        let field = |name: &str| head.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
        let rows: String = ["host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-request-id"]
            .iter()
            .map(|h| format!("<tr><th>{h}</th><td>{}</td></tr>", escape(field(h))))
            .collect();
        let body = format!(
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Demo origin</title>\
             <h1>Hello from the demo origin</h1><p><code>{} {}</code></p><table>{rows}</table></html>\n",
            escape(head.method.as_str()),
            escape(&head.uri.to_string())
        );
        let mut answer = Answer::new(200, "text/html; charset=utf-8", body);
        answer.fields.push(("x-demo-origin", "1".to_string()));
        answer
    }
}
