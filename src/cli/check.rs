//! `hiatus check --config FILE [--against RUNNING]`.
//!
//! With `--against`, the file is checked as a gateway running `RUNNING` would reload it: within
//! that configuration's `max_config_size`, and with a warning for every restart-only key that
//! differs (`config::gateway::restart_only_changes`), as the reload's answer would give it.

use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path, against: Option<&Path>) -> ExitCode {
    let running = match against.map(|a| super::load_to_serve(a, None)).transpose() {
        Ok(r) => r,
        Err(code) => {
            eprintln!("(that is the configuration given with --against)");
            return code;
        }
    };
    let loaded = match super::load_to_serve(path, running.as_ref().map(|r| r.config.gateway.max_config_size)) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let mut report = crate::config::Report { errors: Vec::new(), warnings: loaded.warnings };
    crate::config::lint::full(&loaded.config, chrono::Utc::now().timestamp(), &mut report);
    if let Some(running) = &running {
        let name = path.display().to_string();
        for key in crate::config::gateway::restart_only_changes(&running.config.gateway, &loaded.config.gateway) {
            report.warn(&name, "", crate::config::gateway::restart_warning(key));
        }
    }
    // `lint::full` runs after `load`: its warnings are placed in their files here, read again
    // (`load` places its own findings in the texts it read).
    let mut files: Vec<String> =
        report.warnings.iter().filter(|w| w.at.is_none() && !w.path.is_empty()).map(|w| w.file.clone()).collect();
    files.sort();
    files.dedup();
    for file in files {
        if let Ok(text) = std::fs::read_to_string(&file) {
            report.locate(&file, &text);
        }
    }
    let sources: Vec<String> = loaded.config.sources.iter().map(|p| p.display().to_string()).collect();
    report.sort(&sources.iter().map(String::as_str).collect::<Vec<_>>());
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
