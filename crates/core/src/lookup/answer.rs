//! Answering a query from a [`ZoneIndex`] (RFC 1034 §4.3.2, RFC 4592 wildcards, RFC 6672
//! DNAME, RFC 2308 negative answers).

use super::{CHAIN_MAX, Cut, CutKind, DS, Node, ZoneIndex, ancestor_at, parent_at};
use crate::dns::name::Name;
use crate::dns::record::{RType, Record};

/// A response code (RFC 1035 §4.1.1, RFC 2136 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rcode {
    NoError,
    FormErr,
    ServFail,
    NxDomain,
    NotImp,
    Refused,
    /// RFC 6672 §2.2: a DNAME substitution produced a name that is too long.
    YxDomain,
}

impl Rcode {
    /// The numeric RCODE.
    pub fn code(self) -> u16 {
        match self {
            Rcode::NoError => 0,
            Rcode::FormErr => 1,
            Rcode::ServFail => 2,
            Rcode::NxDomain => 3,
            Rcode::NotImp => 4,
            Rcode::Refused => 5,
            Rcode::YxDomain => 6,
        }
    }
}

/// An answer with its records materialised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub rcode: Rcode,
    /// The AA bit: false for referrals and refusals.
    pub authoritative: bool,
    pub answer: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
}

/// One record of a [`Resolution`], by reference to the zone where it can be.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Item {
    /// `records()[i]` as stored.
    Stored(usize),
    /// `records()[index]` with its owner replaced by `owner`: wildcard synthesis (RFC 4592).
    Wildcard { index: usize, owner: Name },
    /// The apex SOA with its TTL lowered to the SOA minimum if that is smaller (RFC 2308 §3),
    /// as [`ZoneIndex::negative_soa`] returns it.
    NegativeSoa,
    /// A record that is in no zone: the CNAME a DNAME synthesises (RFC 6672 §3.2).
    Synthesized(Record),
}

/// An answer as [`Item`]s. [`ZoneIndex::materialize`] turns an item into a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resolution {
    pub rcode: Rcode,
    pub authoritative: bool,
    pub answer: Vec<Item>,
    pub authority: Vec<Item>,
    pub additional: Vec<Item>,
}

impl Resolution {
    fn new() -> Self {
        Resolution {
            rcode: Rcode::NoError,
            authoritative: true,
            answer: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
        }
    }
}

/// What one step of the chase decided.
enum Step {
    Done,
    /// Continue with this name (a CNAME target or a DNAME substitution).
    Follow(Name),
}

impl ZoneIndex {
    /// The record an item stands for.
    pub fn materialize(&self, item: &Item) -> Record {
        match item {
            Item::Stored(i) => self.records()[*i].clone(),
            Item::Wildcard { index, owner } => {
                let mut r = self.records()[*index].clone();
                r.owner = owner.clone();
                r
            }
            Item::NegativeSoa => self
                .negative_soa
                .clone()
                .expect("NegativeSoa is only used when there is an SOA"),
            Item::Synthesized(r) => r.clone(),
        }
    }

    /// The answer for a name that does not exist when its closest existing ancestor has
    /// [`NameShape::nxdomain_below`]: NXDOMAIN with the negative SOA (RFC 2308 §2.1).
    pub fn nxdomain(&self) -> Resolution {
        let mut res = Resolution::new();
        res.rcode = Rcode::NxDomain;
        self.push_negative(&mut res);
        res
    }

    /// Answers `qname`/`qtype` with the records materialised.
    pub fn lookup(&self, qname: &Name, qtype: RType) -> Answer {
        let res = self.resolve(qname, qtype);
        let all = |items: &[Item]| items.iter().map(|i| self.materialize(i)).collect();
        Answer {
            rcode: res.rcode,
            authoritative: res.authoritative,
            answer: all(&res.answer),
            authority: all(&res.authority),
            additional: all(&res.additional),
        }
    }

