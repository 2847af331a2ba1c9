//! What `watch` knows the servers should answer: each zone's published generation, read from
//! the store every round, and the older generations lagging servers claim. When the store
//! cannot be read, the last state read stays in force (static stability) and the reason is
//! kept for the output and the metrics.

use std::collections::BTreeMap;
use std::sync::Arc;

use zonegate_core::gate::policy::Floor;
use zonegate_core::gate::{self, Generation};
use zonegate_core::lookup::ZoneIndex;
use zonegate_core::watch::{Claim, ClaimedContent, ZoneView};
use zonegate_core::{GateConfig, Name};
use zonegate_store::AnyStore;

/// One zone as last read from the store.
#[derive(Clone)]
pub struct KnownZone {
    pub view: ZoneView,
    pub index: Arc<ZoneIndex>,
    /// The zone's RRset floors, always checked.
    pub floors: Vec<Floor>,
    /// The serial each generation the store still keeps was published with, so a served
    /// serial maps back to the generation it claims whatever the serial policy.
    pub serials: BTreeMap<u32, Generation>,
}

/// Everything read from the store so far.
#[derive(Default)]
pub struct Known {
    pub zones: BTreeMap<Name, KnownZone>,
    /// Older generations that lagging servers claimed: `None` once the store said it no
    /// longer keeps one.
    older: BTreeMap<(Name, Generation), Option<Arc<ZoneIndex>>>,
    /// When the state in force was read (unix seconds).
    pub read_at: Option<u64>,
    /// Why the last read failed, while the state in force is older than this round.
    pub store_error: Option<String>,
}

impl Known {
    /// Reads the published state of `origins` (every published zone when empty). On failure
    /// the state read before stays and the error is kept; the store, if it opened, is
    /// returned for the round's further reads.
    pub async fn refresh(
        &mut self,
        db: &zonegate_store::StoreLocation,
        cfg: &GateConfig,
        origins: &[Name],
        now: u64,
    ) -> Option<AnyStore> {
        match self.read(db, cfg, origins).await {
            Ok((store, zones)) => {
                self.zones = zones;
                self.read_at = Some(now);
                self.store_error = None;
                Some(store)
            }
            Err(e) => {
                self.store_error = Some(e);
                None
            }
        }
    }

    async fn read(
        &self,
        db: &zonegate_store::StoreLocation,
        cfg: &GateConfig,
        origins: &[Name],
    ) -> Result<(AnyStore, BTreeMap<Name, KnownZone>), String> {
        // Opening a missing file would create an empty store: that is not the store.
        if let Some(path) = db.file()
            && !path.is_file()
        {
            return Err(format!("the database {} does not exist", path.display()));
        }
        let store = AnyStore::open(db).await.map_err(|e| e.to_string())?;
        let rows = store.zones().await.map_err(|e| e.to_string())?;
        let mut zones = BTreeMap::new();
        for row in rows {
            let Some(generation) = row.published else {
                continue;
            };
            if !origins.is_empty() && !origins.contains(&row.origin) {
                continue;
            }
            let Some(serial) = row.serial else {
                return Err(format!(
                    "zone {}: the published generation has no serial",
                    row.origin
                ));
            };
            let view = ZoneView {
                published: generation,
                serial,
                published_at: row.published_at,
            };
            let serials = store
                .plans(&row.origin)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter_map(|p| p.serial.map(|s| (s, p.generation)))
                .collect();
            let floors = cfg.policy.for_zone(&row.origin).floors;
            let index = match self.zones.get(&row.origin) {
                Some(k) if k.view.published == generation => k.index.clone(),
                _ => Arc::new(load_published(&store, cfg, &row.origin).await?),
            };
            zones.insert(
                row.origin,
                KnownZone {
                    view,
                    index,
                    floors,
                    serials,
                },
            );
        }
        Ok((store, zones))
    }

    /// Makes sure the content of `generation` of `zone` is at hand (read from `store` if it
    /// is open and the generation was not read before).
    pub async fn fetch_claimed(
        &mut self,
        store: Option<&AnyStore>,
        cfg: &GateConfig,
        zone: &Name,
        generation: Generation,
    ) {
        let key = (zone.clone(), generation);
        if self.older.contains_key(&key)
            || self
                .zones
                .get(zone)
                .is_some_and(|k| k.view.published == generation)
        {
            return;
        }
        let Some(store) = store else {
            return;
        };
        let content = match gate::load_content(store, zone, generation, cfg).await {
            Ok((_, z)) => Some(Arc::new(ZoneIndex::new(z))),
            Err(_) => None,
        };
        self.older.insert(key, content);
    }

    /// The generation of `zone` that was published with `serial`, if the store still keeps it.
    pub fn generation_of(&self, zone: &Name, serial: u32) -> Option<Generation> {
        let k = self.zones.get(zone)?;
        if serial == k.view.serial {
            return Some(k.view.published);
        }
        k.serials.get(&serial).copied()
    }

    /// What a server serving `serial` for `zone` claims: that generation and its content.
    pub fn claim(&self, zone: &Name, serial: u32) -> Claim<'_> {
        match self.generation_of(zone, serial) {
            Some(g) => Claim {
                generation: Some(g),
                content: self.claimed(zone, g),
            },
            None => Claim {
                generation: None,
                content: ClaimedContent::Gone,
            },
        }
    }

    /// The content a server claiming `generation` of `zone` should serve.
    pub fn claimed(&self, zone: &Name, generation: Generation) -> ClaimedContent<'_> {
        if let Some(k) = self
            .zones
            .get(zone)
            .filter(|k| k.view.published == generation)
        {
            return ClaimedContent::Kept(&k.index);
        }
        match self.older.get(&(zone.clone(), generation)) {
            Some(Some(index)) => ClaimedContent::Kept(index),
            _ => ClaimedContent::Gone,
        }
    }
}

async fn load_published(
    store: &AnyStore,
    cfg: &GateConfig,
    origin: &Name,
) -> Result<ZoneIndex, String> {
    match gate::load_published(store, origin, cfg).await {
        Ok(Some((_, Ok(zone)))) => Ok(ZoneIndex::new(zone)),
        Ok(Some((g, Err(e)))) => Err(format!("zone {origin}: generation {g} cannot be read: {e}")),
        Ok(None) => Err(format!("zone {origin}: nothing is published")),
        Err(e) => Err(e.to_string()),
    }
}
