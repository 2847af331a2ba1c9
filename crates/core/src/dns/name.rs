//! Domain names in canonical form.
//!
//! A [`Name`] is always absolute and always lower case (ASCII case folding, RFC 4343), so two
//! names that DNS treats as equal are equal here too, and ordering is the canonical DNS order of
//! RFC 4034 §6.1 (compare label by label from the root, as bytes).
//!
//! # Representation
//!
//! A name is its uncompressed wire form, lower-cased (length octet, label, ..., the root's zero
//! octet), in one buffer: inside the name itself when it is at most 22 octets (most names in
//! real zones), else in one heap allocation. A zone holds millions of names, so no allocation,
//! or one, rather than one per label is most of what a name costs. Label boundaries are found by
//! walking the length octets, which for real names is a handful of steps; equality and hashing
//! are those of the bytes, which is right because the form is canonical (length octets are at
//! most 63, below `A`, so lower-casing the whole buffer only touches label octets).

use std::cmp::Ordering;
use std::fmt;

/// Longest name on the wire, RFC 1035 §2.3.4.
pub const NAME_WIRE_MAX: usize = 255;
/// Longest label, RFC 1035 §2.3.4.
pub const LABEL_MAX: usize = 63;
/// Most labels a name can have (each takes at least two octets, plus the root's one).
const LABELS_MAX: usize = NAME_WIRE_MAX / 2;

/// An absolute, lower-cased domain name.
#[derive(Clone)]
pub struct Name {
    /// The uncompressed wire form, lower case, ending with the root's zero octet. Always a
    /// well-formed name of at most [`NAME_WIRE_MAX`] octets.
    repr: Repr,
}

/// Wire forms of up to this many octets are held in the name itself, without an allocation.
const INLINE_MAX: usize = 22;

/// Where a name's wire form is: in place (length, octets) when it is short, else on the
/// heap. Which one depends only on the length, but equality never looks at it.
#[derive(Clone)]
enum Repr {
    Inline(u8, [u8; INLINE_MAX]),
    Heap(Box<[u8]>),
}

/// Why bytes could not be turned into a [`Name`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    #[error("label longer than {LABEL_MAX} octets")]
    LabelTooLong,
    #[error("name longer than {NAME_WIRE_MAX} octets on the wire")]
    NameTooLong,
    #[error("empty label")]
    EmptyLabel,
    #[error("truncated or compressed wire name")]
    BadWire,
    #[error("name is not absolute (no trailing dot) and no origin is known")]
    Relative,
}

/// The offset of every label's length octet in a well-formed wire name, leftmost first, and
/// how many there are.
fn label_offsets(wire: &[u8]) -> ([u8; LABELS_MAX], usize) {
    let mut offsets = [0u8; LABELS_MAX];
    let (mut at, mut n) = (0usize, 0usize);
    while wire[at] != 0 {
        offsets[n] = at as u8;
        n += 1;
        at += 1 + wire[at] as usize;
    }
    (offsets, n)
}

/// The label whose length octet is at `at`.
fn label_at(wire: &[u8], at: u8) -> &[u8] {
    let at = at as usize;
    &wire[at + 1..at + 1 + wire[at] as usize]
}

/// The labels of a name, leftmost first, from both ends.
#[derive(Clone)]
pub struct Labels<'a> {
    wire: &'a [u8],
    offsets: [u8; LABELS_MAX],
    front: usize,
    back: usize,
}

impl<'a> Labels<'a> {
    fn label(&self, i: usize) -> &'a [u8] {
        label_at(self.wire, self.offsets[i])
    }
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        (self.front < self.back).then(|| {
            self.front += 1;
            self.label(self.front - 1)
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Labels<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        (self.front < self.back).then(|| {
            self.back -= 1;
            self.label(self.back)
        })
    }
}

impl ExactSizeIterator for Labels<'_> {}

impl Name {
    /// The root name `.`.
    pub fn root() -> Self {
        Name::of(&[0])
    }

