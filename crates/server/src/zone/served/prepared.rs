//! The prepared answer path: answers built when a generation is installed, sent by copying.
//!
//! # Design
//!
//! Zone content only changes when a generation is installed, so the answers are computed then,
//! off the query path, by the general path's own code: `ZoneIndex::resolve` and hickory's
//! encoder with the same truncation rules ([`crate::wire::encode_udp`]). A response is its
//! header, the question echoed from the query, and a *tail*: the answer, authority and
//! additional sections. hickory never compresses a name against the question (it registers
//! the question's bytes with its type and class as one compression target, which no name can
//! match), so a tail depends only on the query's name and type, and on the query name's
//! length through the compression pointers, never on the case the client wrote the name in.
//!
//! [`FastZone`] holds one zone's tails for every existing name (what
//! `ZoneIndex::shapes` says is shared is stored once per name, and identical shared tails
//! once per zone) in two byte arenas and an open-addressing table of offsets keyed by the
//! lower-cased wire name. The NXDOMAIN tail depends only on the query name's length; it is
//! prepared the first time a name of that length is missing (the only allocation the hot path
//! ever makes, at most 256 per zone). A tail is the one for a query without EDNS (at most 512 octets,
//! truncated as the general path truncates); a query with EDNS gets it with the OPT record
//! appended, and only when that one was truncated is a separate EDNS tail (for 1232 octets)
//! kept.
//!
//! The hot path ([`answer`]) parses the question in place (no allocation), picks the zone and
//! the prepared tail with a few hash probes, and writes header, question and tail into a
//! reused buffer, copying the ID, RD and CD from the query. Anything else returns `false` and
//! goes to the general path: other opcodes, header flags or section counts, classes, meta
//! query types (AXFR, IXFR, ANY, OPT...), EDNS other than a bare version-0 OPT record, names
//! that are not prepared (wildcard synthesis, DNAME substitution, names below a cut that do
//! not exist), and answers that would be truncated differently for the client's payload size.
//!
//! Over TCP ([`answer_tcp`]) nothing is truncated: the same tails serve where they were not
//! truncated, and the answer is appended with its length prefix to the connection's output.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault};
use std::sync::{Arc, OnceLock};
use zonegate_core::lookup::hash_wire_name as hash;

use hickory_proto::op::{Edns, MessageType, Metadata, OpCode};
use hickory_proto::serialize::binary::BinDecoder;
use hickory_server::zone_handler::{MessageResponseBuilder, Queries};
use zonegate_core::lookup::{NameShape, Resolution};
use zonegate_core::{Name, RType};

use super::affected::affected_names;
use super::{ServedZone, owned_sections};
use crate::wire::{UDP_PAYLOAD_MAX, answer_metadata, encode_udp};

/// No tail.
const NONE: u32 = u32::MAX;

const HEADER: usize = 12;
/// A tail's own header: header octets 2..12, the sections' length, the serial's offset.
const TAIL_HEAD: usize = 14;
/// `nx_below` of an entry that says the name no longer exists (an overlay's removed name).
const GONE: u8 = 2;
/// OPT record: root name, type 41, class (payload), TTL (extended RCODE, version, flags),
/// empty rdata.
const OPT_LEN: usize = 11;
const TC: u8 = 0x02;

/// The prepared tails of one query: the one without EDNS, and the EDNS one if that differs by
/// more than the OPT record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pair {
    plain: u32,
    edns: u32,
}

const NO_PAIR: Pair = Pair {
    plain: NONE,
    edns: NONE,
};

/// One zone's prepared answers: a table built in full for some generation, and, when this
/// generation was prepared from an earlier one, layers of overlays of the names the changes
/// since touched (a removed name is an entry marked [`GONE`]), newest first. Each layer was
/// prepared against the generation that made it; a name a later change touched is in a later
/// layer, so the newest layer that holds a name holds its answers for this generation, and a
/// name no layer holds is answered from the base. The base, and every layer but the newest,
/// are shared with the generations prepared before (see [`FastZone::incremental`]).
#[derive(Default)]
pub(crate) struct FastZone {
    base: Arc<Table>,
    layers: Vec<Arc<Overlay>>,
    /// The NXDOMAIN tails by query name wire length, each prepared when first asked for.
    nx: Box<[OnceLock<Option<NxTail>>]>,
}

/// The names rebuilt since the base, and their table.
struct Overlay {
    table: Table,
    names: Vec<Box<[u8]>>,
}

/// Prepared answers of a set of names.
#[derive(Default)]
struct Table {
    /// Open addressing, linear probing: `(hash >> 32) << 32 | (entry offset + 1)`, 0 empty.
    slots: Vec<u64>,
    /// Per name: `[wire len u8][wire][nx_below u8][others: plain u32, edns u32][n u8]
    /// n × [qtype u16, plain u32, edns u32]`, little endian. `nx_below` is 0, 1 or [`GONE`].
    entries: Vec<u8>,
    /// Per tail: header octets 2..12 as encoded for a query without RD and CD, `[len u16]`,
    /// `[serial at u16]` (where in the sections the one SOA record's serial is, written at
    /// answer time; 0 if none), then the sections.
    tails: Vec<u8>,
    /// How many names `entries` holds.
    names: usize,
    seed: u64,
}

/// A prepared NXDOMAIN: tails in the arena's format.
struct NxTail {
    plain: Box<[u8]>,
    edns: Option<Box<[u8]>>,
}

impl std::fmt::Debug for FastZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "FastZone({} names, {} + {} octets, overlays of {:?} names)",
            self.base.names,
            self.base.entries.len(),
            self.base.tails.len(),
            self.layers
                .iter()
                .map(|l| l.names.len())
                .collect::<Vec<_>>()
        )
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// True if the general path answers this query type like any other: not a meta type.
fn plain_qtype(qtype: u16) -> bool {
    !(qtype == 0 || qtype == 41 || (128..=255).contains(&qtype))
}

