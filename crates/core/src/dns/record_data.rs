//! [`RecordData`]: the octets of one record's data, held in place when they are short.
//!
//! Most records of a large zone carry a few octets of data (an A record four, an AAAA sixteen).
//! Held in place, such a record costs no allocation of its own: copying a zone's record list
//! (every change to a zone makes the next generation's) is a copy of memory, not a million
//! allocations, and freeing one is not a million frees. Longer data lives on the heap.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Data of up to this many octets is held in place (the size of a [`crate::Name`]'s inline
/// form, so that a record stays two words of name and two of data).
const INLINE_MAX: usize = 22;

/// Where the octets are: in place (length, octets), or on the heap. Which one depends only
/// on the length; equality, order and hashing look at the octets alone.
#[derive(Clone)]
enum Repr {
    Inline(u8, [u8; INLINE_MAX]),
    Heap(Box<[u8]>),
}

/// A record's data octets (RFC 4034 §6.2 canonical wire form in a [`crate::Record`]). Derefs
/// to `[u8]`; compares, orders and hashes as its octets do.
#[derive(Clone)]
pub struct RecordData(Repr);

impl RecordData {
    /// The octets, copied.
    pub fn new(octets: &[u8]) -> RecordData {
        if octets.len() <= INLINE_MAX {
            let mut inline = [0u8; INLINE_MAX];
            inline[..octets.len()].copy_from_slice(octets);
            RecordData(Repr::Inline(octets.len() as u8, inline))
        } else {
            RecordData(Repr::Heap(octets.into()))
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline(len, octets) => &octets[..*len as usize],
            Repr::Heap(octets) => octets,
        }
    }
}

impl Default for RecordData {
    fn default() -> Self {
        RecordData::new(&[])
    }
}

impl Deref for RecordData {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for RecordData {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl From<&[u8]> for RecordData {
    fn from(octets: &[u8]) -> Self {
        RecordData::new(octets)
    }
}

impl<const N: usize> From<[u8; N]> for RecordData {
    fn from(octets: [u8; N]) -> Self {
        RecordData::new(&octets)
    }
}

impl<const N: usize> From<Box<[u8; N]>> for RecordData {
    fn from(octets: Box<[u8; N]>) -> Self {
        RecordData::new(&octets[..])
    }
}

impl From<Vec<u8>> for RecordData {
    fn from(octets: Vec<u8>) -> Self {
        match octets.len() <= INLINE_MAX {
            true => RecordData::new(&octets),
            false => RecordData(Repr::Heap(octets.into_boxed_slice())),
        }
    }
}

impl From<Box<[u8]>> for RecordData {
    fn from(octets: Box<[u8]>) -> Self {
        match octets.len() <= INLINE_MAX {
            true => RecordData::new(&octets),
            false => RecordData(Repr::Heap(octets)),
        }
    }
}

impl FromIterator<u8> for RecordData {
    fn from_iter<I: IntoIterator<Item = u8>>(octets: I) -> Self {
        octets.into_iter().collect::<Vec<u8>>().into()
    }
}

impl PartialEq for RecordData {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for RecordData {}

impl PartialEq<[u8]> for RecordData {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl PartialOrd for RecordData {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RecordData {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl Hash for RecordData {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl fmt::Debug for RecordData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_data_compare_as_their_octets() {
        let long: Vec<u8> = (0..40).collect();
        for len in [0, 1, 4, 16, INLINE_MAX, INLINE_MAX + 1, 40] {
            let octets = &long[..len];
            let forms = [
                RecordData::new(octets),
                RecordData::from(octets.to_vec()),
                RecordData::from(octets.to_vec().into_boxed_slice()),
            ];
            for f in &forms {
                assert_eq!(f.as_slice(), octets);
                assert_eq!(f, &forms[0]);
                assert_eq!(matches!(f.0, Repr::Inline(..)), len <= INLINE_MAX, "{len}");
            }
        }
        // Order is the octets' order, whichever form holds them.
        let a = RecordData::new(&long[..INLINE_MAX + 1]);
        let b = RecordData::new(&[1]);
        assert_eq!(a.cmp(&b), long[..INLINE_MAX + 1].cmp(&[1][..]));
        assert_eq!(std::mem::size_of::<RecordData>(), 24);
    }
}
