//! The [`Target`] trait: what serves a published generation (a server's zone set).

use crate::dns::name::Name;
use crate::gate::types::Generation;
use crate::zone::Zone;
use crate::zone::serial::with_serial;

/// Something that serves or holds a published generation: a server's in-memory zone set.
#[allow(async_fn_in_trait)]
pub trait Target {
    /// A stable identifier recorded in the store's targets table.
    fn id(&self) -> &str;

    /// The generation of `zone` this target holds now.
    fn held(&self, zone: &Name) -> Option<Generation>;

    /// Installs `zone` at `generation` atomically. Refuses (returns `Err(held)`) if the target
    /// already holds `generation` or newer: a target never goes back. It serves the zone's own
    /// SOA serial, which [`converge`](crate::gate::converge) sets to the serial stored with the
    /// generation at publish, unless that is not greater (RFC 1982) than the serial it serves
    /// now; then it serves that serial plus one, so its served serial never goes back either.
    async fn install(&self, generation: Generation, zone: Zone) -> Result<(), Generation>;

    /// [`Target::install`] of `zone` as published (its own SOA serial), served with SOA serial
    /// `serial`. A target that keeps what it was given as published can offer it back through
    /// [`Target::held_content`]; the default forgets it.
    async fn install_published(
        &self,
        generation: Generation,
        zone: Zone,
        serial: u32,
    ) -> Result<(), Generation> {
        self.install(generation, with_serial(zone, serial)).await
    }

    /// The generation of `zone` this target holds and its content as published (before the
    /// served serial), if it can give it: the base an incremental read applies the store's
    /// deltas to (see [`converge`](crate::gate::converge)). The default gives none.
    fn held_content(&self, zone: &Name) -> Option<(Generation, Zone)> {
        let _ = zone;
        None
    }
}