/// A name below `origin` whose wire form is `len` octets long.
fn name_of_len(origin: &Name, len: usize) -> Option<Name> {
    let mut rest = len.checked_sub(origin.wire_len())?;
    if rest < 2 {
        return None;
    }
    let mut labels: Vec<Vec<u8>> = Vec::new();
    while rest > 0 {
        let take = match rest {
            ..=64 => rest - 1,
            65 => 62,
            _ => 63,
        };
        labels.push(vec![b'x'; take]);
        rest -= take + 1;
    }
    let name = Name::from_labels(labels.iter().map(|l| &l[..]).chain(origin.labels())).ok()?;
    (name.wire_len() == len).then_some(name)
}

/// Appends `message` (a response to a question whose name is `qlen` octets) in tail format.
/// False (and nothing appended) if it holds more than one SOA record or cannot be walked.
fn write_tail(out: &mut Vec<u8>, message: &[u8], qlen: usize) -> bool {
    let Some(serial_at) = serial_at(message, qlen) else {
        return false;
    };
    let body = &message[HEADER + qlen + 4..];
    out.extend_from_slice(&message[2..HEADER]);
    out.extend_from_slice(&(body.len() as u16).to_le_bytes());
    out.extend_from_slice(&serial_at.to_le_bytes());
    out.extend_from_slice(body);
    true
}

/// Where in the sections of `message` (after a question whose name is `qlen` octets) the
/// serial of its one SOA record is, 0 if it has none; `None` if it has several or does not
/// parse. The zone has one SOA, whose serial is the served one: the tail leaves it to
/// [`answer`] to write, so that a tail serves every generation whose SOA differs only there.
fn serial_at(m: &[u8], qlen: usize) -> Option<u16> {
    let body = HEADER + qlen + 4;
    let count: usize = [6, 8, 10]
        .iter()
        .map(|&i| usize::from(u16::from_be_bytes([m[i], m[i + 1]])))
        .sum();
    let (mut at, mut found) = (body, 0u16);
    for _ in 0..count {
        at = skip_name(m, at)?;
        let fixed = m.get(at..at + 10)?;
        let rdata = at + 10;
        if fixed[0..2] == [0, 6] {
            if found != 0 {
                return None;
            }
            let serial = skip_name(m, skip_name(m, rdata)?)?;
            m.get(serial..serial + 4)?;
            found = u16::try_from(serial - body).ok()?;
        }
        at = rdata + usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    }
    (at == m.len()).then_some(found)
}

/// The offset after the (possibly compressed) name at `at` in `m`.
fn skip_name(m: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *m.get(at)?;
        match len {
            0 => return Some(at + 1),
            0xC0.. => return m.get(at + 1).map(|_| at + 2),
            1..=63 => at += 1 + usize::from(len),
            _ => return None,
        }
    }
}

struct Builder<'z> {
    zone: &'z ServedZone,
    tails: Vec<u8>,
    /// Shared answers (NODATA, referrals) by query name length, prepared once.
    memo: HashMap<(usize, Resolution), Pair, BuildHasherDefault<MemoHasher>>,
}

impl Builder<'_> {
    /// The encoded response to `qname`/`qtype` answered with `res`, as the general path
    /// would send it to a query with ID 0 and no flags; `None` if encoding failed.
    fn encode(&self, qname: &Name, qtype: RType, res: &Resolution, edns: bool) -> Option<Vec<u8>> {
        let mut question = Vec::with_capacity(qname.wire_len() + 4);
        qname.write_wire(&mut question);
        question.extend_from_slice(&qtype.0.to_be_bytes());
        question.extend_from_slice(&1u16.to_be_bytes());
        let queries = Queries::read(&mut BinDecoder::new(&question), 1).ok()?;
        let mut resp_edns = Edns::new();
        resp_edns.set_max_payload(UDP_PAYLOAD_MAX);
        resp_edns.set_version(0);
        let [answers, authorities, additionals] = owned_sections(self.zone, res);
        let request = Metadata::new(0, MessageType::Query, OpCode::Query);
        let response = MessageResponseBuilder::new(&queries, edns.then_some(&resp_edns)).build(
            answer_metadata(&request, res),
            answers.iter(),
            authorities.iter(),
            std::iter::empty(),
            additionals.iter(),
        );
        let (bytes, ok) = encode_udp(response);
        let body = HEADER + question.len();
        (ok && bytes.len() >= body && bytes[HEADER..body] == question[..]).then_some(bytes)
    }

    fn push_tail(&mut self, message: &[u8], qlen: usize) -> u32 {
        let at = u32::try_from(self.tails.len()).unwrap_or(NONE);
        if write_tail(&mut self.tails, message, qlen) {
            at
        } else {
            NONE
        }
    }

    fn prepare(&mut self, qname: &Name, qtype: RType, res: &Resolution) -> Pair {
        let Some(plain) = self.encode(qname, qtype, res, false) else {
            return NO_PAIR;
        };
        let qlen = qname.wire_len();
        let edns = if plain[2] & TC != 0 {
            match self.encode(qname, qtype, res, true) {
                Some(e) => match self.push_tail(&e, qlen) {
                    NONE => return NO_PAIR,
                    at => at,
                },
                None => return NO_PAIR,
            }
        } else {
            NONE
        };
        match self.push_tail(&plain, qlen) {
            NONE => NO_PAIR,
            plain => Pair { plain, edns },
        }
    }

    fn prepare_shared(&mut self, qname: &Name, qtype: RType, res: Resolution) -> Pair {
        let key = (qname.wire_len(), res);
        if let Some(p) = self.memo.get(&key) {
            return *p;
        }
        let pair = self.prepare(qname, qtype, &key.1);
        self.memo.insert(key, pair);
        pair
    }
}

