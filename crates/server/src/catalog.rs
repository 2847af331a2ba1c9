//! The served zone set and its atomic replacement.
//!
//! # Design
//!
//! The whole zone set is one immutable map behind an [`ArcSwap`]. A query loads the pointer
//! once, takes the [`ServedZone`] it needs (an `Arc`), and answers from it alone, so a response
//! is wholly from one generation. Installing a generation builds the new [`ServedZone`] (the
//! lookup index and every record already converted to hickory's form) before taking any lock,
//! then, under a mutex that only installers take, checks the held generation and swaps in a
//! copy of the map with the new zone: the "is it newer" check and the write are one step
//! (invariant I1). Queries never take that mutex.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{Name as HName, RData, Record as HRecord, RecordType};
use hickory_proto::serialize::binary::{
    BinDecoder, BinEncodable, BinEncoder, NameEncoding, Restrict,
};
use zonegate_core::lookup::ZoneIndex;
use zonegate_core::protocol::{Generation, Target};
use zonegate_core::{Name, Record, Zone};

/// One zone at one generation, ready to answer from.
pub struct ServedZone {
    generation: Generation,
    index: ZoneIndex,
    /// `index.records()` in hickory's form, same order.
    records: Vec<HRecord>,
    /// `index.negative_soa()` in hickory's form.
    negative_soa: Option<HRecord>,
}

impl std::fmt::Debug for ServedZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ServedZone({} at {})",
            self.index.origin(),
            self.generation
        )
    }
}

impl ServedZone {
    /// Indexes `zone` and converts its records. This is the expensive part of an install.
    pub fn new(generation: Generation, zone: Zone) -> Self {
        let index = ZoneIndex::new(zone);
        let records = index.records().iter().map(to_hickory).collect();
        let negative_soa = index.negative_soa().map(to_hickory);
        ServedZone {
            generation,
            index,
            records,
            negative_soa,
        }
    }

    pub fn generation(&self) -> Generation {
        self.generation
    }

    pub fn origin(&self) -> &Name {
        self.index.origin()
    }

    pub fn index(&self) -> &ZoneIndex {
        &self.index
    }

    /// The hickory form of `index().records()[i]`.
    pub(crate) fn hickory_record(&self, i: usize) -> &HRecord {
        &self.records[i]
    }

    pub(crate) fn hickory_negative_soa(&self) -> Option<&HRecord> {
        self.negative_soa.as_ref()
    }
}

/// A core name as a hickory name. Core names are valid wire names, so this cannot fail.
pub(crate) fn to_hickory_name(name: &Name) -> HName {
    HName::from_labels(name.labels()).expect("a core name is a valid wire name")
}

/// A core record as a hickory record. The rdata is decoded with hickory's decoder so that
/// names in it can be compressed on the wire; rdata that hickory's decoder does not accept is
/// carried as opaque bytes (RFC 3597), which is always a correct encoding.
pub(crate) fn to_hickory(record: &Record) -> HRecord {
    let rtype = RecordType::from(record.rtype.0);
    let rdata = decode_rdata(rtype, &record.rdata).unwrap_or_else(|| {
        // `NULL::with` refuses empty data; `NULL::new` is the empty rdata.
        let opaque = if record.rdata.is_empty() {
            NULL::new()
        } else {
            NULL::with(record.rdata.to_vec())
        };
        RData::Unknown {
            code: rtype,
            rdata: opaque,
        }
    });
    HRecord::from_rdata(to_hickory_name(&record.owner), record.ttl, rdata)
}

fn decode_rdata(rtype: RecordType, rdata: &[u8]) -> Option<RData> {
    let len = u16::try_from(rdata.len()).ok()?;
    if len == 0 {
        // Empty rdata only round-trips as opaque bytes (hickory reads it as an "update").
        return None;
    }
    let mut decoder = BinDecoder::new(rdata);
    let decoded = RData::read(&mut decoder, rtype, Restrict::new(len)).ok()?;
    // Use the decoded form only if it emits exactly the bytes we hold: what is served must be
    // what was published, whatever hickory normalises.
    let mut again = Vec::with_capacity(rdata.len());
    let mut encoder = BinEncoder::new(&mut again);
    encoder.set_name_encoding(NameEncoding::Uncompressed);
    decoded.emit(&mut encoder).ok()?;
    (again == rdata).then_some(decoded)
}