    /// Builds a name from labels, leftmost first. Labels are lower-cased.
    pub fn from_labels<I, L>(labels: I) -> Result<Self, NameError>
    where
        I: IntoIterator<Item = L>,
        L: AsRef<[u8]>,
    {
        // Built in place: a name is made for every record a zone file holds.
        // A bad label is reported before a name that is too long, wherever it is.
        let mut out = [0u8; NAME_WIRE_MAX];
        let (mut len, mut too_long) = (0, false);
        for l in labels {
            let l = l.as_ref();
            if l.is_empty() {
                return Err(NameError::EmptyLabel);
            }
            if l.len() > LABEL_MAX {
                return Err(NameError::LabelTooLong);
            }
            // The label, its length octet and the root's octet must fit.
            too_long |= len + 1 + l.len() + 1 > NAME_WIRE_MAX;
            if !too_long {
                out[len] = l.len() as u8;
                out[len + 1..len + 1 + l.len()].copy_from_slice(l);
                out[len + 1..len + 1 + l.len()].make_ascii_lowercase();
                len += 1 + l.len();
            }
        }
        if too_long {
            return Err(NameError::NameTooLong);
        }
        out[len] = 0;
        Ok(Name::of(&out[..len + 1]))
    }

    /// Parses an absolute name in presentation format, e.g. `www.example.com.`.
    /// Supports `\DDD` and `\X` escapes. `.` alone is the root.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        if text == "." {
            return Ok(Self::root());
        }
        if !text.ends_with('.') || text.ends_with("\\.") && !text.ends_with("\\\\.") {
            return Err(NameError::Relative);
        }
        let bytes = text.as_bytes();
        // The wire form, built in place: `start` is the current label's length octet.
        let mut out: Vec<u8> = Vec::with_capacity(bytes.len() + 1);
        let mut start = 0;
        out.push(0);
        // A bad label is reported after the whole text scanned, as escapes are checked first.
        let mut label_error = None;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            match b {
                b'\\' => {
                    if i + 3 < bytes.len()
                        && bytes[i + 1].is_ascii_digit()
                        && bytes[i + 2].is_ascii_digit()
                        && bytes[i + 3].is_ascii_digit()
                    {
                        let v = (bytes[i + 1] - b'0') as u32 * 100
                            + (bytes[i + 2] - b'0') as u32 * 10
                            + (bytes[i + 3] - b'0') as u32;
                        if v > 255 {
                            return Err(NameError::BadWire);
                        }
                        out.push((v as u8).to_ascii_lowercase());
                        i += 4;
                    } else if i + 1 < bytes.len() {
                        out.push(bytes[i + 1].to_ascii_lowercase());
                        i += 2;
                    } else {
                        return Err(NameError::BadWire);
                    }
                }
                b'.' => {
                    let len = out.len() - start - 1;
                    if len == 0 {
                        label_error.get_or_insert(NameError::EmptyLabel);
                    } else if len > LABEL_MAX {
                        label_error.get_or_insert(NameError::LabelTooLong);
                    }
                    out[start] = len as u8;
                    start = out.len();
                    out.push(0);
                    i += 1;
                }
                _ => {
                    out.push(b.to_ascii_lowercase());
                    i += 1;
                }
            }
        }
        // The trailing dot leaves one empty label at the end: its length octet is the root's.
        debug_assert_eq!(start, out.len() - 1);
        if let Some(e) = label_error {
            return Err(e);
        }
        if out.len() > NAME_WIRE_MAX {
            return Err(NameError::NameTooLong);
        }
        Ok(Name::of(&out))
    }

    /// Reads an uncompressed wire-format name from the front of `wire`, returning it and the
    /// number of octets consumed.
    pub fn from_wire(wire: &[u8]) -> Result<(Self, usize), NameError> {
        let mut pos = 0;
        loop {
            let len = *wire.get(pos).ok_or(NameError::BadWire)? as usize;
            pos += 1;
            if len == 0 {
                break;
            }
            if len > LABEL_MAX {
                return Err(NameError::BadWire);
            }
            if wire.len() < pos + len {
                return Err(NameError::BadWire);
            }
            pos += len;
        }
        if pos > NAME_WIRE_MAX {
            return Err(NameError::NameTooLong);
        }
        let mut name = Name::of(&wire[..pos]);
        match &mut name.repr {
            Repr::Inline(len, bytes) => bytes[..*len as usize].make_ascii_lowercase(),
            Repr::Heap(bytes) => bytes.make_ascii_lowercase(),
        }
        Ok((name, pos))
    }

    /// The uncompressed wire form, lower case.
    pub fn wire(&self) -> &[u8] {
        match &self.repr {
            Repr::Inline(len, bytes) => &bytes[..*len as usize],
            Repr::Heap(bytes) => bytes,
        }
    }

    /// The name whose wire form is `wire`, which must be well formed and lower case.
    fn of(wire: &[u8]) -> Name {
        let repr = if wire.len() <= INLINE_MAX {
            let mut bytes = [0; INLINE_MAX];
            bytes[..wire.len()].copy_from_slice(wire);
            Repr::Inline(wire.len() as u8, bytes)
        } else {
            Repr::Heap(wire.into())
        };
        Name { repr }
    }

    /// Appends the uncompressed wire form.
    pub fn write_wire(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.wire());
    }

    /// Length of the uncompressed wire form.
    pub fn wire_len(&self) -> usize {
        self.wire().len()
    }

    /// Labels, leftmost first.
    pub fn labels(&self) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator {
        let (offsets, n) = label_offsets(self.wire());
        Labels {
            wire: self.wire(),
            offsets,
            front: 0,
            back: n,
        }
    }

    /// Number of labels, not counting the root.
    pub fn label_count(&self) -> usize {
        let (mut at, mut n) = (0, 0);
        let w = self.wire();
        while w[at] != 0 {
            n += 1;
            at += 1 + w[at] as usize;
        }
        n
    }

    pub fn is_root(&self) -> bool {
        self.wire().len() == 1
    }

    /// The offset of the suffix of `self`'s wire form that drops `skip` leftmost labels, if
    /// it has that many.
    fn skip_labels(&self, skip: usize) -> usize {
        let w = self.wire();
        (0..skip).fold(0, |at, _| at + 1 + w[at] as usize)
    }

    /// True if `self` is `other` or below it.
    pub fn is_at_or_below(&self, other: &Name) -> bool {
        let (w, o) = (self.wire(), other.wire());
        let Some(at) = w.len().checked_sub(o.len()) else {
            return false;
        };
        if w[at..] != *o {
            return false;
        }
        // The suffix must start at a label boundary.
        let mut i = 0;
        while i < at {
            i += 1 + w[i] as usize;
        }
        i == at
    }

    /// True if `self` is strictly below `other`.
    pub fn is_below(&self, other: &Name) -> bool {
        self.wire().len() > other.wire().len() && self.is_at_or_below(other)
    }

    /// The name with its leftmost label removed; `None` for the root.
    pub fn parent(&self) -> Option<Name> {
        (!self.is_root()).then(|| Name::of(&self.wire()[1 + self.wire()[0] as usize..]))
    }

    /// The ancestor of `self` with `count` labels; `None` if `self` has fewer labels.
    pub fn ancestor_with_labels(&self, count: usize) -> Option<Name> {
        let n = self.label_count();
        (count <= n).then(|| Name::of(&self.wire()[self.skip_labels(n - count)..]))
    }

    /// True if the leftmost label is `*`.
    pub fn is_wildcard(&self) -> bool {
        self.wire().starts_with(b"\x01*")
    }

    /// `*.<self>`.
    pub fn wildcard_child(&self) -> Result<Name, NameError> {
        if self.wire().len() + 2 > NAME_WIRE_MAX {
            return Err(NameError::NameTooLong);
        }
        let mut out = Vec::with_capacity(self.wire().len() + 2);
        out.extend_from_slice(b"\x01*");
        out.extend_from_slice(self.wire());
        Ok(Name::of(&out))
    }

    /// Replaces the suffix `old` of `self` by `new` (DNAME substitution, RFC 6672 §2.2).
    pub fn replace_suffix(&self, old: &Name, new: &Name) -> Result<Name, NameError> {
        debug_assert!(self.is_at_or_below(old));
        let keep = self.wire().len().saturating_sub(old.wire().len());
        let len = keep + new.wire().len();
        if len > NAME_WIRE_MAX {
            return Err(NameError::NameTooLong);
        }
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&self.wire()[..keep]);
        out.extend_from_slice(new.wire());
        Ok(Name::of(&out))
    }
}

