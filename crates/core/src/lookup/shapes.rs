//! How the answers at each name depend on the query type, so that a server can prepare them
//! when a generation is installed.

use std::ops::Range;

use super::{Cut, CutKind, DS, ZoneIndex, name_of};
use crate::dns::record::RType;

/// How the answers at one existing name depend on the query type, so that a server can
/// prepare them when a generation is installed. See [`ZoneIndex::shapes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameShape {
    /// Query types whose answers at this name are worth preparing one by one.
    pub types: Vec<RType>,
    /// A query type whose answer at this name every query type shares except those in
    /// `types`, ANY and the meta types (0, OPT, 128-255), or `None` if the answer depends
    /// on the type in other ways (a CNAME or DNAME to chase).
    pub others: Option<RType>,
    /// True if every name directly or indirectly below this one that does not exist, and
    /// whose closest existing ancestor is this name, is NXDOMAIN with just the negative SOA
    /// (no zone cut or DNAME above or at this name, and no wildcard child).
    pub nxdomain_below: bool,
}

impl ZoneIndex {
    /// Every existing name (uncompressed wire form, lower case) with how its answers depend
    /// on the query type. The name's answers themselves are [`ZoneIndex::resolve`]'s; this
    /// only says which query types share one, which is what the lookup algorithm below
    /// decides:
    /// - below a zone cut, every type gets the same referral;
    /// - below a DNAME, the answer chases the substitution with the type: nothing shared;
    /// - at a zone cut, DS is answered from the parent side, every other type is referred;
    /// - at a CNAME, CNAME and ANY stop there and the rest chase it with their type: A and
    ///   AAAA are listed, nothing else is shared;
    /// - anywhere else, each type present is answered and every other type is NODATA.
    pub fn shapes(&self) -> impl Iterator<Item = (&[u8], NameShape)> + '_ {
        self.shapes_of(0..self.nodes.len())
    }

    /// How many names exist in the zone (owners and empty non-terminals): what
    /// [`ZoneIndex::shapes`] yields.
    pub fn name_count(&self) -> usize {
        self.nodes.len()
    }

    /// [`ZoneIndex::shapes`] from the `range` of its names, so that several threads can each
    /// take a part.
    pub fn shapes_of(&self, range: Range<usize>) -> impl Iterator<Item = (&[u8], NameShape)> + '_ {
        self.nodes.range(range).map(|node| self.shape(node))
    }

    /// The shape of the existing name whose wire form is `name` (lower case), or `None` if
    /// it does not exist: what [`ZoneIndex::shapes`] yields for it, for a server that prepares
    /// only the names a change touched.
    pub fn shape_of(&self, name: &[u8]) -> Option<(&[u8], NameShape)> {
        self.find(name).map(|node| self.shape(node))
    }

    /// Every existing name's wire form, in the order of [`ZoneIndex::shapes`], without the
    /// cost of working out the shapes.
    pub fn names(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.nodes.iter().map(|node| name_of(&self.zone, node))
    }

    fn shape(&self, node: &super::Node) -> (&[u8], NameShape) {
        let origin_len = self.origin().wire_len();
        {
            let w = name_of(&self.zone, node);
            let is_apex = w.len() == origin_len;
            let present: Vec<RType> = self.sets(node).iter().map(|s| s.rtype).collect();
            // A type this name has no records of, which the lookup treats like any other.
            let absent = (1..=u16::MAX)
                .rev()
                .map(RType)
                .find(|t| !present.contains(t))
                .expect("a node holds fewer than 65535 types");
            let shape = match node.above {
                Some(Cut {
                    kind: CutKind::Delegation,
                    ..
                }) => NameShape {
                    types: Vec::new(),
                    others: Some(absent),
                    nxdomain_below: false,
                },
                Some(Cut {
                    kind: CutKind::Dname,
                    ..
                }) => NameShape {
                    types: Vec::new(),
                    others: None,
                    nxdomain_below: false,
                },
                None if !is_apex && self.has(node, RType::NS) => NameShape {
                    types: vec![DS],
                    others: Some(absent),
                    nxdomain_below: false,
                },
                None if self.has(node, RType::CNAME) => {
                    let mut types = present;
                    for t in [RType::A, RType::AAAA] {
                        if !types.contains(&t) {
                            types.push(t);
                        }
                    }
                    NameShape {
                        types,
                        others: None,
                        nxdomain_below: false,
                    }
                }
                None => NameShape {
                    nxdomain_below: !self.has(node, RType::DNAME) && !node.wild_child,
                    types: present,
                    others: Some(absent),
                },
            };
            (w, shape)
        }
    }
}
