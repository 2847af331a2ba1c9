//! The catalog zone (RFC 9432) `serve` publishes when `[server] catalog` names one: after
//! every pass over the store, the member set is read (`SqliteStore::catalog_members`: every
//! published zone not retired) and, when it changed, the zone made from it
//! (`zonegate_server::catalog_zone`) is installed through the same target as every zone, so
//! its snapshot is written, it is swapped in, and its secondaries are NOTIFYed.
//!
//! Its generation is the store's count of member-set changes plus one: it only grows, it moves
//! only when the members change, and every server following the same store gives the same
//! member set the same generation, and so (under the `increment` serial policy) the same
//! serial, again after a restart.

use zonegate_core::Name;
use zonegate_core::gate::{Generation, Target};
use zonegate_store::SqliteStore;

/// Installs the catalog zone `name` into `target` if the store's member set is newer than
/// the one served. Failures are logged; the served catalog stays as it is (I7).
pub(super) async fn refresh(store: &SqliteStore, target: &impl Target, name: &Name) {
    let read = match store.catalog_members().await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(catalog = %name, error = %e, "cannot read the catalog zone's members; still serving the last one");
            return;
        }
    };
    let generation = Generation(read.changes + 1);
    if target.held(name).is_some_and(|held| held >= generation) {
        return;
    }
    let zone = match zonegate_server::catalog_zone(name, generation, &read.members) {
        Ok(z) => z,
        Err(e) => {
            tracing::error!(catalog = %name, error = %e, "cannot make the catalog zone");
            return;
        }
    };
    if target.install(generation, zone).await.is_ok() {
        tracing::info!(catalog = %name, %generation, members = read.members.len(), "serving a new catalog zone");
    }
}