    /// Answers `qname`/`qtype` (RFC 1034 §4.3.2). A name outside the zone is `Refused`.
    pub fn resolve(&self, qname: &Name, qtype: RType) -> Resolution {
        let mut res = Resolution::new();
        if !qname.is_at_or_below(self.origin()) {
            res.rcode = Rcode::Refused;
            res.authoritative = false;
            return res;
        }
        let mut name = qname.clone();
        let mut visited: Vec<Name> = Vec::new();
        for _ in 0..=CHAIN_MAX {
            match self.step(&name, qtype, &mut res) {
                Step::Done => break,
                Step::Follow(next) => {
                    if !next.is_at_or_below(self.origin())
                        || next == name
                        || visited.contains(&next)
                    {
                        break;
                    }
                    visited.push(std::mem::replace(&mut name, next));
                }
            }
        }
        self.add_additional(&mut res);
        res
    }

    /// One name of the chase: RFC 1034 §4.3.2 steps 3a–3c.
    fn step(&self, name: &Name, qtype: RType, res: &mut Resolution) -> Step {
        let w = name.wire();
        let labels = name.label_count();
        if let Some(node) = self.find(w) {
            if let Some(cut) = node.above {
                return self.interrupted(name, w, cut, res);
            }
            if name != self.origin() && self.has(node, RType::NS) && qtype != DS {
                self.referral(node, res);
                return Step::Done;
            }
            return self.answer_at(name, node, false, qtype, res);
        }

        // The name does not exist: find its closest encloser. The origin always exists and
        // encloses every name asked here.
        let (mut at, mut enc_labels) = (parent_at(w, 0), labels - 1);
        let enc_node = loop {
            if let Some(node) = self.find(&w[at..]) {
                break node;
            }
            (at, enc_labels) = (parent_at(w, at), enc_labels - 1);
        };
        if let Some(cut) = enc_node.above {
            return self.interrupted(name, w, cut, res);
        }
        let is_apex = enc_labels == self.origin().label_count();
        if !is_apex && self.has(enc_node, RType::NS) {
            self.referral(enc_node, res);
            return Step::Done;
        }
        if self.has(enc_node, RType::DNAME) {
            let encloser = name.ancestor_with_labels(enc_labels).expect("an ancestor");
            return self.dname(name, &encloser, enc_node, res);
        }
        // RFC 4592 §3.3.1: the source of synthesis is `*.<closest encloser>`.
        if enc_node.wild_child {
            let mut wild = Vec::with_capacity(2 + w.len() - at);
            wild.extend_from_slice(&[1, b'*']);
            wild.extend_from_slice(&w[at..]);
            let wnode = self.find(&wild).expect("a wildcard child is indexed");
            return self.answer_at(name, wnode, true, qtype, res);
        }
        // What `nxdomain` returns, after the chain so far.
        res.rcode = Rcode::NxDomain;
        self.push_negative(res);
        Step::Done
    }

    /// The descent to `name` (wire form `w`) met a zone cut or a DNAME above it.
    fn interrupted(&self, name: &Name, w: &[u8], cut: Cut, res: &mut Resolution) -> Step {
        let at = ancestor_at(w, name.label_count(), cut.labels as usize);
        let node = self.find(&w[at..]).expect("the cut is indexed");
        match cut.kind {
            CutKind::Delegation => {
                self.referral(node, res);
                Step::Done
            }
            CutKind::Dname => {
                let owner = name
                    .ancestor_with_labels(cut.labels as usize)
                    .expect("the cut is an ancestor");
                self.dname(name, &owner, node, res)
            }
        }
    }

    /// RFC 1034 §4.3.2 step 3b: the NS set of the cut in the authority section. The glue is
    /// added with the other additional records.
    fn referral(&self, cut: &Node, res: &mut Resolution) {
        if let Some(range) = self.rrset(cut, RType::NS) {
            res.authority.extend(range.map(Item::Stored));
        }
        if res.answer.is_empty() {
            res.authoritative = false;
        }
    }

