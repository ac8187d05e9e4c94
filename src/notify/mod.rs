//! Notifications: telling people when a window is announced, starts or ends, an emergency is
//! switched on or off, or an incident opens or is resolved — through the `[[notify]]` targets.
//!
//! ```text
//!  control::ticker (every tick) ──▶ Notifier::look(compiled, WindowWatch's events as Events, now)
//!     events: window started/ended, emergency on/off (control::windows), announcements
//!     (announce), incidents opened/resolved (a diff of health's IncidentLog)
//!        └─ per matching target: payload::body (e-mail: letter::letters, one per language
//!           group) ──▶ outbox.queue (once per target and id, fsync'd) ──▶ the target's worker
//!           thread (deliver::run): POST or SMTP (smtp::send), retry, give up
//!  /metrics ──▶ metrics::NotifyCollector reads each target's counters (atomics, through the
//!           `Board` the notifier publishes): a scrape never waits for a delivery
//! ```
//!
//! Where it sits: above `compiled` and `health` (it reads the configuration in force and the
//! incident log), below `control`, which drives it from the ticker. It never runs on the request
//! path and the request path never waits for it. It does not render pages or decide requests.
//!
//! Events whose moment passed while the gateway was down: a window still in force is said to
//! have started (late, once); one that also ended meanwhile is not told; incidents are looked
//! for [`CATCH_UP_SECS`] back at start.

pub mod announce;
pub mod claims;
pub mod deliver;
pub mod event;
pub mod letter;
pub mod metrics;
pub mod operator;
pub mod outbox;
pub mod payload;
pub mod smtp;

use crate::compiled::Compiled;
use crate::config::notify::{EventKind, NotifyTarget, TargetKind};
use crate::schedule::UnixTime;
use arc_swap::ArcSwap;
use deliver::{Message, TargetStats};
use event::{Event, Subject};
use outbox::Outbox;
use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::Arc;

/// How far back incidents are looked for at the first look.
pub const CATCH_UP_SECS: i64 = 3600;

#[derive(Debug)]
struct Worker {
    target: Arc<ArcSwap<NotifyTarget>>,
    inbox: Sender<Message>,
    stats: Arc<TargetStats>,
}

/// The notifications' state: outbox, workers, what was seen. Owned by the ticker's task.
#[derive(Debug)]
pub struct Notifier {
    outbox: Arc<Outbox>,
    workers: HashMap<String, Worker>,
    generation: Option<u64>,
    announcer: announce::Announcer,
    /// Incidents by id with their end, as at the last look; `None`: not looked yet.
    incidents: Option<HashMap<String, Option<i64>>>,
    incidents_version: u64,
    /// Each target's counters, published for the metrics' collector.
    board: metrics::Board,
    /// Incidents posted by operators.
    operator: operator::OperatorIncidents,
}

/// One target's counters at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    pub target: String,
    pub sent: u64,
    pub failed: u64,
    pub dropped: u64,
    pub queued: u64,
    pub oldest_queued_age_secs: i64,
}

impl Notifier {
    /// With `state_dir`, the outbox is read back (what waits is delivered) and kept there.
    pub fn open(state_dir: Option<&Path>) -> Result<Notifier, String> {
        Notifier::open_with(state_dir, metrics::Board::default())
    }

    /// As [`Notifier::open`], publishing the targets' counters on `board` (`/metrics`).
    pub fn open_with(state_dir: Option<&Path>, board: metrics::Board) -> Result<Notifier, String> {
        let outbox = match state_dir {
            Some(dir) => Outbox::open(dir, deliver::now_ms())?,
            None => Outbox::in_memory(),
        };
        Ok(Notifier {
            outbox: Arc::new(outbox),
            workers: HashMap::new(),
            generation: None,
            announcer: announce::Announcer::default(),
            incidents: None,
            incidents_version: u64::MAX,
            board,
            operator: operator::OperatorIncidents::default(),
        })
    }

    /// Each target's counters (for the metrics endpoint: see README, "Notifications").
    pub fn counts(&self) -> Vec<Counts> {
        let now = deliver::now_ms();
        let mut out: Vec<Counts> = self
            .workers
            .iter()
            .map(|(id, w)| {
                let s = &w.stats;
                let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
                Counts {
                    target: id.clone(),
                    sent: load(&s.sent),
                    failed: load(&s.failed),
                    dropped: load(&s.dropped),
                    queued: load(&s.queued),
                    oldest_queued_age_secs: s.oldest_age_secs(now),
                }
            })
            .collect();
        out.sort_by(|a, b| a.target.cmp(&b.target));
        out
    }

