//! The `Target` contract (`zonegate_testkit::target`) against the server's `Catalog`, the
//! same checks `crates/core/tests/target_contract.rs` runs against `MemTarget`.

use zonegate_core::Name;
use zonegate_core::Zone;
use zonegate_core::gate::{Generation, Target};
use zonegate_server::Catalog;
use zonegate_testkit::target::Observed;

/// The catalog as the contract sees it: its `Target` methods, and its served serial and IXFR
/// history through its public accessors. (A local type, so the testkit's trait can be
/// implemented for it.)
struct Served(Catalog);

impl Target for Served {
    fn id(&self) -> &str {
        self.0.id()
    }

    fn held(&self, zone: &Name) -> Option<Generation> {
        self.0.held(zone)
    }

    async fn install(&self, generation: Generation, zone: Zone) -> Result<(), Generation> {
        self.0.install(generation, zone).await
    }
}

impl Observed for Served {
    fn served_serial(&self, zone: &Name) -> Option<u32> {
        self.0.serial(zone)
    }

    fn history_serials(&self, zone: &Name) -> Vec<u32> {
        self.0
            .get(zone)
            .map(|z| z.history_serials())
            .unwrap_or_default()
    }
}

fn fresh() -> Served {
    Served(Catalog::new("contract"))
}

zonegate_testkit::target_contract!(fresh);