impl Name {
    /// A key for sorting many names in canonical order that share an ancestor: its wire form
    /// is the last `suffix` octets of every one of them. The key holds the first octets of
    /// the labels below that ancestor, read from the ancestor down, so that for any two such
    /// names `a < b` implies `a.order_key(s) <= b.order_key(s)`: different keys decide the
    /// order, equal keys leave it to [`Ord::cmp`].
    ///
    /// Each octet `o` is the symbol `o + 1` and each label ends with the symbol 0, which sorts
    /// a label before every longer label it begins and a name before the names below it. The
    /// octets 254 and 255 share the symbol 255, so the key stops there (the rest is zero)
    /// rather than telling them apart by what follows.
    pub(crate) fn order_key(&self, suffix: usize) -> u64 {
        let w = self.wire();
        let below = &w[..w.len() - suffix];
        let mut offsets = [0u8; LABELS_MAX];
        let (mut at, mut n) = (0, 0);
        while at < below.len() {
            offsets[n] = at as u8;
            n += 1;
            at += 1 + below[at] as usize;
        }
        let (mut key, mut filled) = (0u64, 0u32);
        for &offset in offsets[..n].iter().rev() {
            for &octet in label_at(below, offset) {
                if filled == 8 {
                    return key;
                }
                filled += 1;
                if octet >= 254 {
                    return key | 255 << (64 - 8 * filled);
                }
                key |= u64::from(octet + 1) << (64 - 8 * filled);
            }
            // The label's end: the symbol 0.
            filled += 1;
            if filled >= 8 {
                return key;
            }
        }
        key
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.wire(), other.wire());
        // Names in one zone mostly share their ending (the origin): find the labels both end
        // with, then the labels just before them decide. `k` octets at the end are equal (at
        // least the root's zero); in each name, `at` is the first label boundary within them
        // and `before` the start of the label ending there.
        let (la, lb) = (a.len(), b.len());
        let mut k = 0;
        while k < la && k < lb && a[la - 1 - k] == b[lb - 1 - k] {
            k += 1;
        }
        if k == la && k == lb {
            return Ordering::Equal;
        }
        let split = |w: &[u8]| {
            let (mut before, mut at) = (None, 0);
            while w.len() - at > k {
                before = Some(at);
                at += 1 + w[at] as usize;
            }
            (before, w.len() - at)
        };
        let ((a_before, a_tail), (b_before, b_tail)) = (split(a), split(b));
        if a_tail != b_tail {
            // The equal octets split into labels differently in each name (a label holding
            // octets that look like lengths): compare label by label.
            return cmp_labels(a, b);
        }
        // The last `a_tail` octets are the same labels in both names.
        match (a_before, b_before) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => cmp_octets(label_at(a, x as u8), label_at(b, y as u8)),
        }
    }
}

