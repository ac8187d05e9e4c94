//! Pages: the HTML the gateway answers with itself (maintenance, errors, unknown hosts).
//!
//! Owns the templates (built into the binary from `pages/`, replaceable per gateway or tenant
//! by a folder of files with the same names), the words (`strings`), and [`Split`]: a page
//! rendered once with markers where per-request values go, cut at the markers, so a request
//! only copies bytes and escapes its own few values (STYLE.md 5). Does not decide *which* page
//! a request gets, nor write responses (that is the gateway).

pub mod mail;
pub mod strings;

use bytes::{Bytes, BytesMut};
use minijinja::{AutoEscape, Environment};
use serde::Serialize;
use std::path::Path;

pub use strings::{cause_words, local_time, strings, Failure, Strings};

/// Template files, built in, each replaceable by a file of the same name in an override folder.
const TEMPLATES: [(&str, &str); 8] = [
    ("base.html", include_str!("../../pages/base.html")),
    ("maintenance.html", include_str!("../../pages/maintenance.html")),
    ("error.html", include_str!("../../pages/error.html")),
    ("unknown-host.html", include_str!("../../pages/unknown-host.html")),
    ("status.html", include_str!("../../pages/status.html")),
    // Notification mails (`notify::letter`): subject, plain text, HTML.
    ("mail-subject.txt", include_str!("../../pages/mail-subject.txt")),
    ("mail.txt", include_str!("../../pages/mail.txt")),
    ("mail.html", include_str!("../../pages/mail.html")),
];

/// Files served under `/.hiatus/` so pages render while the upstream is down.
pub const ASSETS: [(&str, &str, &[u8]); 4] = [
    ("hiatus.css", "text/css; charset=utf-8", include_bytes!("../../pages/assets/hiatus.css")),
    ("status.css", "text/css; charset=utf-8", include_bytes!("../../pages/assets/status.css")),
    // The maintenance page's reload at the expected end (no inline script: the CSP).
    ("reload.js", "text/javascript; charset=utf-8", include_bytes!("../../pages/assets/reload.js")),
    ("logo.svg", "image/svg+xml", include_bytes!("../../pages/assets/logo.svg")),
];

/// Marker for the request id inside a rendered page (control characters survive escaping).
pub const REQUEST_ID: &str = "\u{1}request-id\u{1}";
/// Marker for the requested host.
pub const HOST: &str = "\u{1}host\u{1}";
/// Marker for `:port` of the requested host (empty without one): the status link keeps the
/// port the client reached the gateway on.
pub const PORT: &str = "\u{1}port\u{1}";

/// Why templates could not be loaded or a page rendered: the file or template it names.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("{}: cannot read: {source}", path.display())]
    Read { path: std::path::PathBuf, source: std::io::Error },
    #[error("template {name}: {source}")]
    Compile { name: String, source: minijinja::Error },
    /// The alternate form shows where in the template it went wrong.
    #[error("template {name}: {source:#}")]
    Render { name: String, source: minijinja::Error },
}

/// A set of compiled templates.
#[derive(Debug)]
pub struct Pages {
    env: Environment<'static>,
}

impl Pages {
    /// The built-in templates, with files from `dir` replacing those of the same name.
    pub fn load(dir: Option<&Path>) -> Result<Pages, PageError> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| if name.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
        for (name, builtin) in TEMPLATES {
            let source = match dir.map(|d| d.join(name)).filter(|p| p.is_file()) {
                Some(p) => std::fs::read_to_string(&p).map_err(|source| PageError::Read { path: p, source })?,
                None => builtin.to_string(),
            };
            env.add_template_owned(name, source)
                .map_err(|source| PageError::Compile { name: name.to_string(), source })?;
        }
        Ok(Pages { env })
    }

    pub fn render(&self, name: &str, view: impl Serialize) -> Result<String, PageError> {
        let template =
            self.env.get_template(name).map_err(|source| PageError::Compile { name: name.to_string(), source })?;
        template.render(view).map_err(|source| PageError::Render { name: name.to_string(), source })
    }
}

/// How a per-request value is escaped when it is spliced in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    Html,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    RequestId,
    Host,
    Port,
}

/// A rendered page cut at its markers: `chunks[0] slot[0] chunks[1] … chunks[n]`.
#[derive(Debug, Clone)]
pub struct Split {
    chunks: Vec<Bytes>,
    slots: Vec<Slot>,
    escape: Escape,
    len: usize,
}

