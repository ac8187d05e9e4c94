//! The health of upstreams, and the incidents their failures open: the state that the request
//! path reads and the prober (`control::prober`) writes.
//!
//! - `state`: the pure counting (rise/fall); `probe`: one TCP or HTTP probe;
//!   `registry`: the per-upstream state that outlives reloads; `incidents`: the incident log;
//!   `cause`: the public kind of an incident (its detail stays with logs and the admin listener);
//!   `passive`: what proxied requests tell (failures in a row mark an upstream down for a while);
//!   `shared`: the seam through which several gateways keep one set of incidents (cluster mode).
//!
//! Only fixed upstreams are checked: `{n}` templates name one server per host number, known only
//! per request, so tenants with them are never marked unhealthy (validation refuses a `health`
//! table on such a tenant). Nothing here is on the request path except the atomics it reads and,
//! for passive health, the ones a finished exchange writes.
//! This module lies below the snapshot (`compiled`) and knows nothing of it.

pub mod cause;
pub mod incidents;
pub mod passive;
pub mod probe;
pub mod registry;
pub mod shared;
pub mod state;

pub use cause::Cause;
pub use incidents::{Incident, IncidentLog};
pub use passive::Passive;
pub use probe::ProbeError;
pub use registry::{HealthRegistry, TenantHealth, UpstreamHealth};
