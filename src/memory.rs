//! Handing freed memory back to the system after the big rebuilds (start, reload, horizon).
//!
//! A reload of a 10 000-tenant configuration briefly holds two configurations and the parser's
//! working set; allocators keep such freed memory for reuse, so without a nudge every reload's
//! peak would stay resident. The library has no allocator of its own (and no unsafe code): the
//! binary registers the call its allocator offers (`src/main.rs`), tests register nothing.

use std::sync::OnceLock;

static RELEASE: OnceLock<fn()> = OnceLock::new();

/// Registers the allocator's "return free memory now"; the first registration stays.
pub fn set_release(f: fn()) {
    let _ = RELEASE.set(f);
}

/// Returns freed memory to the system, if the binary said how. Not for the request path: it
/// walks the allocator's free pages.
pub fn release() {
    if let Some(f) = RELEASE.get() {
        f();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    static CALLS: AtomicUsize = AtomicUsize::new(0);

    fn count() {
        CALLS.fetch_add(1, Ordering::Relaxed);
    }

    #[test]
    fn release_calls_what_was_registered_and_only_the_first() {
        super::set_release(count);
        super::set_release(|| panic!("a second registration must not replace the first"));
        let before = CALLS.load(Ordering::Relaxed);
        super::release();
        super::release();
        // At least these two: a test running a reload at the same time may add its own.
        assert!(CALLS.load(Ordering::Relaxed) - before >= 2);
    }
}
