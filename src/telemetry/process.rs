//! The process's own figures, read at each scrape under the names every Prometheus client
//! library uses (`process_*`): CPU time, resident and virtual memory, open and allowed file
//! descriptors, threads, start time. Linux only: they come from `/proc/self` and two system
//! calls; elsewhere (or when `/proc` cannot be read) the figures that cannot be read are left
//! out rather than shown as 0.
//!
//! Hand-written over `/proc` rather than the prometheus crate's `process` feature: that pulls
//! in `procfs` and its dependencies for the same few fields. Nothing here runs on the request
//! path.

use super::exposition::{descs, Family};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;

const FAMILIES: [Family; 7] = [
    Family::counter("process_cpu_seconds_total", "User and system CPU time spent, in seconds", &[]),
    Family::gauge("process_resident_memory_bytes", "Resident memory size in bytes", &[]),
    Family::gauge("process_virtual_memory_bytes", "Virtual memory size in bytes", &[]),
    Family::gauge("process_open_fds", "Open file descriptors", &[]),
    Family::gauge("process_max_fds", "The limit of open file descriptors (soft)", &[]),
    Family::gauge("process_threads", "Threads of the process", &[]),
    Family::gauge("process_start_time_seconds", "When the process started, Unix time in seconds", &[]),
];

/// The collector of the `process_*` families.
#[derive(Debug)]
pub struct Process {
    descs: Vec<Desc>,
}

impl Process {
    pub fn new() -> Result<Process, prometheus::Error> {
        Ok(Process { descs: descs(&FAMILIES)? })
    }
}

/// What one look at the process found, each figure when it could be read.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Figures {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<f64>,
    pub virtual_bytes: Option<f64>,
    pub open_fds: Option<f64>,
    pub max_fds: Option<f64>,
    pub threads: Option<f64>,
    pub start_time: Option<f64>,
}

impl Figures {
    /// The process now.
    pub fn now() -> Figures {
        use nix::sys::resource::{getrlimit, getrusage, Resource, UsageWho};
        use nix::unistd::{sysconf, SysconfVar};
        let cpu_seconds = getrusage(UsageWho::RUSAGE_SELF).ok().map(|u| {
            let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            secs(u.user_time()) + secs(u.system_time())
        });
        let sysconf = |v| sysconf(v).ok().flatten().filter(|&n| n > 0).map(|n| n as f64);
        let stat = std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| Stat::parse(&s));
        let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| boot_time(&s));
        let page = sysconf(SysconfVar::PAGE_SIZE);
        let ticks = sysconf(SysconfVar::CLK_TCK);
        Figures {
            cpu_seconds,
            resident_bytes: stat.zip(page).map(|(s, page)| s.rss_pages as f64 * page),
            virtual_bytes: stat.map(|s| s.vsize as f64),
            // The directory's own descriptor, open while it is read, is one of the entries.
            open_fds: std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count().saturating_sub(1) as f64),
            max_fds: getrlimit(Resource::RLIMIT_NOFILE).ok().map(|(soft, _)| soft as f64),
            threads: stat.map(|s| s.threads as f64),
            start_time: stat.zip(boot).zip(ticks).map(|((s, boot), ticks)| boot + s.start_ticks as f64 / ticks),
        }
    }
}

/// The fields of `/proc/self/stat` used here (proc(5)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    threads: u64,
    /// Clock ticks after boot.
    start_ticks: u64,
    vsize: u64,
    rss_pages: u64,
}

impl Stat {
    /// The fields after the command's name, which is in parentheses and may hold spaces and
    /// parentheses itself: they start after its last `)`.
    fn parse(text: &str) -> Option<Stat> {
        let rest = &text[text.rfind(')')? + 1..];
        // Field 3 (state) is the first after the name; proc(5) numbers from 1.
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
        Some(Stat { threads: field(20)?, start_ticks: field(22)?, vsize: field(23)?, rss_pages: field(24)? })
    }
}

/// The boot time (`btime`) of `/proc/stat`, Unix time in seconds.
fn boot_time(text: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse::<u64>().ok()).map(|v| v as f64)
}

impl Collector for Process {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let f = Figures::now();
        let values = [f.cpu_seconds, f.resident_bytes, f.virtual_bytes, f.open_fds, f.max_fds, f.threads, f.start_time];
        FAMILIES
            .iter()
            .zip(values)
            .filter_map(|(family, value)| value.map(|v| family.of(vec![family.sample(&[], v)])))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_the_name_whatever_it_holds() {
        // A name with spaces and parentheses; fields 20, 22, 23 and 24 as 7, 12345, 4096 and 3.
        let mut fields: Vec<String> = (3..=52).map(|n| n.to_string()).collect();
        for (n, v) in [(20, "7"), (22, "12345"), (23, "4096"), (24, "3")] {
            fields[n - 3] = v.to_string();
        }
        let text = format!("4242 (a b) (c)) {}\n", fields.join(" "));
        assert_eq!(Stat::parse(&text), Some(Stat { threads: 7, start_ticks: 12345, vsize: 4096, rss_pages: 3 }));
        assert_eq!(Stat::parse("4242 (cut short) S 1 2"), None);
        assert_eq!(boot_time("cpu 1 2 3\nbtime 1700000000\nprocesses 9\n"), Some(1_700_000_000.0));
    }

    /// This process, as the test runs: sane figures, not just present ones.
    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_sane_figures() {
        let f = Figures::now();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        let start = f.start_time.unwrap_or_default();
        assert!(start > now - 86_400.0 * 365.0 && start <= now + 1.0, "{f:?}");
        assert!(f.resident_bytes.unwrap_or_default() > 1e6, "{f:?}");
        assert!(f.virtual_bytes >= f.resident_bytes, "{f:?}");
        let file = std::fs::File::open("/proc/self/stat");
        let with_one_more = Figures::now().open_fds.unwrap_or_default();
        drop(file);
        assert!(with_one_more >= 4.0 && with_one_more <= f.max_fds.unwrap_or_default(), "{f:?}");
        assert!(f.threads.unwrap_or_default() >= 1.0 && f.cpu_seconds.is_some_and(|c| c > 0.0), "{f:?}");
    }
}
