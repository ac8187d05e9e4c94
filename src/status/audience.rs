//! Who the status page and its feeds may speak of: tenants with `public = true` (the default),
//! and the windows that apply to them.
//!
//! Owns [`Audience`] (built once per rendering from the configuration) and the rule: a tenant
//! with `public = false` is not named, and a window is shown unless what it names is only such
//! tenants. A window that applies to a hidden tenant and to public ones is shown for the public
//! ones only: its `affects` names public tenants (by their public name), and host patterns
//! unless they meet a hidden tenant's hosts and no public tenant's. A scope of `"all"` names
//! nobody and is always shown. Serving and rendering are elsewhere (`gateway::statuspage`,
//! the renderings in `status`).

use crate::config::{Config, Scope, Tenant, Window};
use crate::hosts::{HostPattern, PatternKind};
use std::collections::HashMap;

/// Whether two host patterns can name the same host.
pub fn patterns_meet(a: &HostPattern, b: &HostPattern) -> bool {
    match (a.kind(), b.kind()) {
        (
            PatternKind::Range { prefix: p1, lo: l1, hi: h1, suffix: s1 },
            PatternKind::Range { prefix: p2, lo: l2, hi: h2, suffix: s2 },
        ) => p1 == p2 && s1 == s2 && l1 <= h2 && l2 <= h1,
        (PatternKind::Exact(h), _) => b.matches(h),
        (_, PatternKind::Exact(h)) => a.matches(h),
        _ => a.matches(&b.to_string()) || b.matches(&a.to_string()),
    }
}

/// Whether window `w` applies to tenant `t`: by its id, or by a host pattern that can name one
/// of the tenant's hosts.
pub fn applies(w: &Window, t: &Tenant) -> bool {
    match &w.scope {
        Scope::All => true,
        Scope::Some { tenants, hosts } => {
            tenants.contains(&t.id) || hosts.iter().any(|p| t.hosts.iter().any(|h| patterns_meet(p, h)))
        }
    }
}

/// The tenants of one configuration as the public sees them.
#[derive(Debug)]
pub struct Audience<'c> {
    by_id: HashMap<&'c str, &'c Tenant>,
    public: Vec<&'c Tenant>,
    /// Usually empty: then nothing needs hiding and no host pattern is compared.
    hidden: Vec<&'c Tenant>,
}

impl<'c> Audience<'c> {
    pub fn new(config: &'c Config) -> Audience<'c> {
        let by_id = config.tenants.iter().map(|t| (t.id.as_str(), t)).collect();
        let (public, hidden) = config.tenants.iter().partition(|t| t.public);
        Audience { by_id, public, hidden }
    }

    /// The public tenant with this id; `None` for a hidden one and for an id no tenant has any
    /// more (an old incident's: whether it may be named is not known).
    pub fn public(&self, id: &str) -> Option<&'c Tenant> {
        self.by_id.get(id).copied().filter(|t| t.public)
    }

    /// Whether a host pattern may be shown: it names no hidden tenant's host, or also a public
    /// tenant's (then it does not single the hidden one out).
    fn may_show(&self, pattern: &HostPattern) -> bool {
        let meets = |t: &&Tenant| t.hosts.iter().any(|h| patterns_meet(pattern, h));
        !self.hidden.iter().any(meets) || self.public.iter().any(meets)
    }

    /// Who `w` affects, in words (`"*"`: everyone): public names and host patterns; `None` when
    /// the window is not shown at all (it names only hidden tenants).
    pub fn affects(&self, w: &Window) -> Option<String> {
        match &w.scope {
            Scope::All => Some("*".to_string()),
            Scope::Some { tenants, hosts } => {
                let names = tenants.iter().filter_map(|id| self.public(id)).map(|t| t.display_name().to_string());
                let patterns = hosts.iter().filter(|p| self.may_show(p)).map(|p| p.to_string());
                let shown: Vec<String> = names.chain(patterns).collect();
                (!shown.is_empty()).then(|| shown.join(", "))
            }
        }
    }
}
