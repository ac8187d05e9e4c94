//! HTTP-01 answers (RFC 8555 §8.3): the key authorization for each pending token, served at
//! `/.well-known/acme-challenge/{token}` on plain listeners before tenant routing,
//! maintenance and HTTPS redirects. The request path reads the map with one `ArcSwap` load;
//! only the ACME manager writes (a new map per change: a handful of tokens at a time).

use arc_swap::ArcSwap;
use bytes::Bytes;
use std::collections::HashMap;

/// Where challenges are asked for.
pub const PREFIX: &str = "/.well-known/acme-challenge/";

/// Pending tokens and their key authorizations.
#[derive(Debug, Default)]
pub struct Challenges {
    map: ArcSwap<HashMap<String, Bytes>>,
}

impl Challenges {
    /// The key authorization for a request's path, when it asks for a pending token. A token
    /// is kept until its order ends: the CA validates several times, from several places.
    pub fn answer(&self, path: &str) -> Option<Bytes> {
        let token = path.strip_prefix(PREFIX)?;
        let map = self.map.load();
        if map.is_empty() {
            return None;
        }
        map.get(token).cloned()
    }

    pub fn insert(&self, token: &str, key_authorization: &str) {
        self.map.rcu(|m| {
            let mut m = HashMap::clone(m);
            m.insert(token.to_string(), Bytes::from(key_authorization.to_string()));
            m
        });
    }

    pub fn remove(&self, token: &str) {
        self.map.rcu(|m| {
            let mut m = HashMap::clone(m);
            m.remove(token);
            m
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pending_tokens_under_the_prefix_are_answered() {
        let c = Challenges::default();
        assert_eq!(c.answer("/.well-known/acme-challenge/t1"), None);
        c.insert("t1", "t1.thumb");
        assert_eq!(c.answer("/.well-known/acme-challenge/t1").as_deref(), Some(&b"t1.thumb"[..]));
        for other in [
            "/.well-known/acme-challenge/t2",
            "/t1",
            "/.well-known/acme-challenge/",
            "/x/.well-known/acme-challenge/t1",
        ] {
            assert_eq!(c.answer(other), None, "{other}");
        }
        c.remove("t1");
        assert_eq!(c.answer("/.well-known/acme-challenge/t1"), None);
    }
}