/// The zones a server answers for, swapped atomically as a whole.
pub struct Catalog {
    id: String,
    zones: ArcSwap<HashMap<Name, Arc<ServedZone>>>,
    /// Serialises installs so that checking the held generation and swapping are one step.
    install: Mutex<()>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("id", &self.id)
            .field("zones", &self.zones())
            .finish()
    }
}

impl Catalog {
    /// An empty catalog recorded in the store as target `id`.
    pub fn new(id: impl Into<String>) -> Self {
        Catalog {
            id: id.into(),
            zones: ArcSwap::from_pointee(HashMap::new()),
            install: Mutex::new(()),
        }
    }

    /// Every zone served, with its generation, in canonical name order.
    pub fn zones(&self) -> Vec<(Name, Generation)> {
        let map = self.zones.load();
        let mut out: Vec<(Name, Generation)> = map
            .iter()
            .map(|(name, z)| (name.clone(), z.generation))
            .collect();
        out.sort();
        out
    }

    /// The served zone whose origin is the longest suffix of `qname` (the zone that is
    /// authoritative for it), if any.
    pub fn find(&self, qname: &Name) -> Option<Arc<ServedZone>> {
        let map = self.zones.load();
        if map.is_empty() {
            return None;
        }
        if let Some(z) = map.get(qname) {
            return Some(z.clone());
        }
        (0..qname.label_count()).rev().find_map(|k| {
            let anc = qname.ancestor_with_labels(k)?;
            map.get(&anc).cloned()
        })
    }

    /// Puts a ready zone in place if it is newer than what is held; `Err(held)` otherwise.
    fn swap_in(&self, served: Arc<ServedZone>) -> Result<(), Generation> {
        let _guard = self
            .install
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = self.zones.load_full();
        let held = current.get(served.origin()).map(|z| z.generation);
        if let Some(held) = held.filter(|h| *h >= served.generation) {
            return Err(held);
        }
        let mut next = HashMap::clone(&current);
        next.insert(served.origin().clone(), served);
        self.zones.store(Arc::new(next));
        Ok(())
    }
}

impl Target for Catalog {
    fn id(&self) -> &str {
        &self.id
    }

    fn held(&self, zone: &Name) -> Option<Generation> {
        self.zones.load().get(zone).map(|z| z.generation)
    }

    async fn install(&self, generation: Generation, zone: Zone) -> Result<(), Generation> {
        // Cheap early refusal, so a stale install does not pay for the index. The check that
        // counts is the one in `swap_in`, under the install lock.
        if let Some(held) = self.held(zone.origin()).filter(|h| *h >= generation) {
            return Err(held);
        }
        let served = build(generation, zone).await;
        self.swap_in(Arc::new(served))
    }
}

