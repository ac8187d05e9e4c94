//! `hiatus check --config FILE`.

use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path) -> ExitCode {
    let loaded = match super::load(path) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let mut report = crate::config::Report { errors: Vec::new(), warnings: loaded.warnings };
    crate::config::lint::full(&loaded.config, chrono::Utc::now().timestamp(), &mut report);
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    let c = &loaded.config;
    say!(
        "ok: {} ({} tenant(s), {} window(s), {} file(s), {} warning(s))",
        path.display(),
        c.tenants.len(),
        c.windows.len(),
        c.sources.len(),
        report.warnings.len()
    );
    ExitCode::SUCCESS
}