/// How many threads prepare `items` names or records of a zone being installed: one per
/// CPU the process may run on (a server pinned to one CPU uses that one), at most
/// [`PARALLEL_MAX`], and one for small zones, which are not worth the threads.
pub(crate) fn build_threads(items: usize) -> usize {
    if items >= PARALLEL_NAMES_MIN {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(PARALLEL_MAX))
    } else {
        1
    }
}

/// Zones with at least this many names are prepared by several threads.
const PARALLEL_NAMES_MIN: usize = 50_000;
/// Most threads that prepare one zone.
const PARALLEL_MAX: usize = 8;

/// The offsets of every tail offset (plain and EDNS, the shared pair and each type's) in the
/// entry at `at`, and the offset of the next entry.
fn entry_pairs(entries: &[u8], at: usize) -> (impl Iterator<Item = usize> + use<>, usize) {
    let others = at + 1 + entries[at] as usize + 1;
    let n = entries[others + 8] as usize;
    let types = others + 9;
    let pairs = [others, others + 4]
        .into_iter()
        .chain((0..n).flat_map(move |k| [types + k * 10 + 2, types + k * 10 + 6]));
    (pairs, types + n * 10)
}

/// A fast hasher for the memo of shared answers, whose keys are our own data.
#[derive(Default)]
struct MemoHasher(u64);

impl std::hash::Hasher for MemoHasher {
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(b));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The entries and tails of some of a zone's names, prepared by one thread, with tail
/// offsets relative to its own tails.
#[derive(Default)]
struct Part {
    entries: Vec<u8>,
    tails: Vec<u8>,
}

/// Overlays of more names than this part of the base's (plus [`OVERLAY_SLACK`]), all layers
/// together, are not kept: the generation is prepared in full instead, which makes it the new
/// base.
const OVERLAY_SHARE: usize = 16;
const OVERLAY_SLACK: usize = 1024;

/// A new layer takes in the newest layers while each is at most this many times its size,
/// and while there are [`LAYERS_MAX`] of them: like a log-structured merge, each install
/// prepares about the names it changed (a few times over, as layers merge), not every name
/// changed since the base, and a query probes at most [`LAYERS_MAX`] small tables before the
/// base.
const LAYER_MERGE_FACTOR: usize = 4;
pub(crate) const LAYERS_MAX: usize = 4;

impl Part {
    /// The entries of the names of `range` of the zone's names.
    fn build(zone: &ServedZone, range: std::ops::Range<usize>) -> Part {
        let shapes = zone
            .index()
            .shapes_of(range.clone())
            .map(|(w, s)| (w, Some(s)));
        Part::build_of(zone, range.len(), shapes)
    }

    /// The entries of `names` (`None`: the name does not exist, and its entry says so).
    fn build_of<'a>(
        zone: &ServedZone,
        count: usize,
        names: impl Iterator<Item = (&'a [u8], Option<NameShape>)>,
    ) -> Part {
        let index = zone.index();
        let mut b = Builder {
            zone,
            tails: Vec::with_capacity(count * 48),
            memo: HashMap::default(),
        };
        let mut entries: Vec<u8> = Vec::with_capacity(count * 40);
        for (w, shape) in names {
            let Ok((name, _)) = Name::from_wire(w) else {
                continue;
            };
            let Some(shape) = shape else {
                entries.push(w.len() as u8);
                entries.extend_from_slice(w);
                entries.push(GONE);
                entries.extend_from_slice(&NONE.to_le_bytes());
                entries.extend_from_slice(&NONE.to_le_bytes());
                entries.push(0);
                continue;
            };
            let others = match shape.others {
                Some(t) => b.prepare_shared(&name, t, index.resolve(&name, t)),
                None => NO_PAIR,
            };
            let types: Vec<(u16, Pair)> = shape
                .types
                .iter()
                .filter(|t| plain_qtype(t.0))
                .map(|&t| (t.0, b.prepare(&name, t, &index.resolve(&name, t))))
                .filter(|(_, p)| p.plain != NONE)
                .take(255)
                .collect();
            entries.push(w.len() as u8);
            entries.extend_from_slice(w);
            entries.push(u8::from(shape.nxdomain_below));
            entries.extend_from_slice(&others.plain.to_le_bytes());
            entries.extend_from_slice(&others.edns.to_le_bytes());
            entries.push(types.len() as u8);
            for (t, p) in types {
                entries.extend_from_slice(&t.to_le_bytes());
                entries.extend_from_slice(&p.plain.to_le_bytes());
                entries.extend_from_slice(&p.edns.to_le_bytes());
            }
        }
        Part {
            entries,
            tails: b.tails,
        }
    }
}

impl FastZone {
    /// Prepares every answer of `zone` that [`answer`] serves. This is the expensive part:
    /// run it off the query path.
    pub(crate) fn build(zone: &ServedZone) -> FastZone {
        FastZone::build_with(zone, build_threads(zone.index().name_count()))
    }

