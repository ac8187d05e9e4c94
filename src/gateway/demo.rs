//! The built-in demo origin: a tiny HTTP/1.1 server so the demo needs no other software.
//!
//! It answers every request with a small page that shows what the gateway forwarded (method,
//! path, `X-Forwarded-*`, request id). Keep-alive, bounded header size, no request bodies kept.
//! It is a demo and test aid, not a web server.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Accepts connections forever.
pub async fn origin(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        tokio::spawn(async move {
            let _ = connection(stream).await;
        });
    }
}

async fn connection(stream: TcpStream) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let mut head = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if read.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
            head.push(line.trim_end().to_string());
            if head.len() > 100 {
                return Ok(());
            }
        }
        let request_line = head.first().cloned().unwrap_or_default();
        let header = |name: &str| {
            head.iter().skip(1).find_map(|h| {
                h.split_once(':')
                    .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.trim().to_string())
            })
        };
        if let Some(len) = header("content-length").and_then(|l| l.parse::<u64>().ok()) {
            let mut sink = (&mut read).take(len.min(16 << 20));
            tokio::io::copy(&mut sink, &mut tokio::io::sink()).await?;
        }
        let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let rows: String = ["host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-request-id"]
            .iter()
            .map(|h| format!("<tr><th>{h}</th><td>{}</td></tr>", esc(&header(h).unwrap_or_default())))
            .collect();
        let body = format!(
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Demo origin</title>\
             <h1>Hello from the demo origin</h1><p><code>{}</code></p><table>{rows}</table></html>\n",
            esc(&request_line)
        );
        let close = header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close"));
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nx-demo-origin: 1\r\n{}\r\n{body}",
            body.len(),
            if close { "connection: close\r\n" } else { "" }
        );
        write.write_all(response.as_bytes()).await?;
        if close {
            return Ok(());
        }
    }
}