/// Builds the served zone on tokio's blocking pool when there is a runtime, so that a large
/// zone does not stall the tasks answering queries.
async fn build(generation: Generation, zone: Zone) -> ServedZone {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            match handle
                .spawn_blocking(move || ServedZone::new(generation, zone))
                .await
            {
                Ok(served) => served,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => panic!("building the zone index was cancelled: {e}"),
            }
        }
        Err(_) => ServedZone::new(generation, zone),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zonegate_core::RType;
    use zonegate_core::record::Soa;

    fn n(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    fn wire(name: &str) -> Box<[u8]> {
        let mut v = Vec::new();
        n(name).write_wire(&mut v);
        v.into_boxed_slice()
    }

    fn rec(owner: &str, rtype: RType, rdata: Box<[u8]>) -> Record {
        Record {
            owner: n(owner),
            rtype,
            ttl: 300,
            rdata,
        }
    }

    /// Emits the rdata uncompressed, as the canonical form.
    fn canonical_rdata(r: &HRecord) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = BinEncoder::new(&mut out);
        enc.set_canonical_form(true);
        r.data.emit(&mut enc).unwrap();
        out
    }

    #[test]
    fn conversion_round_trips_rdata() {
        let soa = Soa {
            mname: n("ns.example."),
            rname: n("h.example."),
            serial: 7,
            refresh: 1,
            retry: 2,
            expire: 3,
            minimum: 4,
        };
        let mut mx = vec![0, 10];
        n("mx.example.").write_wire(&mut mx);
        let records = [
            rec("a.example.", RType::A, Box::new([192, 0, 2, 1])),
            rec(
                "a.example.",
                RType::AAAA,
                Box::new([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            ),
            rec("example.", RType::NS, wire("ns.example.")),
            rec("example.", RType::SOA, soa.to_rdata()),
            rec("c.example.", RType::CNAME, wire("a.example.")),
            rec("d.example.", RType::DNAME, wire("other.test.")),
            rec("m.example.", RType::MX, mx.into_boxed_slice()),
            rec("t.example.", RType::TXT, Box::new(*b"\x05hello\x00")),
            rec("*.example.", RType(65280), Box::new([1, 2, 3])),
            rec("e.example.", RType(65281), Box::new([])),
            // Malformed for its type: carried as opaque bytes.
            rec("bad.example.", RType::A, Box::new([1, 2, 3])),
        ];
        for r in &records {
            let h = to_hickory(r);
            assert_eq!(h.record_type(), RecordType::from(r.rtype.0), "{r:?}");
            assert_eq!(h.ttl, r.ttl);
            assert_eq!(h.name.to_ascii(), r.owner.to_string());
            assert_eq!(canonical_rdata(&h), r.rdata.to_vec(), "{r:?}");
            // Known types are decoded, so names in them can be compressed; the rest are opaque.
            let opaque = matches!(h.data, RData::Unknown { .. });
            let known = [
                RType::A,
                RType::AAAA,
                RType::NS,
                RType::SOA,
                RType::CNAME,
                RType::MX,
                RType::TXT,
            ];
            let expect_opaque = !known.contains(&r.rtype) || r.owner == n("bad.example.");
            assert_eq!(opaque, expect_opaque, "{r:?}");
        }
    }

    fn zone(serial: u32) -> Zone {
        let soa = Soa {
            mname: n("ns.other."),
            rname: n("h.other."),
            serial,
            refresh: 1,
            retry: 1,
            expire: 1,
            minimum: 1,
        };
        let records = vec![
            rec("example.", RType::SOA, soa.to_rdata()),
            rec("example.", RType::NS, wire("ns.other.")),
        ];
        zonegate_core::validate::validate(
            zonegate_core::ParsedZone {
                origin: n("example."),
                records,
            },
            &zonegate_core::Limits::default(),
        )
        .unwrap()
    }

    /// Installers race with generations in opposite orders: the held generation only ever
    /// grows, ends at the newest, and every refusal names a generation at least as new.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_installs_never_go_back() {
        let catalog = Arc::new(Catalog::new("race"));
        let origin = n("example.");
        let up = (1..=200u64).collect::<Vec<_>>();
        let down = up.iter().rev().copied().collect::<Vec<_>>();
        let mut tasks = Vec::new();
        for order in [up, down] {
            let catalog = catalog.clone();
            tasks.push(tokio::spawn(async move {
                for g in order {
                    if let Err(held) = catalog.install(Generation(g), zone(g as u32)).await {
                        assert!(held >= Generation(g), "refused {g} for an older {held}");
                    }
                }
            }));
        }
        let watcher = {
            let catalog = catalog.clone();
            let origin = origin.clone();
            tokio::spawn(async move {
                let mut last = None;
                while last != Some(Generation(200)) {
                    let now = catalog.held(&origin);
                    assert!(now >= last, "held went back from {last:?} to {now:?}");
                    if let Some(z) = catalog.find(&origin) {
                        // The served content is the generation's own.
                        assert_eq!(z.index().zone().soa().serial as u64, z.generation().0);
                    }
                    last = now;
                    tokio::task::yield_now().await;
                }
            })
        };
        for t in tasks {
            t.await.unwrap();
        }
        watcher.await.unwrap();
        assert_eq!(catalog.held(&origin), Some(Generation(200)));
        assert_eq!(catalog.zones(), vec![(origin, Generation(200))]);
    }
}