/// The order of two labels as octet strings. Labels are short, and a loop beats a call to
/// `memcmp` for them.
fn cmp_octets(a: &[u8], b: &[u8]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// RFC 4034 §6.1 order of two wire names: compare from the most significant (rightmost)
/// label, as octet strings.
fn cmp_labels(a: &[u8], b: &[u8]) -> Ordering {
    let (a_at, a_n) = label_offsets(a);
    let (b_at, b_n) = label_offsets(b);
    let mut x = a_at[..a_n].iter().rev().map(|&at| label_at(a, at));
    let mut y = b_at[..b_n].iter().rev().map(|&at| label_at(b, at));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(l), Some(m)) => match l.cmp(m) {
                Ordering::Equal => continue,
                o => return o,
            },
        }
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        match (&self.repr, &other.repr) {
            // The octets after an inline name are always zero (`Name::of`), so two inline
            // names are equal exactly when their whole buffers are: a fixed-size comparison,
            // which a zone's millions of owner comparisons make worth having.
            (Repr::Inline(a, x), Repr::Inline(b, y)) => a == b && x == y,
            _ => self.wire() == other.wire(),
        }
    }
}

impl Eq for Name {}

impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // The wire form delimits itself (it ends at the root's zero octet), so no length.
        state.write(self.wire());
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for l in self.labels() {
            // Runs of octets that print as themselves are written at once.
            let mut rest = l;
            while !rest.is_empty() {
                let plain = rest
                    .iter()
                    .position(|&b| !is_plain(b))
                    .unwrap_or(rest.len());
                let (run, tail) = rest.split_at(plain);
                f.write_str(std::str::from_utf8(run).expect("plain octets are ASCII"))?;
                let Some((&b, tail)) = tail.split_first() else {
                    break;
                };
                match b {
                    b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                        write!(f, "\\{}", b as char)?
                    }
                    _ => write!(f, "\\{b:03}")?,
                }
                rest = tail;
            }
            f.write_str(".")?;
        }
        Ok(())
    }
}

