//! A small etcd v3 client over etcd's JSON gateway (`POST /v3/kv/range|put|txn|compaction`,
//! `/v3/lease/grant|keepalive`, the streamed `POST /v3/watch`), with the blocking `ureq` the
//! tree already has.
//!
//! Owns the wire: base64 keys and values, int64s written as strings, the endpoint rotation
//! (a request that cannot reach one endpoint tries the next; the one that answered is tried
//! first next time). It does not decide what the keys mean (`store`, `marks`) nor retry
//! (the loops in `watch` do, with backoff).
//!
//! Why not the `etcd-client` crate: it needs `protoc` and a gRPC stack (tonic, prost, 87 crates)
//! at build time for the four calls Hiatus makes; the JSON gateway is part of every etcd 3.4+
//! and measured within a few milliseconds of gRPC on loopback (NOTIFY-API-SCALE-NOTES §5).

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Why a call to etcd did not give an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No endpoint could be reached or answered in time (a partition, every member down).
    #[error("etcd unreachable: {0}")]
    Unreachable(String),
    /// etcd answered with an error (no leader, a request too large, …) or something unreadable.
    #[error("etcd refused: {0}")]
    Refused(String),
    /// A watch's start revision was compacted away: list again, then watch from there.
    #[error("revision {0} compacted")]
    Compacted(i64),
}

/// One key as etcd holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kv {
    pub key: String,
    pub value: String,
    pub mod_revision: i64,
}

/// One change a watch saw: the key's new value, or `None` when it was deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub key: String,
    pub value: Option<String>,
    pub revision: i64,
}

/// The endpoints of one etcd cluster and how long a call may take.
#[derive(Debug)]
pub struct Client {
    endpoints: Vec<String>,
    timeout: Duration,
    /// The endpoint that answered last: tried first.
    preferred: AtomicUsize,
}

impl Client {
    pub fn new(endpoints: Vec<String>, timeout: Duration) -> Client {
        Client { endpoints, timeout, preferred: AtomicUsize::new(0) }
    }