impl Split {
    pub fn new(rendered: &str, escape: Escape) -> Split {
        // JSON encoders write the markers' control characters as `\u0001`: turn them back.
        let unescaped;
        let rendered = if escape == Escape::Json && rendered.contains("\\u0001") {
            unescaped = rendered.replace("\\u0001", "\u{1}");
            unescaped.as_str()
        } else {
            rendered
        };
        let mut chunks = Vec::new();
        let mut slots = Vec::new();
        let mut rest = rendered;
        loop {
            let next = [
                (rest.find(REQUEST_ID), Slot::RequestId, REQUEST_ID.len()),
                (rest.find(HOST), Slot::Host, HOST.len()),
                (rest.find(PORT), Slot::Port, PORT.len()),
            ]
            .into_iter()
            .filter_map(|(at, slot, len)| at.map(|a| (a, slot, len)))
            .min_by_key(|(a, _, _)| *a);
            match next {
                Some((at, slot, len)) => {
                    chunks.push(Bytes::copy_from_slice(&rest.as_bytes()[..at]));
                    slots.push(slot);
                    rest = &rest[at + len..];
                }
                None => {
                    chunks.push(Bytes::copy_from_slice(rest.as_bytes()));
                    break;
                }
            }
        }
        let len = chunks.iter().map(Bytes::len).sum();
        Split { chunks, slots, escape, len }
    }

    /// The page with the request's values in place (`host` as the client sent it: the port
    /// slot takes its port). A page without slots costs no copy.
    pub fn fill(&self, request_id: &str, host: &str) -> Bytes {
        if self.slots.is_empty() {
            return self.chunks.first().cloned().unwrap_or_default();
        }
        let mut out = BytesMut::with_capacity(self.len + 64 * self.slots.len());
        for (i, chunk) in self.chunks.iter().enumerate() {
            out.extend_from_slice(chunk);
            if let Some(slot) = self.slots.get(i) {
                let value = match slot {
                    Slot::RequestId => request_id,
                    Slot::Host => host,
                    Slot::Port => match crate::hosts::port_of(host) {
                        Some(port) => {
                            out.extend_from_slice(b":");
                            port
                        }
                        None => "",
                    },
                };
                escape_into(&mut out, value, self.escape);
            }
        }
        out.freeze()
    }
}

fn escape_into(out: &mut BytesMut, value: &str, how: Escape) {
    for c in value.chars() {
        match (how, c) {
            (Escape::Html, '&') => out.extend_from_slice(b"&amp;"),
            (Escape::Html, '<') => out.extend_from_slice(b"&lt;"),
            (Escape::Html, '>') => out.extend_from_slice(b"&gt;"),
            (Escape::Html, '"') => out.extend_from_slice(b"&quot;"),
            (Escape::Html, '\'') => out.extend_from_slice(b"&#39;"),
            (Escape::Json, '"') => out.extend_from_slice(b"\\\""),
            (Escape::Json, '\\') => out.extend_from_slice(b"\\\\"),
            (_, c) if (c as u32) < 0x20 => out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes()),
            (_, c) => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_slot_takes_the_hosts_port_or_nothing() {
        let s = Split::new(&format!("<a href=\"//status.test{PORT}/s/\">"), Escape::Html);
        assert_eq!(&s.fill("r", "shop.test:8080")[..], b"<a href=\"//status.test:8080/s/\">");
        assert_eq!(&s.fill("r", "shop.test")[..], b"<a href=\"//status.test/s/\">");
        assert_eq!(&s.fill("r", "shop.test:8\"><x")[..], b"<a href=\"//status.test/s/\">", "digits only");
    }

    #[test]
    fn split_and_fill_escapes_request_values() {
        let page = format!("<p>{HOST}</p><code>{REQUEST_ID}</code><i>{HOST}</i>");
        let s = Split::new(&page, Escape::Html);
        assert_eq!(
            &s.fill("r1", "<script>x</script>")[..],
            b"<p>&lt;script&gt;x&lt;/script&gt;</p><code>r1</code><i>&lt;script&gt;x&lt;/script&gt;</i>"
        );
        let j = Split::new(&format!("{{\"host\":\"{HOST}\"}}"), Escape::Json);
        assert_eq!(&j.fill("", "a\"b\\")[..], b"{\"host\":\"a\\\"b\\\\\"}");
        let plain = Split::new("static", Escape::Html);
        assert_eq!(&plain.fill("x", "y")[..], b"static");
    }

    #[test]
    fn builtin_templates_render_and_escape() {
        let pages = Pages::load(None).expect("built-in templates compile");
        let view = serde_json::json!({
            "lang": "en", "t": strings(crate::config::Language::En), "tenant": "<b>T</b>", "title": "Update",
            "intro": "x", "until": "Thursday", "refresh_secs": 60, "until_epoch": 5,
        });
        let html = pages.render("maintenance.html", &view).expect("renders");
        assert!(html.contains("&lt;b&gt;T&lt;&#x2f;b&gt;") || html.contains("&lt;b&gt;T&lt;/b&gt;"), "{html}");
        assert!(html.contains("Expected end") && html.contains("Thursday"));
    }
}