    /// [`FastZone::build`] with `threads` threads, each preparing a range of the names.
    fn build_with(zone: &ServedZone, threads: usize) -> FastZone {
        let names = zone.index().name_count();
        let threads = threads.clamp(1, names.max(1));
        let parts: Vec<Part> = if threads == 1 {
            vec![Part::build(zone, 0..names)]
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|k| {
                        let range = names * k / threads..names * (k + 1) / threads;
                        s.spawn(move || Part::build(zone, range))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                    .collect()
            })
        };
        FastZone {
            base: Arc::new(Table::of(parts, None)),
            layers: Vec::new(),
            nx: no_nx_yet(),
        }
    }

    /// Prepares `zone`'s answers from those of `previous`, the generation it replaced: the
    /// names [`affected_names`] says the change may touch are prepared again as a new overlay
    /// layer over `previous`'s layers and base, which are shared. Falls back to
    /// [`FastZone::build`] when `previous` is not prepared, the overlays would grow past their
    /// bound, or the SOA changed in more than its serial.
    pub(crate) fn build_after(zone: &ServedZone, previous: &ServedZone) -> FastZone {
        FastZone::incremental(zone, previous).unwrap_or_else(|| FastZone::build(zone))
    }

    /// The overlay [`FastZone::build_after`] makes, or `None` where it prepares in full. The
    /// new layer takes in (prepares again) the newest of `previous`'s layers while they are
    /// small next to it ([`LAYER_MERGE_FACTOR`]) or too many ([`LAYERS_MAX`]).
    pub(crate) fn incremental(zone: &ServedZone, previous: &ServedZone) -> Option<FastZone> {
        let prev = previous.fast.get().filter(|f| f.base.names > 0)?;
        let limit = prev.base.names / OVERLAY_SHARE + OVERLAY_SLACK;
        let carried: usize = prev.layers.iter().map(|l| l.names.len()).sum();
        let mut names = affected_names(previous, zone, limit - carried.min(limit))?;
        names.sort_unstable();
        names.dedup();
        let mut taken = 0;
        while let Some(top) = prev.layers.get(taken) {
            let small = top.names.len() <= LAYER_MERGE_FACTOR * names.len().max(1);
            // The new layer and the ones left.
            let too_many = 1 + prev.layers.len() - taken > LAYERS_MAX;
            if !small && !too_many {
                break;
            }
            names.extend(top.names.iter().cloned());
            names.sort_unstable();
            names.dedup();
            taken += 1;
        }
        let kept = &prev.layers[taken..];
        if names.len() + kept.iter().map(|l| l.names.len()).sum::<usize>() > limit {
            return None;
        }
        let index = zone.index();
        let part = Part::build_of(
            zone,
            names.len(),
            names
                .iter()
                .map(|w| (&w[..], index.shape_of(w).map(|(_, s)| s))),
        );
        let mut layers = vec![Arc::new(Overlay {
            table: Table::of(vec![part], Some(prev.base.seed)),
            names,
        })];
        layers.extend(kept.iter().cloned());
        Some(FastZone {
            base: prev.base.clone(),
            layers,
            nx: no_nx_yet(),
        })
    }

    /// How many names the overlays hold, all layers together, if these answers are overlays
    /// over an earlier generation's.
    #[cfg(test)]
    pub(crate) fn overlay_names(&self) -> Option<usize> {
        (!self.layers.is_empty()).then(|| self.layers.iter().map(|l| l.names.len()).sum())
    }

    /// How many overlay layers there are.
    #[cfg(test)]
    pub(crate) fn layers(&self) -> usize {
        self.layers.len()
    }

    /// The entry of the lower-cased wire name `key` and the table that holds it, if the name
    /// exists: from the newest layer that holds it, else from the base. Every table of a zone
    /// has the base's seed, so the name is hashed once.
    fn entry(&self, key: &[u8]) -> Option<(&Table, usize)> {
        let h = hash(self.base.seed, key);
        for layer in &self.layers {
            let t = &layer.table;
            if let Some(at) = t.entry_hashed(key, h) {
                return (t.entries[at + 1 + t.entries[at] as usize] != GONE).then_some((t, at));
            }
        }
        self.base.entry_hashed(key, h).map(|at| (&*self.base, at))
    }

    /// The NXDOMAIN tails for a query name of `len` octets, prepared on first use.
    fn nx(&self, zone: &ServedZone, len: usize) -> Option<&NxTail> {
        self.nx
            .get(len)?
            .get_or_init(|| {
                let name = name_of_len(zone.origin(), len)?;
                let b = Builder {
                    zone,
                    tails: Vec::new(),
                    memo: HashMap::default(),
                };
                let res = zone.index().nxdomain();
                let plain = b.encode(&name, RType::A, &res, false)?;
                let edns = if plain[2] & TC != 0 {
                    Some(b.encode(&name, RType::A, &res, true)?)
                } else {
                    None
                };
                let tail = |m: &[u8]| {
                    let mut t = Vec::with_capacity(m.len() + TAIL_HEAD);
                    write_tail(&mut t, m, len).then(|| t.into_boxed_slice())
                };
                Some(NxTail {
                    plain: tail(&plain)?,
                    edns: match edns {
                        Some(e) => Some(tail(&e)?),
                        None => None,
                    },
                })
            })
            .as_ref()
    }

    /// The prepared tails (without EDNS, and with EDNS if that differs by more than the OPT
    /// record) for `key`, a lower-cased wire name at or below the origin of `zone`, and
    /// `qtype`.
    fn find<'s>(
        &'s self,
        zone: &ServedZone,
        key: &[u8],
        qtype: u16,
    ) -> Option<(&'s [u8], Option<&'s [u8]>)> {
        let origin_len = zone.origin_wire_len();
        if let Some((table, at)) = self.entry(key) {
            let pair = |p: Pair| Some((table.tail(p.plain)?, table.tail(p.edns)));
            let e = &table.entries;
            let mut p = at + 1 + e[at] as usize;
            let others = Pair {
                plain: u32_at(e, p + 1),
                edns: u32_at(e, p + 5),
            };
            p += 9;
            let n = e[p] as usize;
            p += 1;
            for _ in 0..n {
                if u16_at(e, p) == qtype {
                    return pair(Pair {
                        plain: u32_at(e, p + 2),
                        edns: u32_at(e, p + 6),
                    });
                }
                p += 10;
            }
            return pair(others);
        }
        // The name does not exist: its closest existing ancestor decides.
        let mut at = 0;
        while key.len() - at > origin_len {
            at += 1 + key[at] as usize;
            if let Some((table, enc)) = self.entry(&key[at..]) {
                let e = &table.entries;
                if e[enc + 1 + e[enc] as usize] == 0 {
                    return None;
                }
                let nx = self.nx(zone, key.len())?;
                return Some((&nx.plain, nx.edns.as_deref()));
            }
        }
        None
    }
}

/// No NXDOMAIN tail prepared yet, for every query name length.
fn no_nx_yet() -> Box<[OnceLock<Option<NxTail>>]> {
    (0..256).map(|_| OnceLock::new()).collect()
}