    /// One look: the events since the last one, queued for each target that wants them.
    pub fn look(&mut self, compiled: &Compiled, window_events: Vec<Event>, now: UnixTime) {
        let config = compiled.config();
        if self.generation != Some(compiled.generation) {
            self.generation = Some(compiled.generation);
            self.reconcile(&config.notify);
        }
        if self.workers.is_empty() {
            return;
        }
        let mut events = window_events;
        let mut leads: Vec<i64> = config
            .notify
            .iter()
            .filter(|t| t.events.contains(&EventKind::WindowAnnounced))
            .flat_map(|t| t.announce.iter().copied())
            .collect();
        leads.sort_unstable();
        leads.dedup();
        events.extend(self.announcer.look(config, compiled.generation, &leads, now));
        events.extend(self.incident_events(compiled, now));
        events.extend(self.operator.look(config, compiled.generation, now));
        let claims = claims::shared();
        for e in &events {
            for t in &config.notify {
                if !wants(t, e) {
                    continue;
                }
                // Cluster mode: another node may send this one (`claims`).
                if claims.as_ref().is_some_and(|c| !c.claim(&t.id, e)) {
                    continue;
                }
                let Some(worker) = self.workers.get(&t.id) else { continue };
                let bodies = match t.kind {
                    // Made before asking the outbox, which drops an id it knows: a letter's
                    // `Date` is fixed when first queued, so a repeat is never re-rendered.
                    TargetKind::Email => letter::letters(compiled, t, e, deliver::now_ms()),
                    _ => payload::body(config, t, e).map(|b| (e.id.clone(), b)).into_iter().collect(),
                };
                for (id, body) in bodies {
                    if let Some(p) = self.outbox.queue(&t.id, &id, e.kind.name(), body, deliver::now_ms()) {
                        let _ = worker.inbox.send(Message::Deliver(p));
                    }
                }
            }
        }
    }

    /// Workers for the targets of a new configuration: new ones start, changed ones take the
    /// new settings, removed ones stop (what waits for them stays in the outbox).
    fn reconcile(&mut self, targets: &[NotifyTarget]) {
        self.workers.retain(|id, _| targets.iter().any(|t| &t.id == id));
        for t in targets {
            if let Some(w) = self.workers.get(&t.id) {
                w.target.store(Arc::new(t.clone()));
                continue;
            }
            let target = Arc::new(ArcSwap::from_pointee(t.clone()));
            let stats = Arc::new(TargetStats::default());
            let (inbox, rx) = std::sync::mpsc::channel();
            let (tt, ob, st) = (target.clone(), self.outbox.clone(), stats.clone());
            // Read here, not in the thread: `look` queues right after this returns.
            let waiting = self.outbox.pending_for(&t.id);
            let spawned = std::thread::Builder::new()
                .name(format!("hiatus-notify-{}", t.id))
                .spawn(move || deliver::run(tt, waiting, rx, ob, st));
            match spawned {
                Ok(_) => {
                    self.workers.insert(t.id.clone(), Worker { target, inbox, stats });
                }
                Err(e) => log::error!("notify: target {}: cannot start its thread: {e}", t.id),
            }
        }
        self.board.publish(self.workers.iter().map(|(id, w)| (id.clone(), w.stats.clone())).collect());
    }

    /// Incidents opened or resolved since the last look (one atomic load when nothing changed).
    fn incident_events(&mut self, compiled: &Compiled, now: UnixTime) -> Vec<Event> {
        let log = compiled.health.incidents();
        let version = log.version();
        if self.incidents.is_some() && version == self.incidents_version {
            return Vec::new();
        }
        self.incidents_version = version;
        let first = self.incidents.is_none();
        let seen = self.incidents.get_or_insert_with(HashMap::new);
        let mut out = Vec::new();
        let since = if first { now - CATCH_UP_SECS } else { now - 7 * 86_400 };
        let mut recent = log.recent(since);
        recent.reverse();
        for i in recent {
            let before = seen.get(&i.id).copied();
            let subject = || Subject::Incident {
                id: i.id.clone(),
                tenant: i.tenant.clone(),
                cause: i.cause,
                start: i.start,
                end: i.end,
            };
            if before.is_none() && (!first || i.start >= since) {
                out.push(Event::new(EventKind::IncidentOpened, i.start, subject()));
            }
            if let (Some(end), None | Some(None)) = (i.end, before) {
                out.push(Event::new(EventKind::IncidentResolved, end, subject()));
            }
            seen.insert(i.id.clone(), i.end);
        }
        out
    }
}

fn wants(t: &NotifyTarget, e: &Event) -> bool {
    if !t.events.contains(&e.kind) || e.severity() < t.min_severity {
        return false;
    }
    match &e.subject {
        Subject::Window { lead: Some(lead), .. } => t.announce.contains(lead),
        _ => true,
    }
}