/// True for the octets a name prints as themselves: visible ASCII other than the special
/// characters of master files.
fn is_plain(b: u8) -> bool {
    matches!(b, 0x21..=0x7e) && !matches!(b, b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$')
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

impl std::str::FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Name::parse(s)
    }
}

impl serde::Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Name::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::n;

    #[test]
    fn parse_display_and_order() {
        let a = Name::parse("WWW.Example.com.").unwrap();
        assert_eq!(a.to_string(), "www.example.com.");
        let zone = Name::parse("example.com.").unwrap();
        assert!(a.is_below(&zone));
        assert!(!zone.is_below(&zone));
        assert!(zone.is_at_or_below(&zone));
        let z = Name::parse("z.example.com.").unwrap();
        let b = Name::parse("b.z.example.com.").unwrap();
        // Canonical order compares labels from the root: "www" sorts before "z".
        assert!(zone < a);
        assert!(a < z);
        assert!(z < b);
        let mut wire = Vec::new();
        a.write_wire(&mut wire);
        assert_eq!(Name::from_wire(&wire).unwrap(), (a.clone(), wire.len()));
        assert_eq!(Name::parse("a\\.b.c.").unwrap().label_count(), 2);
        assert!(matches!(Name::parse("rel"), Err(NameError::Relative)));
    }

    #[test]
    fn order_key_never_contradicts_the_order() {
        let mut next = crate::testkit::xorshift(0xda94_2042_e4dd_58b5);
        let labels = crate::testkit::HARD_LABELS;
        for ancestor in [Name::root(), n("ex."), n("a.b.ex.")] {
            let names: Vec<Name> = (0..400)
                .map(|_| {
                    let mut wire = Vec::new();
                    for _ in 0..next() % 5 {
                        let l = labels[next() as usize % labels.len()];
                        wire.push(l.len() as u8);
                        wire.extend_from_slice(l);
                    }
                    wire.extend_from_slice(ancestor.wire());
                    Name::from_wire(&wire).unwrap().0
                })
                .collect();
            let suffix = ancestor.wire_len();
            for a in &names {
                for b in &names {
                    if a < b {
                        assert!(
                            a.order_key(suffix) <= b.order_key(suffix),
                            "{a:?} < {b:?} but the keys are {:x} > {:x}",
                            a.order_key(suffix),
                            b.order_key(suffix)
                        );
                    }
                }
            }
            // The key decides most pairs: it is not constant.
            let keys: std::collections::HashSet<u64> =
                names.iter().map(|a| a.order_key(suffix)).collect();
            assert!(keys.len() > 50, "{} distinct keys", keys.len());
        }
        assert_eq!(n("ex.").order_key(4), 0);
        assert_eq!(n("ab.ex.").order_key(4), 0x6263_0000_0000_0000);
        assert_eq!(n("c.ab.ex.").order_key(4), 0x6263_0064_0000_0000);
    }

    #[test]
    fn display_escapes_like_the_octet_by_octet_form() {
        // The presentation form written one octet at a time, as it was before runs.
        fn reference(name: &Name) -> String {
            if name.is_root() {
                return ".".into();
            }
            let mut out = String::new();
            for l in name.labels() {
                for &b in l {
                    match b {
                        b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                            out.push('\\');
                            out.push(b as char);
                        }
                        0x21..=0x7e => out.push(b as char),
                        _ => out.push_str(&format!("\\{b:03}")),
                    }
                }
                out.push('.');
            }
            out
        }
        let mut next = crate::testkit::xorshift(0x6a09_e667_f3bc_c908);
        for _ in 0..3000 {
            let labels: Vec<Vec<u8>> = (0..next() % 4)
                .map(|_| {
                    (0..1 + next() % 6)
                        .map(|_| match next() % 3 {
                            0 => {
                                let specials = b"az09-.\\\"();@$ *";
                                specials[next() as usize % specials.len()]
                            }
                            _ => next() as u8,
                        })
                        .collect()
                })
                .collect();
            let name = Name::from_labels(&labels).unwrap();
            let text = name.to_string();
            assert_eq!(text, reference(&name));
            assert_eq!(Name::parse(&text).unwrap(), name);
        }
    }

    #[test]
    fn one_buffer_in_wire_form() {
        let a = n("WWW.Example.COM.");
        assert_eq!(a.wire(), b"\x03www\x07example\x03com\x00");
        assert_eq!(a.wire_len(), a.wire().len());
        assert_eq!(Name::root().wire(), b"\x00");
        assert!(Name::root().is_root());
        assert_eq!(Name::root().label_count(), 0);
        assert_eq!(Name::root().labels().count(), 0);
        assert_eq!(Name::root().to_string(), ".");
        assert_eq!(Name::root().parent(), None);
        // The same name however it was made: parsed, from labels, from wire, any case.
        let from_labels = Name::from_labels([&b"wWw"[..], b"EXAMPLE", b"com"]).unwrap();
        let (from_wire, used) = Name::from_wire(b"\x03WWW\x07EXAMPLE\x03Com\x00rest").unwrap();
        assert_eq!(used, 17);
        assert_eq!(from_labels, a);
        assert_eq!(from_wire, a);
        let set: std::collections::HashSet<Name> = [a.clone(), from_labels, from_wire].into();
        assert_eq!(set.len(), 1);
        // Escapes, including a dot and upper case inside a label.
        let e = n("A\\.B\\065.c.");
        assert_eq!(e.wire(), b"\x04a.ba\x01c\x00");
        assert_eq!(e.to_string(), "a\\.ba.c.");
    }

    /// Names held in place and on the heap behave the same, across the boundary.
    #[test]
    fn short_and_long_names_alike() {
        // Wire lengths 21, 22 (the last held in place), 23 and 24.
        let texts = [
            "abcdefghijklmno.com.",
            "abcdefghijklmnop.com.",
            "a.abcdefghijklmno.com.",
        ];
        let mut names: Vec<Name> = texts.iter().map(|t| n(t)).collect();
        names.push(n("Abcdefghijklmnopqr.COM."));
        assert_eq!(
            names.iter().map(Name::wire_len).collect::<Vec<_>>(),
            [21, 22, 23, 24]
        );
        for x in &names {
            let upper = x.to_string().to_ascii_uppercase();
            let (from_wire, _) = Name::from_wire(&upper_wire(x)).unwrap();
            assert_eq!(&from_wire, x);
            assert_eq!(&Name::parse(&upper).unwrap(), x);
            assert_eq!(&Name::from_labels(x.labels()).unwrap(), x);
            assert_eq!(x.ancestor_with_labels(1).unwrap(), n("com."));
            assert_eq!(
                x.parent().unwrap().wire(),
                &x.wire()[1 + x.wire()[0] as usize..]
            );
            assert!(x.is_below(&n("com.")));
            let set: std::collections::HashSet<Name> = [x.clone(), from_wire].into();
            assert_eq!(set.len(), 1);
        }
        let mut sorted = names.clone();
        sorted.sort();
        let reference = {
            let mut r = names.clone();
            r.sort_by(|a, b| a.labels().rev().cmp(b.labels().rev()));
            r
        };
        assert_eq!(sorted, reference);
    }

    /// The wire form of `name` with its label octets upper-cased.
    fn upper_wire(name: &Name) -> Vec<u8> {
        let mut out = Vec::new();
        for l in name.labels() {
            out.push(l.len() as u8);
            out.extend(l.iter().map(u8::to_ascii_uppercase));
        }
        out.push(0);
        out
    }

    #[test]
    fn labels_from_both_ends() {
        let a = n("a.bb.ccc.");
        let fwd: Vec<&[u8]> = a.labels().collect();
        assert_eq!(fwd, [&b"a"[..], b"bb", b"ccc"]);
        let back: Vec<&[u8]> = a.labels().rev().collect();
        assert_eq!(back, [&b"ccc"[..], b"bb", b"a"]);
        let mut it = a.labels();
        assert_eq!(it.len(), 3);
        assert_eq!(it.next(), Some(&b"a"[..]));
        assert_eq!(it.next_back(), Some(&b"ccc"[..]));
        assert_eq!(it.len(), 1);
        assert_eq!(it.next(), Some(&b"bb"[..]));
        assert_eq!(it.next_back(), None);
        assert_eq!(a.label_count(), 3);
        assert_eq!(a.parent(), Some(n("bb.ccc.")));
        assert_eq!(a.ancestor_with_labels(1), Some(n("ccc.")));
        assert_eq!(a.ancestor_with_labels(0), Some(Name::root()));
        assert_eq!(a.ancestor_with_labels(3), Some(a.clone()));
        assert_eq!(a.ancestor_with_labels(4), None);
        // The longest possible name: 127 one-octet labels.
        let text = "x.".repeat(127);
        let long = n(&text);
        assert_eq!(long.wire_len(), NAME_WIRE_MAX);
        assert_eq!(long.label_count(), 127);
        assert_eq!(long.labels().rev().count(), 127);
        assert_eq!(long.to_string(), text);
    }

    #[test]
    fn canonical_order_of_rfc_4034() {
        // RFC 4034 §6.1, in order.
        let sorted = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ];
        let names: Vec<Name> = sorted.iter().map(|s| n(s)).collect();
        for (i, x) in names.iter().enumerate() {
            for (j, y) in names.iter().enumerate() {
                assert_eq!(x.cmp(y), i.cmp(&j), "{x} vs {y}");
            }
        }
        let mut shuffled: Vec<Name> = names.iter().rev().cloned().collect();
        shuffled.swap(1, 5);
        shuffled.sort();
        assert_eq!(shuffled, names);
        // A shorter label sorts before a longer one it prefixes; the root before all.
        assert!(n("ab.") < n("abc."));
        assert!(Name::root() < n("a."));
        assert!(n("b.a.") > n("a."));
        assert!(n("a.b.") > n("b.a."));
        // Equal final octets that split into labels differently in each name.
        let a = Name::from_labels([&b"\x01x"[..]]).unwrap();
        let b = n("y.x.");
        assert_eq!(&a.wire()[1..], &b.wire()[2..]);
        assert!(a < b);
        assert!(b > a);
    }

    #[test]
    fn suffixes_only_at_label_boundaries() {
        let zone = n("example.");
        // This label ends with the octets of `\x07example`, but is not below `example.`.
        let tricky = Name::from_labels([&b"x\x07example"[..]]).unwrap();
        assert!(tricky.wire().ends_with(zone.wire()));
        assert!(!tricky.is_at_or_below(&zone));
        assert!(!tricky.is_below(&zone));
        assert!(n("a.example.").is_below(&zone));
        assert!(!n("aexample.").is_at_or_below(&zone));
        assert!(zone.is_at_or_below(&Name::root()));
        assert!(zone.is_below(&Name::root()));
        assert!(!Name::root().is_below(&Name::root()));
        assert_eq!(
            n("x.y.old.example.")
                .replace_suffix(&n("old.example."), &n("new.test."))
                .unwrap(),
            n("x.y.new.test.")
        );
        assert_eq!(zone.wildcard_child().unwrap(), n("*.example."));
        assert!(zone.wildcard_child().unwrap().is_wildcard());
        assert!(!zone.is_wildcard());
        assert!(!n("\\*x.example.").is_wildcard());
    }

    #[test]
    fn bad_names() {
        assert_eq!(Name::from_wire(b"\x03ab"), Err(NameError::BadWire));
        assert_eq!(Name::from_wire(b"\x03abc"), Err(NameError::BadWire));
        assert_eq!(Name::from_wire(b"\xc0\x0c"), Err(NameError::BadWire));
        assert_eq!(Name::from_wire(b""), Err(NameError::BadWire));
        let mut long = b"\x01x".repeat(128);
        long.push(0);
        assert_eq!(Name::from_wire(&long), Err(NameError::NameTooLong));
        assert_eq!(Name::parse("a..b."), Err(NameError::EmptyLabel));
        assert_eq!(Name::parse(".a."), Err(NameError::EmptyLabel));
        let label64 = format!("{}.", "a".repeat(64));
        assert_eq!(Name::parse(&label64), Err(NameError::LabelTooLong));
        assert_eq!(Name::parse(&"x.".repeat(128)), Err(NameError::NameTooLong));
        // Escapes are checked before labels, as the text is read.
        assert_eq!(Name::parse("a..\\999."), Err(NameError::BadWire));
        assert_eq!(Name::parse("a.b"), Err(NameError::Relative));
        assert_eq!(Name::parse("a\\."), Err(NameError::Relative));
        assert_eq!(Name::from_labels([&b""[..]]), Err(NameError::EmptyLabel));
        assert_eq!(
            Name::from_labels([&[b'a'; 64][..]]),
            Err(NameError::LabelTooLong)
        );
        // 127 one-octet labels and the root are 255 octets, the most a name may have.
        let x127 = vec![&b"x"[..]; 127];
        assert_eq!(Name::from_labels(&x127).unwrap().wire_len(), NAME_WIRE_MAX);
        assert_eq!(
            Name::from_labels(vec![&b"x"[..]; 128]),
            Err(NameError::NameTooLong)
        );
        // A bad label after the name grew too long is still the error reported.
        let mut then_empty = vec![&b"x"[..]; 128];
        then_empty.push(b"");
        assert_eq!(Name::from_labels(then_empty), Err(NameError::EmptyLabel));
        let too_long = n(&"x.".repeat(127));
        assert_eq!(too_long.wildcard_child(), Err(NameError::NameTooLong));
        assert_eq!(
            too_long.replace_suffix(&Name::root(), &n("a.")),
            Err(NameError::NameTooLong)
        );
    }

    /// The order agrees with comparing the labels from the root as byte strings, and with
    /// equality, on random names of random octets.
    #[test]
    fn order_matches_labels_from_the_root() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        let alphabet = [
            0u8, 1, 7, b'*', b'-', b'a', b'b', b'A', b'B', b'z', 0x80, 0xff,
        ];
        let names: Vec<Name> = (0..400)
            .map(|_| {
                let labels: Vec<Vec<u8>> = (0..next(4))
                    .map(|_| {
                        (0..1 + next(3))
                            .map(|_| alphabet[next(alphabet.len() as u64) as usize])
                            .collect()
                    })
                    .collect();
                Name::from_labels(&labels).unwrap()
            })
            .collect();
        for a in &names {
            for b in &names {
                let reference = a.labels().rev().cmp(b.labels().rev());
                assert_eq!(a.cmp(b), reference, "{a} vs {b}");
                assert_eq!(cmp_labels(a.wire(), b.wire()), reference, "{a} vs {b}");
                assert_eq!(a == b, reference.is_eq(), "{a} vs {b}");
            }
            let (again, used) = Name::from_wire(a.wire()).unwrap();
            assert_eq!((&again, used), (a, a.wire_len()));
            assert_eq!(&Name::parse(&a.to_string()).unwrap(), a);
        }
    }
}