    /// RFC 6672 §3.2: the DNAME, then the CNAME it synthesises for `name`.
    fn dname(&self, name: &Name, owner: &Name, node: &Node, res: &mut Resolution) -> Step {
        let Some(range) = self.rrset(node, RType::DNAME) else {
            return Step::Done;
        };
        let index = range.start;
        let dname = &self.records()[index];
        res.answer.push(Item::Stored(index));
        let Some(target) = dname.target_name() else {
            return Step::Done;
        };
        let Ok(next) = name.replace_suffix(owner, &target) else {
            res.rcode = Rcode::YxDomain;
            return Step::Done;
        };
        let mut rdata = Vec::with_capacity(next.wire_len());
        next.write_wire(&mut rdata);
        res.answer.push(Item::Synthesized(Record {
            owner: name.clone(),
            rtype: RType::CNAME,
            ttl: dname.ttl,
            rdata: rdata.into(),
        }));
        if target.is_at_or_below(owner) {
            // The DNAME points below itself: every substitution lands under it again and the
            // name only grows. Stop after one, as NSD does, rather than grow it CHAIN_MAX times.
            return Step::Done;
        }
        Step::Follow(next)
    }

    /// RFC 1034 §4.3.2 step 3a (or 3c with a wildcard node): the data at `node` for `name`.
    fn answer_at(
        &self,
        name: &Name,
        node: &Node,
        wildcard: bool,
        qtype: RType,
        res: &mut Resolution,
    ) -> Step {
        let item = |index: usize| {
            if wildcard {
                Item::Wildcard {
                    index,
                    owner: name.clone(),
                }
            } else {
                Item::Stored(index)
            }
        };
        let cname = self
            .rrset(node, RType::CNAME)
            .filter(|_| qtype != RType::CNAME && qtype != RType::ANY);
        if let Some(range) = cname {
            let target = self.records()[range.start].target_name();
            res.answer.extend(range.map(item));
            return target.map_or(Step::Done, Step::Follow);
        }
        let before = res.answer.len();
        if qtype == RType::ANY {
            for set in self.sets(node) {
                res.answer.extend(self.range(set).map(item));
            }
        } else if let Some(range) = self.rrset(node, qtype) {
            res.answer.extend(range.map(item));
        }
        if res.answer.len() == before {
            // NODATA (RFC 2308 §2.2).
            self.push_negative(res);
        }
        Step::Done
    }

    fn push_negative(&self, res: &mut Resolution) {
        if self.negative_soa.is_some() {
            res.authority.push(Item::NegativeSoa);
        }
    }

    /// The target name of an NS, MX or SRV item.
    fn additional_target(&self, item: &Item) -> Option<Name> {
        let index = match item {
            Item::Stored(i) | Item::Wildcard { index: i, .. } => *i,
            Item::NegativeSoa | Item::Synthesized(_) => return None,
        };
        let r = &self.records()[index];
        matches!(r.rtype, RType::NS | RType::MX | RType::SRV)
            .then(|| r.target_name())
            .flatten()
    }

    /// RFC 1034 §4.3.2 step 6 and RFC 1035 §3.3: address records of NS, MX and SRV targets
    /// the zone holds (glue included), each once and never repeating the answer section.
    fn add_additional(&self, res: &mut Resolution) {
        let targets: Vec<Name> = res
            .answer
            .iter()
            .chain(res.authority.iter())
            .filter_map(|item| self.additional_target(item))
            .collect();
        for target in targets {
            let Some(node) = self.node(&target) else {
                continue;
            };
            for rtype in [RType::A, RType::AAAA] {
                if let Some(range) = self.rrset(node, rtype) {
                    for i in range {
                        let item = Item::Stored(i);
                        if !res.answer.contains(&item) && !res.additional.contains(&item) {
                            res.additional.push(item);
                        }
                    }
                }
            }
        }
    }
}