impl Table {
    /// One table of `parts`: the first part's arenas, then the other parts' entries with
    /// their tail offsets moved by where their tails start, and their tails. Its hash seed is
    /// `seed` (an overlay's: its base's), or a new random one.
    fn of(parts: Vec<Part>, seed: Option<u64>) -> Table {
        let seed = seed
            .unwrap_or_else(|| std::collections::hash_map::RandomState::new().hash_one(0x5a5a_u64));
        let entries_len: usize = parts.iter().map(|p| p.entries.len()).sum();
        let tails_len: usize = parts.iter().map(|p| p.tails.len()).sum();
        if entries_len >= NONE as usize || tails_len >= NONE as usize {
            // Offsets would not fit: prepare nothing, and the general path answers everything.
            return Table {
                seed,
                ..Table::default()
            };
        }
        let mut parts = parts.into_iter();
        let Part {
            mut entries,
            mut tails,
        } = parts.next().unwrap_or_default();
        entries.reserve_exact(entries_len - entries.len());
        tails.reserve_exact(tails_len - tails.len());
        for part in parts {
            let base = tails.len() as u32;
            let mut at = entries.len();
            entries.extend_from_slice(&part.entries);
            while at < entries.len() {
                let (pairs, next) = entry_pairs(&entries, at);
                for p in pairs {
                    let t = u32_at(&entries, p);
                    if t != NONE {
                        entries[p..p + 4].copy_from_slice(&(t + base).to_le_bytes());
                    }
                }
                at = next;
            }
            tails.extend_from_slice(&part.tails);
        }
        entries.shrink_to_fit();
        tails.shrink_to_fit();
        let mut names = 0usize;
        let mut at = 0;
        while at < entries.len() {
            names += 1;
            at = entry_pairs(&entries, at).1;
        }
        let size = (names * 2).next_power_of_two().max(16);
        let mut slots = vec![0u64; size];
        let mut at = 0;
        while at < entries.len() {
            let len = entries[at] as usize;
            let h = hash(seed, &entries[at + 1..at + 1 + len]);
            let mut i = (h as usize) & (size - 1);
            while slots[i] != 0 {
                i = (i + 1) & (size - 1);
            }
            slots[i] = (h >> 32) << 32 | (at as u64 + 1);
            at = entry_pairs(&entries, at).1;
        }
        Table {
            slots,
            entries,
            tails,
            names,
            seed,
        }
    }