    fn agent(&self, per_read: Option<Duration>) -> ureq::Agent {
        let config = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0);
        let config = match per_read {
            // A watch lasts; only a read that waits too long ends it.
            Some(read) => config.timeout_connect(Some(self.timeout)).timeout_per_read(Some(read)),
            None => config.timeout_global(Some(self.timeout)),
        };
        config.build().into()
    }

    /// POSTs `body` to `path` on the endpoints in turn, from the preferred one; the first answer.
    fn post(
        &self,
        path: &str,
        body: &Value,
        per_read: Option<Duration>,
    ) -> Result<ureq::http::Response<ureq::Body>, Error> {
        let agent = self.agent(per_read);
        let first = self.preferred.load(Ordering::Relaxed);
        let mut last = String::from("no endpoint");
        for i in 0..self.endpoints.len() {
            let at = (first + i) % self.endpoints.len();
            let url = format!("{}{path}", self.endpoints[at]);
            match agent.post(&url).header("Content-Type", "application/json").send(body.to_string().as_bytes()) {
                Ok(r) if r.status().is_success() => {
                    self.preferred.store(at, Ordering::Relaxed);
                    return Ok(r);
                }
                // A member without a leader answers 503-like errors: another may have one.
                Ok(mut r) => {
                    let text = r.body_mut().read_to_string().unwrap_or_default();
                    last = format!("{}: HTTP {}: {}", self.endpoints[at], r.status().as_u16(), message(&text));
                }
                Err(e) => last = format!("{}: {e}", self.endpoints[at]),
            }
        }
        Err(Error::Unreachable(last))
    }

    fn call(&self, path: &str, body: &Value) -> Result<Value, Error> {
        let mut r = self.post(path, body, None)?;
        let text = r.body_mut().read_to_string().map_err(|e| Error::Unreachable(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| Error::Refused(format!("{path}: not JSON: {e}")))
    }

    /// The key, and the store's revision at the read (the revision a watch continues after).
    pub fn get(&self, key: &str) -> Result<(Option<Kv>, i64), Error> {
        let v = self.call("/v3/kv/range", &json!({ "key": encode(key) }))?;
        let kv = v["kvs"].as_array().and_then(|a| a.first()).map(kv).transpose()?;
        Ok((kv, int(&v["header"]["revision"])))
    }

    /// Every key under `prefix` (which ends in `/`), and the store's revision at the read.
    pub fn list(&self, prefix: &str) -> Result<(Vec<Kv>, i64), Error> {
        let body = json!({ "key": encode(prefix), "range_end": encode(&prefix_end(prefix)) });
        let v = self.call("/v3/kv/range", &body)?;
        let kvs = v["kvs"].as_array().into_iter().flatten().map(kv).collect::<Result<_, _>>()?;
        Ok((kvs, int(&v["header"]["revision"])))
    }

    /// Puts `value` at `key` whatever it held; the revision written.
    pub fn put(&self, key: &str, value: &str) -> Result<i64, Error> {
        let v = self.call("/v3/kv/put", &json!({ "key": encode(key), "value": encode(value) }))?;
        Ok(int(&v["header"]["revision"]))
    }

    /// Deletes `key` whatever it held.
    pub fn delete(&self, key: &str) -> Result<(), Error> {
        self.call("/v3/kv/deleterange", &json!({ "key": encode(key) })).map(|_| ())
    }

    /// A new lease of `ttl` seconds: its id.
    pub fn grant(&self, ttl: i64) -> Result<i64, Error> {
        let v = self.call("/v3/lease/grant", &json!({ "TTL": ttl.to_string() }))?;
        match int(&v["ID"]) {
            0 => Err(Error::Refused(format!("lease grant: {}", message(&v.to_string())))),
            id => Ok(id),
        }
    }

    /// Renews `lease`: the seconds it has left, 0 when it has expired (keys under it are gone).
    pub fn keep_alive(&self, lease: i64) -> Result<i64, Error> {
        let v = self.call("/v3/lease/keepalive", &json!({ "ID": lease.to_string() }))?;
        Ok(int(&v["result"]["TTL"]))
    }

    /// Puts `value` at `key` only if its `mod_revision` is still `expected` (0: only if the key
    /// does not exist). `Ok(Some(revision))` when written, `Ok(None)` when another write came first.
    pub fn put_if(&self, key: &str, value: &str, expected: i64) -> Result<Option<i64>, Error> {
        let compare = if expected == 0 {
            json!({ "key": encode(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0" })
        } else {
            json!({ "key": encode(key), "target": "MOD", "result": "EQUAL", "mod_revision": expected.to_string() })
        };
        let body = json!({
            "compare": [compare],
            "success": [{ "request_put": { "key": encode(key), "value": encode(value) } }],
        });
        let v = self.call("/v3/kv/txn", &body)?;
        Ok((v["succeeded"].as_bool() == Some(true)).then(|| int(&v["header"]["revision"])))
    }

    /// Creates `key` with `value` unless it exists: `Ok(None)` when created, else the value
    /// it holds (one txn: nothing can come between the look and the write).
    pub fn create_or_get(&self, key: &str, value: &str) -> Result<Option<String>, Error> {
        self.create_or_get_leased(key, value, 0)
    }

    /// [`Client::create_or_get`], the key bound to `lease` (0: none): it goes when the lease ends.
    pub fn create_or_get_leased(&self, key: &str, value: &str, lease: i64) -> Result<Option<String>, Error> {
        let put = if lease == 0 {
            json!({ "key": encode(key), "value": encode(value) })
        } else {
            json!({ "key": encode(key), "value": encode(value), "lease": lease.to_string() })
        };
        let body = json!({
            "compare": [{ "key": encode(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0" }],
            "success": [{ "request_put": put }],
            "failure": [{ "request_range": { "key": encode(key) } }],
        });
        let v = self.call("/v3/kv/txn", &body)?;
        if v["succeeded"].as_bool() == Some(true) {
            return Ok(None);
        }
        let kvs = &v["responses"][0]["response_range"]["kvs"];
        Ok(Some(kvs.as_array().and_then(|a| a.first()).map(kv).transpose()?.map(|kv| kv.value).unwrap_or_default()))
    }

    /// Compacts the store's history up to `revision` (tests and operators; Hiatus never does).
    pub fn compact(&self, revision: i64) -> Result<(), Error> {
        self.call("/v3/kv/compaction", &json!({ "revision": revision.to_string(), "physical": true })).map(|_| ())
    }

    /// Watches `key` from `from` on; calls `seen` with each change in order until the stream
    /// ends, a read waits longer than `quiet`, or `seen` says stop (`false`). `Ok(())` for an
    /// ordinary end (resume from the last revision seen), `Err(Compacted)` when `from` is gone.
    pub fn watch(&self, key: &str, from: i64, quiet: Duration, seen: impl FnMut(Change) -> bool) -> Result<(), Error> {
        let body = json!({ "create_request": { "key": encode(key), "start_revision": from.to_string() } });
        self.watch_with(body, quiet, seen)
    }

    /// [`Client::watch`] of every key under `prefix` (which ends in `/`).
    pub fn watch_prefix(
        &self,
        prefix: &str,
        from: i64,
        quiet: Duration,
        seen: impl FnMut(Change) -> bool,
    ) -> Result<(), Error> {
        let body = json!({ "create_request": {
            "key": encode(prefix), "range_end": encode(&prefix_end(prefix)), "start_revision": from.to_string()
        } });
        self.watch_with(body, quiet, seen)
    }

    fn watch_with(&self, body: Value, quiet: Duration, mut seen: impl FnMut(Change) -> bool) -> Result<(), Error> {
        let r = self.post("/v3/watch", &body, Some(quiet))?;
        let lines = BufReader::new(r.into_body().into_reader());
        for line in lines.lines() {
            // A read that timed out or a connection that broke: the caller resumes.
            let Ok(line) = line else { return Ok(()) };
            let v: Value = serde_json::from_str(&line).map_err(|e| Error::Refused(format!("watch: not JSON: {e}")))?;
            if let Some(e) = v.get("error") {
                return Err(Error::Refused(message(&e.to_string())));
            }
            let result = &v["result"];
            let compacted = int(&result["compact_revision"]);
            if compacted > 0 {
                return Err(Error::Compacted(compacted));
            }
            if result["canceled"].as_bool() == Some(true) {
                return Err(Error::Refused(format!(
                    "watch canceled: {}",
                    result["cancel_reason"].as_str().unwrap_or("?")
                )));
            }
            for e in result["events"].as_array().into_iter().flatten() {
                let kv = kv(&e["kv"])?;
                let deleted = e["type"].as_str() == Some("DELETE");
                let change = Change { key: kv.key, value: (!deleted).then_some(kv.value), revision: kv.mod_revision };
                if !seen(change) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// The end of the range of keys that start with `prefix`: its last byte plus one (keys here are
/// ASCII, and a prefix ends in `/`, so this stays text).
fn prefix_end(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    if let Some(last) = bytes.last_mut() {
        *last = last.saturating_add(1);
    }
    String::from_utf8(bytes).unwrap_or_else(|_| prefix.to_string())
}

/// etcd's error text out of a JSON error answer, else the text itself (bounded for a log line).
fn message(text: &str) -> String {
    let v: Option<Value> = serde_json::from_str(text).ok();
    let m = v.as_ref().and_then(|v| v["message"].as_str().or(v["error"].as_str())).unwrap_or(text);
    m.chars().take(200).collect()
}

/// An int64 as the JSON gateway writes it (a string), or 0 when absent (proto3 leaves out zeros).
fn int(v: &Value) -> i64 {
    v.as_str().and_then(|s| s.parse().ok()).or_else(|| v.as_i64()).unwrap_or(0)
}

fn kv(v: &Value) -> Result<Kv, Error> {
    let text = |field: &str| -> Result<String, Error> {
        let raw = v[field].as_str().unwrap_or("");
        let bytes = decode(raw).ok_or_else(|| Error::Refused(format!("{field}: not base64")))?;
        String::from_utf8(bytes).map_err(|_| Error::Refused(format!("{field}: not UTF-8")))
    };
    Ok(Kv { key: text("key")?, value: text("value")?, mod_revision: int(&v["mod_revision"]) })
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding, as protobuf's JSON mapping writes `bytes`.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len().div_ceil(3) * 4);
    for chunk in text.as_bytes().chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 (padding optional); `None` for anything else.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text
        .trim_end_matches('=')
        .bytes()
        .map(|c| ALPHABET.iter().position(|&a| a == c).map(|p| p as u8))
        .collect::<Option<_>>()?;
    if digits.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &d)| n | (u32::from(d) << (18 - 6 * i)));
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_matches_the_standard() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("/hiatus/operator", "L2hpYXR1cy9vcGVyYXRvcg=="),
        ];
        for (plain, coded) in cases {
            assert_eq!(encode(plain), coded);
            assert_eq!(decode(coded).as_deref(), Some(plain.as_bytes()));
        }
        let text = "[[windows]]\nid = \"é\"\n";
        assert_eq!(decode(&encode(text)).as_deref(), Some(text.as_bytes()));
        assert_eq!(decode("a"), None);
        assert_eq!(decode("Zm9v!"), None);
    }

    #[test]
    fn a_prefix_range_ends_after_its_last_byte() {
        assert_eq!(prefix_end("/hiatus/incident-log/"), "/hiatus/incident-log0");
        assert_eq!(prefix_end("a"), "b");
    }

    #[test]
    fn int64s_come_as_strings_and_zeros_are_left_out() {
        assert_eq!(int(&json!("42")), 42);
        assert_eq!(int(&json!(7)), 7);
        assert_eq!(int(&Value::Null), 0);
    }

    #[test]
    fn an_unreachable_endpoint_is_an_unreachable_error() {
        // A port nothing listens on: bind one, then let it go.
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port");
        let c = Client::new(vec![format!("http://127.0.0.1:{port}")], Duration::from_millis(500));
        assert!(matches!(c.get("/k"), Err(Error::Unreachable(_))));
    }
}
