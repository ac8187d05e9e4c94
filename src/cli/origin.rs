//! The built-in demo origin: a tiny HTTP/1.1 server so the demo needs no other software.
//!
//! It answers every request with a small page that shows what the gateway forwarded (method,
//! path, `X-Forwarded-*`, request id). It is a demo and test aid, not a web server.
//!
//! Its sockets are `TCP_NODELAY`: a client that pipelines (the load benchmark's, a test's)
//! has a second answer written while the first is not yet acknowledged, and Nagle would hold
//! that answer back until the client's delayed ACK (40 ms on Linux).

use crate::control::http::{read_request, respond};
use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream};

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
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = connection(stream).await;
        });
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

async fn connection(stream: TcpStream) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    while let Some(req) = read_request(&mut read).await? {
        let rows: String = ["host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-request-id"]
            .iter()
            .map(|h| format!("<tr><th>{h}</th><td>{}</td></tr>", escape(req.header(h).unwrap_or(""))))
            .collect();
        let body = format!(
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Demo origin</title>\
             <h1>Hello from the demo origin</h1><p><code>{} {}</code></p><table>{rows}</table></html>\n",
            escape(&req.method),
            escape(&req.target)
        );
        let close = req.wants_close();
        respond(&mut write, 200, "text/html; charset=utf-8", &[("x-demo-origin", "1")], body.as_bytes(), close).await?;
        if close {
            break;
        }
    }
    Ok(())
}