    /// The entry offset of the lower-cased wire name `key`, whose hash with this table's seed
    /// is `h`.
    fn entry_hashed(&self, key: &[u8], h: u64) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = (h as usize) & mask;
        loop {
            let s = self.slots[i];
            if s == 0 {
                return None;
            }
            if s >> 32 == h >> 32 {
                let at = (s & 0xFFFF_FFFF) as usize - 1;
                let len = self.entries[at] as usize;
                if self.entries.get(at + 1..at + 1 + len) == Some(key) {
                    return Some(at);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// The tail in the arena at `at`, if any.
    fn tail(&self, at: u32) -> Option<&[u8]> {
        (at != NONE).then(|| &self.tails[at as usize..])
    }
}

/// A query the prepared path can answer, parsed in place.
pub(crate) struct Question {
    /// The query name, lower case, uncompressed wire form.
    name: [u8; 255],
    name_len: usize,
    qtype: u16,
    /// Offset of the end of the question section in the query.
    end: usize,
    /// The payload size the response may use, if the query has EDNS.
    edns: Option<u16>,
}

impl Question {
    pub(crate) fn name(&self) -> &[u8] {
        &self.name[..self.name_len]
    }

    /// Parses `query` if it is an ordinary one: QUERY, no flags but RD, AD and CD, one
    /// question of class IN and a plain type, no other records but a bare version-0 OPT, and
    /// nothing after it.
    pub(crate) fn parse(query: &[u8]) -> Option<Question> {
        if query.len() < HEADER + 5
            || query[2] & 0xFE != 0
            || query[3] & 0xCF != 0
            || query[4..12] != [0, 1, 0, 0, 0, 0, 0, query[11]]
            || query[11] > 1
        {
            return None;
        }
        let mut q = Question {
            name: [0; 255],
            name_len: 0,
            qtype: 0,
            end: 0,
            edns: None,
        };
        let mut at = HEADER;
        loop {
            let len = *query.get(at)? as usize;
            if len > 63 || q.name_len + 1 + len > 255 {
                return None;
            }
            let label = query.get(at..at + 1 + len)?;
            for (d, s) in q.name[q.name_len..q.name_len + 1 + len]
                .iter_mut()
                .zip(label)
            {
                *d = s.to_ascii_lowercase();
            }
            q.name_len += 1 + len;
            at += 1 + len;
            if len == 0 {
                break;
            }
        }
        let fixed = query.get(at..at + 4)?;
        q.qtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        if u16::from_be_bytes([fixed[2], fixed[3]]) != 1 || !plain_qtype(q.qtype) {
            return None;
        }
        at += 4;
        q.end = at;
        if query[11] == 1 {
            // Root name, OPT, payload, extended RCODE 0, version 0, no flags but DO, no rdata.
            let opt = query.get(at..at + OPT_LEN)?;
            if opt[0..3] != [0, 0, 41] || opt[5..7] != [0, 0] || opt[7] & 0x7F != 0 {
                return None;
            }
            if opt[8..11] != [0, 0, 0] {
                return None;
            }
            let payload = u16::from_be_bytes([opt[3], opt[4]]);
            q.edns = Some(payload.clamp(512, UDP_PAYLOAD_MAX));
            at += OPT_LEN;
        }
        (at == query.len()).then_some(q)
    }
}

/// Writes the prepared response to `query` (parsed as `q`) from `zone` into `out`. False if
/// there is none, and `out` is then unspecified. Over TCP, [`answer_tcp`].
pub(crate) fn answer(zone: &ServedZone, query: &[u8], q: &Question, out: &mut Vec<u8>) -> bool {
    let Some((plain, edns)) = zone.fast().find(zone, q.name(), q.qtype) else {
        return false;
    };
    let t = match (q.edns, edns) {
        (Some(_), Some(e)) => e,
        _ => plain,
    };
    let len = u16_at(t, 10) as usize;
    out.clear();
    out.extend_from_slice(&query[0..2]);
    out.push(t[0] | (query[2] & 0x01));
    out.push(t[1] | (query[3] & 0x10));
    out.extend_from_slice(&t[2..10]);
    out.extend_from_slice(&query[HEADER..q.end]);
    let sections = out.len();
    out.extend_from_slice(&t[TAIL_HEAD..TAIL_HEAD + len]);
    write_serial(zone, t, out, sections);
    let Some(payload) = q.edns else {
        return true;
    };
    let limit = usize::from(payload);
    if edns.is_none() {
        // Not truncated without EDNS: the same with the OPT record appended.
        let ar = u16::from_be_bytes([out[10], out[11]]) + 1;
        out[10..12].copy_from_slice(&ar.to_be_bytes());
        out.extend_from_slice(&[0, 0, 41]);
        out.extend_from_slice(&payload.to_be_bytes());
        out.extend_from_slice(&[0; 6]);
        return out.len() <= limit;
    }
    // Prepared for the largest payload, which is then sent as it is (a truncated response
    // may have had no room for its OPT record). A smaller payload must not truncate it, and
    // then its OPT record is the last one.
    if payload < UDP_PAYLOAD_MAX {
        if t[0] & TC != 0 || out.len() > limit {
            return false;
        }
        let class = out.len() - 8;
        out[class..class + 2].copy_from_slice(&payload.to_be_bytes());
    }
    true
}

/// Writes the served serial where tail `t` (whose sections start at `sections` in `out`)
/// says its SOA record's serial is.
fn write_serial(zone: &ServedZone, t: &[u8], out: &mut [u8], sections: usize) {
    let at = u16_at(t, 12) as usize;
    if at != 0 {
        let at = sections + at;
        out[at..at + 4].copy_from_slice(&zone.serial().to_be_bytes());
    }
}

/// Appends the prepared TCP response to `query` (parsed as `q`) from `zone` to `out`, with
/// its two-octet length prefix (RFC 1035 §4.2.2). False if there is none, and `out` is then
/// as it was.
///
/// Over TCP the general path truncates nothing ([`crate::wire::encode_tcp`] encodes up to
/// 65535 octets) and answers EDNS with the same OPT record as over UDP: version 0, no flags,
/// the client's payload size clamped to 512..=[`UDP_PAYLOAD_MAX`], last in the additional
/// section. So the
/// response is the untruncated one with that OPT record or without one, and only a tail that
/// was not truncated serves: the one without EDNS (the OPT record appended for an EDNS query,
/// as over UDP), else the EDNS one (whose OPT record ends it; its payload set to the
/// client's, or the record taken off for a query without EDNS). If both were truncated, the
/// answer is larger than any prepared one and the general path makes it.
pub(crate) fn answer_tcp(zone: &ServedZone, query: &[u8], q: &Question, out: &mut Vec<u8>) -> bool {
    let Some((plain, edns)) = zone.fast().find(zone, q.name(), q.qtype) else {
        return false;
    };
    let (t, has_opt) = if plain[0] & TC == 0 {
        (plain, false)
    } else {
        match edns {
            Some(e) if e[0] & TC == 0 => (e, true),
            _ => return false,
        }
    };
    let body = &t[TAIL_HEAD..TAIL_HEAD + u16_at(t, 10) as usize];
    let sections = if has_opt {
        // The OPT record the EDNS tail was prepared with, which was not truncated away.
        match body.len().checked_sub(OPT_LEN) {
            Some(end) if body[end..end + 3] == [0, 0, 41] => &body[..end],
            _ => return false,
        }
    } else {
        body
    };
    let (Some(ar), Ok(len)) = (
        u16::from_be_bytes([t[8], t[9]])
            .checked_sub(u16::from(has_opt))
            .and_then(|ar| ar.checked_add(u16::from(q.edns.is_some()))),
        u16::try_from(q.end + sections.len() + if q.edns.is_some() { OPT_LEN } else { 0 }),
    ) else {
        return false;
    };
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&query[0..2]);
    out.push(t[0] | (query[2] & 0x01));
    out.push(t[1] | (query[3] & 0x10));
    out.extend_from_slice(&t[2..8]);
    out.extend_from_slice(&ar.to_be_bytes());
    out.extend_from_slice(&query[HEADER..q.end]);
    let at = out.len();
    out.extend_from_slice(sections);
    write_serial(zone, t, out, at);
    if let Some(payload) = q.edns {
        out.extend_from_slice(&[0, 0, 41]);
        out.extend_from_slice(&payload.to_be_bytes());
        out.extend_from_slice(&[0; 6]);
    }
    true
}

#[cfg(test)]
mod tests {
    use zonegate_core::dns::record::Soa;
    use zonegate_core::gate::Generation;
    use zonegate_core::{Limits, ParsedZone};

    use super::*;
    use crate::options::ZoneOptions;
    use zonegate_testkit::{n, name_rdata, rec};

    /// A zone of `hosts` hosts with some of everything the prepared path distinguishes:
    /// several types at a name, CNAMEs, delegations with glue, a wildcard, a DNAME, empty
    /// non-terminals and a big RRset whose answer is truncated without EDNS.
    fn zone(hosts: usize) -> zonegate_core::Zone {
        let soa = Soa {
            mname: n("ns1.example."),
            rname: n("hostmaster.example."),
            serial: 1,
            refresh: 3600,
            retry: 900,
            expire: 1209600,
            minimum: 300,
        };
        let mut records = vec![
            rec("example.", 300, RType::SOA, soa.to_rdata()),
            rec("example.", 300, RType::NS, name_rdata("ns1.example.")),
            rec("ns1.example.", 300, RType::A, Box::new([192, 0, 2, 1])),
            rec("*.wild.example.", 300, RType::A, Box::new([192, 0, 2, 9])),
            rec(
                "old.example.",
                300,
                RType::DNAME,
                name_rdata("new.example."),
            ),
        ];
        for i in 0..40u8 {
            records.push(rec(
                "big.example.",
                300,
                RType::A,
                Box::new([198, 51, 100, i]),
            ));
        }
        for i in 0..hosts {
            let h = format!("h{i}.e{}.example.", i % 7);
            let ip = Box::new([10, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
            records.push(rec(&h, 300, RType::A, ip));
            match i % 10 {
                1 => records.push(rec(&h, 300, RType::TXT, Box::new(*b"\x05hello"))),
                2 => records.push(rec(
                    &format!("c{i}.example."),
                    300,
                    RType::CNAME,
                    name_rdata(&h),
                )),
                3 => {
                    let d = format!("d{i}.example.");
                    let ns = format!("ns.d{i}.example.");
                    records.push(rec(&d, 300, RType::NS, name_rdata(&ns)));
                    records.push(rec(&ns, 300, RType::A, Box::new([192, 0, 2, 53])));
                }
                _ => {}
            }
        }
        zonegate_core::zone::validate::validate(
            ParsedZone {
                origin: n("example."),
                records,
            },
            &Limits::default(),
        )
        .unwrap()
    }

    /// `zone` served at generation 1 with its prepared answers, as a first install into a
    /// catalog with default options serves it.
    fn served(zone: zonegate_core::Zone) -> std::sync::Arc<ServedZone> {
        let served = ServedZone::build(Generation(1), zone, 1, None, &ZoneOptions::default());
        served.prepare();
        std::sync::Arc::new(served)
    }

    /// Preparing in parts on several threads gives the same answers as one thread, for every
    /// name, type and missing child.
    #[test]
    fn parts_agree_with_one_thread() {
        let zone = served(zone(3000));
        let one = FastZone::build_with(&zone, 1);
        let qtypes = [1u16, 2, 5, 6, 15, 16, 28, 43, 99, 65280];
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for (w, _) in zone.index().shapes() {
            keys.push(w.to_vec());
            let mut child = b"\x07missing".to_vec();
            child.extend_from_slice(w);
            keys.push(child);
        }
        let mut prepared = 0;
        for threads in [2, 3, 8] {
            let many = FastZone::build_with(&zone, threads);
            assert_eq!(many.base.entries.len(), one.base.entries.len());
            // Each part prepares the answers its names share once, so a few repeat.
            assert!(many.base.tails.len() >= one.base.tails.len());
            for key in &keys {
                for &t in &qtypes {
                    // A tail runs to the end of its arena; compare the tail itself.
                    let tail = |t: &[u8]| t[..TAIL_HEAD + u16_at(t, 10) as usize].to_vec();
                    let both =
                        |f: Option<(&[u8], Option<&[u8]>)>| f.map(|(p, e)| (tail(p), e.map(tail)));
                    let a = both(one.find(&zone, key, t));
                    let b = both(many.find(&zone, key, t));
                    assert!(
                        a == b,
                        "{:?} type {t} with {threads} threads",
                        Name::from_wire(key)
                    );
                    prepared += usize::from(a.is_some());
                }
            }
        }
        assert!(prepared > keys.len() * 3, "{prepared}");
    }

    /// The entries walk visits every entry and every tail offset in it.
    #[test]
    fn entry_walk_covers_the_arena() {
        let zone = served(zone(200));
        let f = &zone.fast().base;
        let (mut at, mut entries, mut offsets) = (0, 0, 0);
        while at < f.entries.len() {
            let (pairs, next) = entry_pairs(&f.entries, at);
            for p in pairs {
                let t = u32_at(&f.entries, p);
                assert!(t == NONE || (t as usize) < f.tails.len());
                offsets += 1;
            }
            entries += 1;
            at = next;
        }
        assert_eq!(at, f.entries.len());
        assert_eq!(entries, zone.index().name_count());
        assert!(offsets >= 2 * entries);
    }
}

#[cfg(test)]
mod size_tests {
    use zonegate_core::dns::record::Soa;
    use zonegate_core::gate::Generation;
    use zonegate_core::{Limits, ParsedZone, Record};

    use super::*;
    use crate::options::ZoneOptions;

    /// A generated zone of `count` records: SOA, NS and `count - 2` hosts with one A each.
    fn large_zone(count: usize, serial: u32) -> zonegate_core::Zone {
        let origin = Name::parse("bench.test.").unwrap();
        let soa = Soa {
            mname: Name::parse("ns1.bench.test.").unwrap(),
            rname: Name::parse("hostmaster.bench.test.").unwrap(),
            serial,
            refresh: 3600,
            retry: 900,
            expire: 1209600,
            minimum: 300,
        };
        let mut records = vec![Record {
            owner: origin.clone(),
            rtype: RType::SOA,
            ttl: 3600,
            rdata: soa.to_rdata(),
        }];
        let mut ns = Vec::new();
        Name::parse("h0.bench.test.").unwrap().write_wire(&mut ns);
        records.push(Record {
            owner: origin.clone(),
            rtype: RType::NS,
            ttl: 3600,
            rdata: ns.into(),
        });
        for i in 0..count - 2 {
            records.push(Record {
                owner: Name::parse(&format!("h{i}.bench.test.")).unwrap(),
                rtype: RType::A,
                ttl: 3600,
                rdata: Box::new([10, (i >> 16) as u8, (i >> 8) as u8, i as u8]).into(),
            });
        }
        zonegate_core::zone::validate::validate(ParsedZone { origin, records }, &Limits::default())
            .unwrap()
    }

    /// Times an install of a generated zone prepared in full against one of a one-record
    /// change prepared over the previous generation, in one run. Run by hand, for 100k and
    /// 1M records: `ZONEGATE_SIZE_RECORDS=100000 cargo test --release -p zonegate-server
    /// install_time -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn install_time_full_and_incremental() {
        let count: usize = std::env::var("ZONEGATE_SIZE_RECORDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000);
        let opts = ZoneOptions::default();
        let first = large_zone(count, 1);
        let t = std::time::Instant::now();
        let old = ServedZone::build(Generation(1), first.clone(), 1, None, &opts);
        let old_build = t.elapsed();
        let t = std::time::Instant::now();
        old.prepare();
        let old_prepare = t.elapsed();
        // One record changed (h7's address), with the serial one higher.
        let mut records = first.records().to_vec();
        let at = records
            .iter()
            .position(|r| r.owner == Name::parse("h7.bench.test.").unwrap())
            .unwrap();
        records[at].rdata = Box::new([192, 0, 2, 77]).into();
        let soa = records.iter_mut().find(|r| r.rtype == RType::SOA).unwrap();
        let mut fields = soa.soa().unwrap();
        fields.serial = 2;
        soa.rdata = fields.to_rdata();
        let second = zonegate_core::zone::validate::validate(
            ParsedZone {
                origin: first.origin().clone(),
                records,
            },
            &Limits::default(),
        )
        .unwrap();
        let t = std::time::Instant::now();
        let delta = zonegate_core::zone::delta::ZoneDelta::between(&first, &second);
        let delta_took = t.elapsed();
        let t = std::time::Instant::now();
        let new = ServedZone::build(
            Generation(2),
            second.clone(),
            2,
            Some(&old.as_base()),
            &opts,
        );
        let new_build = t.elapsed();
        let t = std::time::Instant::now();
        new.prepare_after(&old);
        let incremental = t.elapsed();
        let t = std::time::Instant::now();
        let full = FastZone::build(&new);
        let full_prepare = t.elapsed();
        println!(
            "{count} records: first install build {old_build:?} + prepare {old_prepare:?}; \
             one-record change ({} records in the delta, between {delta_took:?}): build \
             {new_build:?} + incremental prepare {incremental:?} (overlay of {:?} names) \
             against full prepare {full_prepare:?}",
            delta.len(),
            new.fast().overlay_names(),
        );
        assert_eq!(new.fast().overlay_names(), Some(2), "h7 and the apex");
        drop(full);
    }

    /// Prints what the prepared answers of a large generated zone take, by structure. Run by
    /// hand: `cargo test --release -p zonegate-server size_of_a_large_zone -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn size_of_a_large_zone() {
        let count: usize = std::env::var("ZONEGATE_SIZE_RECORDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000);
        let origin = Name::parse("bench.test.").unwrap();
        let soa = Soa {
            mname: Name::parse("ns1.bench.test.").unwrap(),
            rname: Name::parse("hostmaster.bench.test.").unwrap(),
            serial: 1,
            refresh: 3600,
            retry: 900,
            expire: 1209600,
            minimum: 300,
        };
        let mut records = vec![Record {
            owner: origin.clone(),
            rtype: RType::SOA,
            ttl: 3600,
            rdata: soa.to_rdata(),
        }];
        let mut ns = Vec::new();
        Name::parse("h0.bench.test.").unwrap().write_wire(&mut ns);
        records.push(Record {
            owner: origin.clone(),
            rtype: RType::NS,
            ttl: 3600,
            rdata: ns.into(),
        });
        for i in 0..count - 2 {
            records.push(Record {
                owner: Name::parse(&format!("h{i}.bench.test.")).unwrap(),
                rtype: RType::A,
                ttl: 3600,
                rdata: Box::new([10, (i >> 16) as u8, (i >> 8) as u8, i as u8]).into(),
            });
        }
        let zone = zonegate_core::zone::validate::validate(
            ParsedZone {
                origin: origin.clone(),
                records,
            },
            &Limits::default(),
        )
        .unwrap();
        let t = std::time::Instant::now();
        let index = zonegate_core::lookup::ZoneIndex::new(zone.clone());
        let index_took = t.elapsed();
        let t = std::time::Instant::now();
        let converted: Vec<_> = index
            .records()
            .iter()
            .map(crate::convert::to_hickory)
            .collect();
        let convert_took = t.elapsed();
        drop((index, converted));
        // What an install builds: the served zone, then its prepared answers.
        let started = std::time::Instant::now();
        let served = ServedZone::build(Generation(1), zone, 1, None, &ZoneOptions::default());
        served.prepare();
        let took = started.elapsed();
        let t = std::time::Instant::now();
        drop(FastZone::build_with(&served, 1));
        let fast_took = t.elapsed();
        println!(
            "index {index_took:?}, hickory records {convert_took:?}, prepared answers on one \
             thread {fast_took:?}"
        );
        let f = &served.fast().base;
        let mb = |b: usize| b as f64 / 1e6;
        println!(
            "{count} records, install {took:?}: fast slots {:.1} MB, entries {:.1} MB, tails {:.1} MB; {:.1} octets of tails per name",
            mb(f.slots.len() * 8),
            mb(f.entries.len()),
            mb(f.tails.len()),
            f.tails.len() as f64 / count as f64,
        );
        println!(
            "capacities: entries {:.1} MB, tails {:.1} MB",
            mb(f.entries.capacity()),
            mb(f.tails.capacity())
        );
        println!(
            "hickory records: {} × {} octets = {:.1} MB; core record {} octets, name {} octets",
            served.hickory_records().count(),
            std::mem::size_of::<hickory_proto::rr::Record>(),
            mb(served.hickory_records().count() * std::mem::size_of::<hickory_proto::rr::Record>()),
            std::mem::size_of::<Record>(),
            std::mem::size_of::<Name>(),
        );
    }
}
