//! The gateway's own work per request, without sockets: the request decision
//! (`gateway::decide::decide`: host normalisation, routing path, verdict, negotiation, bypass)
//! and producing a complete maintenance response (decision + cached page + the response's
//! bytes as the HTTP/1.1 lane writes them), and the HTTP/1.1 request-head parse
//! (`gateway::http1::head::parse`).
//! Budget (issue 3): a maintenance response ≤ 2 µs median.

use arc_swap::ArcSwap;
use criterion::{criterion_group, criterion_main, Criterion};
use hiatus::compiled::Compiled;
use hiatus::gateway::decide::{decide, Action, Request};
use hiatus::gateway::http1::head::{self, Parsed};
use hiatus::gateway::http1::wire;
use hiatus::gateway::respond::{Answer, Marker};
use hiatus::telemetry::Outcome;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const NOW: i64 = 1_780_000_000; // 2026-05-28T20:26:40Z

/// 1 000 tenants on exact hosts plus a 133-host range; half of the exact ones in an emergency.
fn config_text() -> String {
    let mut s = String::from("[defaults]\nzone = \"Europe/Berlin\"\nlanguage = \"de\"\n\n");
    s.push_str("[[tenants]]\nid = \"ppp\"\nhosts = [\"www{310..442}.prozessplattform.de\"]\nupstreams = [\"127.0.0.{n}:8080\"]\n\n");
    for i in 0..1000 {
        s.push_str(&format!(
            "[[tenants]]\nid = \"t{i}\"\nhosts = [\"t{i}.example.com\"]\nupstreams = [\"127.0.0.1:9000\"]\n\n"
        ));
    }
    s.push_str("[[windows]]\nid = \"nightly\"\ndaily = { at = \"00:34\", until = \"00:55\" }\n");
    s.push_str("title = { de = \"Tägliches Routine-Wartungsfenster\", en = \"Daily routine maintenance\" }\n\n");
    let half: Vec<String> = (0..500).map(|i| format!("\"t{}\"", i * 2)).collect();
    s.push_str(&format!(
        "[[windows]]\nid = \"emergency\"\nzone = \"UTC\"\nscope = {{ tenants = [{}] }}\nonce = {{ start = \"2026-05-28T18:00\", end = \"2026-05-28T23:00\" }}\n\
         title = {{ de = \"Notfallwartung\", en = \"Emergency maintenance\" }}\nreason = {{ de = \"Die Datenbank wird wiederhergestellt.\" }}\n",
        half.join(", ")
    ));
    s
}

fn request(host: &str) -> Request<'_> {
    Request {
        host: Some(host),
        path: "/mandant-a/app/index.html",
        accept: Some("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"),
        accept_language: Some("de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7"),
        forwarded_for: &[],
        forwarded_proto: None,
        cookie: Some("session=abc123; theme=dark"),
        peer: Some("203.0.113.7".parse().expect("ip")),
        tls: false,
    }
}

fn benches(c: &mut Criterion) {
    let loaded = hiatus::config::load_str(&config_text(), "bench.toml", Path::new(".")).expect("bench config loads");
    let current = Arc::new(ArcSwap::from_pointee(Compiled::build(loaded.config, NOW, 1).expect("compiles")));
    let mut g = c.benchmark_group("gateway");
    g.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));

    let open = request("T1.Example.com:8080");
    let closed = request("t2.example.com");
    let compiled = current.load_full();
    assert_eq!(decide(&compiled, &open, NOW).action, Action::Proxy { bypass: false });
    assert_eq!(decide(&compiled, &closed, NOW).action, Action::Maintenance);

    g.bench_function("decide_open", |b| b.iter(|| decide(&current.load(), black_box(&open), black_box(NOW))));
    g.bench_function("decide_maintenance", |b| b.iter(|| decide(&current.load(), black_box(&closed), black_box(NOW))));
    g.bench_function("maintenance_response", |b| {
        b.iter(|| {
            // What the HTTP/1.1 lane does for a maintenance answer, up to handing bytes to the socket.
            let compiled = current.load_full();
            let d = decide(&compiled, black_box(&closed), black_box(NOW));
            let (Some(route), Some(verdict)) = (d.route, d.verdict) else { unreachable!("bench config") };
            let tenant = route.tenant.unwrap_or(0);
            let page = hiatus::compiled::pages::maintenance_page(&compiled, tenant, &verdict, d.lang, d.format, NOW)
                .expect("page");
            let body = page.body.fill("0123456789abcdef00", "t2.example.com");
            let mut answer = Answer::page(503, Outcome::Maintenance, Marker::Maintenance, d.format, d.lang, body);
            answer.retry_after = page.retry_after.clone();
            let mut out = Vec::with_capacity(4096);
            wire::answer(&mut out, &answer, (b"0123456789abcdef00", compiled.shown_generation()), None, false, true);
            black_box(out)
        })
    });
    // A browser's request head (about 600 bytes, 11 headers), as the HTTP/1.1 lane reads it.
    let browser = "GET /app/dashboard?tab=2 HTTP/1.1\r\nHost: t2.example.com\r\nUser-Agent: Mozilla/5.0 (X11; \
        Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\nAccept: text/html,application/xhtml+xml,\
        application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: de-DE,de;q=0.8,en-US;q=0.5,en;q=0.3\r\n\
        Accept-Encoding: gzip, deflate, br, zstd\r\nConnection: keep-alive\r\nCookie: session=0123456789abcdef\
        0123456789abcdef; theme=dark\r\nUpgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\n\
        Sec-Fetch-Mode: navigate\r\nPriority: u=0, i\r\n\r\n";
    assert!(matches!(head::parse(browser.as_bytes()), Parsed::Request(_)));
    g.bench_function("request_head_parse", |b| b.iter(|| black_box(head::parse(black_box(browser.as_bytes())))));
    g.finish();
}

criterion_group!(gateway, benches);
criterion_main!(gateway);
