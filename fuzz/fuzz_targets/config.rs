//! The configuration loader, `hiatus::config::load_str`, and the section-by-section TOML parse
//! that big files take (`hiatus::config::sections`), on arbitrary text; a configuration that
//! loads is also linted in full and compiled into the engine's snapshot, as `hiatus check` and a
//! reload do.
//!
//! Includes are resolved against the repository's `config/` folder, so the shipped files'
//! `include = ["prozessplattform.d/*.toml"]` works; an input whose `include` could leave that
//! folder (an absolute path, `..`) is not loaded: reading `/proc/kmsg` blocks for ever, and a
//! file outside the repository makes the run depend on the machine.
//!
//! Beyond no panic and no hang, for every input:
//! - when the section-by-section parse gives a table, it is the whole-document parse's table
//!   (the module's claim: it never changes what a file means, only the memory it takes);
//! - a refused configuration has at least one error, and one that loads has none.
#![no_main]

use hiatus::config::{lint, load_str, sections, Report};
use hiatus::engine::{BuildOptions, Snapshot};
use libfuzzer_sys::fuzz_target;
use std::path::{Component, Path};

/// A fixed "now", so that an input behaves the same in every run (2025-03-30, a DST change).
const NOW: i64 = 1_743_300_000;

/// Whether every `include` pattern stays inside the base folder.
fn includes_stay_inside(table: &toml::Table) -> bool {
    let Some(toml::Value::Array(items)) = table.get("include") else { return true };
    items.iter().filter_map(toml::Value::as_str).all(|p| {
        let path = Path::new(p);
        !p.contains('\0') && path.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let whole = text.parse::<toml::Table>();
    if let Some(table) = sections::parse_sections(text) {
        // Debug, not `==`: a `nan` is never equal to itself.
        let whole = whole.as_ref().map(|t| format!("{t:?}"));
        assert_eq!(Ok(format!("{table:?}")), whole, "the section-by-section parse differs");
    }
    if whole.as_ref().is_ok_and(|t| !includes_stay_inside(t)) {
        return;
    }
    let base = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../config"));
    match load_str(text, "fuzz.toml", base) {
        Err(report) => assert!(report.has_errors(), "refused without an error"),
        Ok(loaded) => {
            let mut report = Report { errors: Vec::new(), warnings: loaded.warnings };
            lint::full(&loaded.config, NOW, &mut report);
            assert!(!report.has_errors(), "a loaded configuration with errors: {:?}", report.errors);
            Snapshot::build(loaded.config, BuildOptions::around(NOW));
        }
    }
});
