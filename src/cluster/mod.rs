//! Several gateways, one runtime state: etcd as the shared store (README "Several gateways
//! (etcd)"). Configuration files stay per node; what operators switch at runtime lives in etcd
//! under `[cluster] prefix` and every node follows it.
//!
//! - `client`: etcd's v3 API over its JSON gateway (range, compare-and-swap txn, watch).
//! - `store`: the operator document (`<prefix>/operator`, the emergency include's text): applied
//!   through the validated reload in revision order, its local copy, the writers' CAS.
//! - `watch`: list, watch from the next revision, resume, re-list after compaction; heartbeat.
//! - `contact`: connected or not, the revision in force: metrics, `/state`, log lines.
//! - `api`: the operator API's store in cluster mode (writes to etcd, answers once applied here).
//! - `incidents`: the incident keeper: one node decides incidents (an etcd lease), every node
//!   shows the records it publishes.
//! - `marks`: delivery marks, so each event reaches each target once whichever node saw it.
//!
//! It never runs on the request path: a request reads the `Compiled` in force whether etcd
//! answers or not.

pub mod api;
pub mod client;
pub mod contact;
pub mod incidents;
pub mod marks;
pub mod store;
pub mod watch;

use crate::config::cluster::ClusterSettings;
use crate::control::reload::Reloader;
use contact::Contact;
use std::path::Path;
use std::sync::Arc;

/// What a started cluster mode hands the rest of the process.
#[derive(Debug)]
pub struct Started {
    /// For metrics and `/state`.
    pub contact: Arc<Contact>,
    /// For the operator API: its writes go to etcd.
    pub store: Arc<api::EtcdStore>,
}

/// Starts following etcd on threads of their own.
/// Returns at once: a node that cannot reach etcd serves its last known state meanwhile.
pub fn start(
    settings: &ClusterSettings,
    main: &Path,
    reloader: Arc<Reloader>,
    state_dir: Option<&Path>,
) -> std::io::Result<Started> {
    let contact = Arc::new(Contact::new(&settings.node));
    // The health registry (and its incident log) outlives every reload: taken once here.
    let registry = reloader.current().load().health.clone();
    let local = state_dir.map(store::LocalCopy::in_dir);
    let applier = Arc::new(store::Applier::new(main.to_path_buf(), reloader, contact.clone(), local));
    if applier.in_force() > 0 {
        log::info!(
            "cluster: serving operator document revision {} (local copy) until etcd answers",
            applier.in_force()
        );
    }
    let client = Arc::new(client::Client::new(settings.endpoints.clone(), settings.timeout));
    let marks = marks::Marks { client: client.clone(), prefix: settings.prefix.clone(), node: settings.node.clone() };
    crate::notify::claims::share(Arc::new(marks));
    let store = Arc::new(api::EtcdStore {
        client: client.clone(),
        prefix: settings.prefix.clone(),
        main: main.to_path_buf(),
        applier: applier.clone(),
        wait: api::IN_FORCE_WAIT,
    });
    let follow = watch::Follow {
        client,
        prefix: settings.prefix.clone(),
        applier,
        contact: contact.clone(),
        retry_max: settings.retry_max,
    };
    let keeper = Arc::new(incidents::EtcdKeeper::new(
        follow.client.clone(),
        &settings.prefix,
        &settings.node,
        contact.clone(),
        settings.retry_max,
    ));
    registry.incidents().share(keeper.clone());
    let beat = follow.clone();
    let records = keeper.clone();
    std::thread::Builder::new().name("hiatus-cluster".into()).spawn(move || follow.run())?;
    std::thread::Builder::new().name("hiatus-cluster-beat".into()).spawn(move || beat.heartbeat())?;
    std::thread::Builder::new().name("hiatus-cluster-keeper".into()).spawn(move || keeper.run())?;
    std::thread::Builder::new().name("hiatus-cluster-incidents".into()).spawn(move || records.follow(registry))?;
    Ok(Started { contact, store })
}
