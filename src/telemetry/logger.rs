//! The process's logger: what the library and pingora say through the `log` facade, one line
//! per event on stderr, as text or as JSON lines (`[gateway] log_format`).
//!
//! Owns the level filter (`[gateway] log_level`, replaced as a whole by `RUST_LOG` when that is
//! set: `info`, `hiatus=debug,pingora=warn`, longest target prefix wins), the two line formats
//! and [`install`]. The library only calls `log::info!` and friends; the binary installs this
//! once it has read its configuration (`cli::run`), so `check`, `explain` and the other
//! commands print what they print and nothing else.
//!
//! It does not decide what is worth a line (the modules that log do) nor keep anything secret
//! out of one: messages are written as they are given, with control characters escaped so that
//! a line is always one line.

use crate::config::gateway::{log_level as level_of, LogFormat};
use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;
use std::sync::Mutex;

/// Which levels are written, per target prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// For targets no directive names.
    default: LevelFilter,
    /// `(target prefix, level)`, longest prefix first.
    targets: Vec<(String, LevelFilter)>,
}

/// This crate's targets: `log`'s default target is the module path.
const OURS: &str = "hiatus";

impl Filter {
    /// The filter of `[gateway] log_level`: that level for Hiatus; other crates (pingora) say
    /// at most warnings unless the level asks for fewer, since their `info` lines ("Bootstrap
    /// starting", one per service start) repeat what Hiatus logs itself.
    pub fn configured(level: LevelFilter) -> Filter {
        Filter { default: level.min(LevelFilter::Warn), targets: vec![(OURS.to_string(), level)] }
    }

    /// `RUST_LOG`'s syntax, a subset of env_logger's: comma-separated `LEVEL` or
    /// `TARGET=LEVEL`. A bare level is the default of every target not named.
    pub fn parse(spec: &str) -> Result<Filter, FilterError> {
        let mut filter = Filter { default: LevelFilter::Error, targets: Vec::new() };
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some((target, level)) => {
                    let level = level_of(level).map_err(|why| FilterError { part: part.to_string(), why })?;
                    filter.targets.push((target.trim().to_string(), level));
                }
                None => match level_of(part) {
                    Ok(level) => filter.default = level,
                    // A bare target means all of its levels, as env_logger reads it.
                    Err(_) => filter.targets.push((part.to_string(), LevelFilter::Trace)),
                },
            }
        }
        filter.targets.sort_by_key(|t| std::cmp::Reverse(t.0.len()));
        Ok(filter)
    }

    /// The level in force for `target`.
    fn level_of(&self, target: &str) -> LevelFilter {
        let covers =
            |prefix: &str| target.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with("::"));
        self.targets.iter().find(|(p, _)| covers(p)).map_or(self.default, |(_, l)| *l)
    }

    pub fn enabled(&self, target: &str, level: Level) -> bool {
        level <= self.level_of(target)
    }

    /// The most verbose level any target gets: `log::set_max_level`, so that a disabled
    /// `debug!` costs one comparison and formats nothing.
    pub fn max(&self) -> LevelFilter {
        self.targets.iter().map(|(_, l)| *l).fold(self.default, std::cmp::Ord::max)
    }
}

/// One event as a line (without its newline): `TIME LEVEL TARGET: MESSAGE` or a JSON object
/// with `time`, `level`, `target` and `message`.
pub fn line(
    format: LogFormat,
    time: chrono::DateTime<chrono::Utc>,
    level: Level,
    target: &str,
    message: &str,
) -> String {
    let time = time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    match format {
        LogFormat::Text => {
            let mut out = format!("{time} {:<5} {target}: ", level.as_str());
            one_line(&mut out, message);
            out
        }
        LogFormat::Json => serde_json::json!({
            "time": time,
            "level": level.as_str().to_ascii_lowercase(),
            "target": target,
            "message": message,
        })
        .to_string(),
    }
}

/// `message` with its control characters escaped: an event is one line even when an error
/// text carries a newline (a TOML parse error does).
fn one_line(out: &mut String, message: &str) {
    for c in message.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push('\t'),
            c if c.is_control() => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
}

/// The logger: a filter, a format and where lines go (stderr, or a test's buffer).
pub struct Logger {
    filter: Filter,
    format: LogFormat,
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for Logger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logger").field("filter", &self.filter).field("format", &self.format).finish()
    }
}

impl Logger {
    pub fn new(filter: Filter, format: LogFormat, out: Box<dyn Write + Send>) -> Logger {
        Logger { filter, format, out: Mutex::new(out) }
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.filter.enabled(metadata.target(), metadata.level())
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let message = record.args().to_string();
        let mut text = line(self.format, chrono::Utc::now(), record.level(), record.target(), &message);
        text.push('\n');
        // One write per line: lines of several threads never interleave.
        let mut out = self.out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = out.write_all(text.as_bytes());
    }

    fn flush(&self) {
        let _ = self.out.lock().unwrap_or_else(std::sync::PoisonError::into_inner).flush();
    }
}

/// A `RUST_LOG` part whose level is not one (the words are the configuration's own).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{why}")]
pub struct FilterError {
    pub part: String,
    pub why: String,
}

/// A logger was installed already (`log` allows one per process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("logger: a logger is installed already")]
pub struct InstallError;

/// Installs the process's logger, to stderr: `level` and `format` from `[gateway]`, with
/// `rust_log` (the environment's `RUST_LOG`, when set and not empty) replacing the level.
/// Returns a warning to show when `RUST_LOG` could not be read; an error when a logger was
/// installed already.
pub fn install(level: LevelFilter, format: LogFormat, rust_log: Option<&str>) -> Result<Option<String>, InstallError> {
    let (filter, warning) = match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        None => (Filter::configured(level), None),
        Some(spec) => match Filter::parse(spec) {
            Ok(f) => (f, None),
            Err(e) => (Filter::configured(level), Some(format!("RUST_LOG ignored: {e}"))),
        },
    };
    let max = filter.max();
    // Leaked on purpose: the logger lives as long as the process (`log` wants it `'static`).
    let logger: &'static Logger = Box::leak(Box::new(Logger::new(filter, format, Box::new(std::io::stderr()))));
    log::set_logger(logger).map_err(|_| InstallError)?;
    log::set_max_level(max);
    Ok(warning)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn filters_by_longest_target_prefix() {
        let f = Filter::parse("warn, hiatus=info, hiatus::gateway=debug, pingora_core=off").expect("parses");
        let cases = [
            ("hiatus::control::reload", Level::Info, true),
            ("hiatus::control::reload", Level::Debug, false),
            ("hiatus::gateway::core", Level::Debug, true),
            ("hiatus_other", Level::Info, false),
            ("pingora_core::server", Level::Error, false),
            ("pingora_proxy", Level::Warn, true),
            ("pingora_proxy", Level::Info, false),
        ];
        for (target, level, on) in cases {
            assert_eq!(f.enabled(target, level), on, "{target} {level}");
        }
        assert_eq!(f.max(), LevelFilter::Debug);
        assert!(Filter::parse("hiatus=loud").is_err());
        assert_eq!(Filter::parse("debug").map(|f| f.max()), Ok(LevelFilter::Debug));
    }

    #[test]
    fn the_configured_level_is_ours_and_other_crates_say_warnings_at_most() {
        let f = Filter::configured(LevelFilter::Info);
        assert!(f.enabled("hiatus::cli::run", Level::Info));
        assert!(!f.enabled("pingora_core::server", Level::Info));
        assert!(f.enabled("pingora_core::server", Level::Warn));
        let quiet = Filter::configured(LevelFilter::Error);
        assert!(!quiet.enabled("pingora_core::server", Level::Warn));
        assert!(!quiet.enabled("hiatus::x", Level::Warn));
        assert_eq!(Filter::configured(LevelFilter::Off).max(), LevelFilter::Off);
    }

    #[test]
    fn a_line_is_one_line_in_either_format() {
        let t = chrono::DateTime::from_timestamp(1_740_820_542, 123_000_000).expect("time");
        let msg = "refused: a.toml: line 3\n  | secret\"x";
        let text = line(LogFormat::Text, t, Level::Warn, "hiatus::control::reload", msg);
        assert_eq!(
            text,
            "2025-03-01T09:15:42.123Z WARN  hiatus::control::reload: refused: a.toml: line 3\\n  | secret\"x"
        );
        let json = line(LogFormat::Json, t, Level::Info, "hiatus::cli::run", msg);
        assert!(!json.contains('\n'), "{json}");
        let v: serde_json::Value = serde_json::from_str(&json).expect("a JSON object");
        assert_eq!(v["time"], "2025-03-01T09:15:42.123Z");
        assert_eq!(v["level"], "info");
        assert_eq!(v["target"], "hiatus::cli::run");
        assert_eq!(v["message"], msg);
    }

    /// A test's stand-in for stderr.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::ErrorKind::Other)?.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_logger_writes_what_its_filter_lets_through() {
        let buf = Buffer::default();
        let logger = Logger::new(Filter::configured(LevelFilter::Info), LogFormat::Json, Box::new(buf.clone()));
        let record = |level, target, text| {
            logger.log(&Record::builder().level(level).target(target).args(format_args!("{text}")).build());
        };
        record(Level::Info, "hiatus::control::reload", "config: generation 2 in force");
        record(Level::Debug, "hiatus::gateway", "not written");
        record(Level::Info, "pingora_core::server", "Bootstrap starting");
        record(Level::Warn, "pingora_core::server", "written");
        let out = String::from_utf8(buf.0.lock().map(|b| b.clone()).unwrap_or_default()).unwrap_or_default();
        let messages: Vec<String> = out
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).map(|v| v["message"].to_string()).unwrap_or_default())
            .collect();
        assert_eq!(messages, ["\"config: generation 2 in force\"", "\"written\""], "{out}");
    }
}
