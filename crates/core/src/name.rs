//! Domain names in canonical form.
//!
//! A [`Name`] is always absolute and always lower case (ASCII case folding, RFC 4343), so two
//! names that DNS treats as equal are equal here too, and ordering is the canonical DNS order of
//! RFC 4034 §6.1 (compare label by label from the root, as bytes).

use std::cmp::Ordering;
use std::fmt;

/// Longest name on the wire, RFC 1035 §2.3.4.
pub const NAME_WIRE_MAX: usize = 255;
/// Longest label, RFC 1035 §2.3.4.
pub const LABEL_MAX: usize = 63;

/// An absolute, lower-cased domain name.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Name {
    /// Labels from the leftmost to the one just below the root. The root has none.
    labels: Vec<Box<[u8]>>,
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

impl Name {
    /// The root name `.`.
    pub fn root() -> Self {
        Name { labels: Vec::new() }
    }

    /// Builds a name from labels, leftmost first. Labels are lower-cased.
    pub fn from_labels<I, L>(labels: I) -> Result<Self, NameError>
    where
        I: IntoIterator<Item = L>,
        L: AsRef<[u8]>,
    {
        let mut out = Vec::new();
        let mut wire_len = 1;
        for l in labels {
            let l = l.as_ref();
            if l.is_empty() {
                return Err(NameError::EmptyLabel);
            }
            if l.len() > LABEL_MAX {
                return Err(NameError::LabelTooLong);
            }
            wire_len += 1 + l.len();
            out.push(l.to_ascii_lowercase().into_boxed_slice());
        }
        if wire_len > NAME_WIRE_MAX {
            return Err(NameError::NameTooLong);
        }
        Ok(Name { labels: out })
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
        let mut labels: Vec<Vec<u8>> = vec![Vec::new()];
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
                        labels.last_mut().expect("one label").push(v as u8);
                        i += 4;
                    } else if i + 1 < bytes.len() {
                        labels.last_mut().expect("one label").push(bytes[i + 1]);
                        i += 2;
                    } else {
                        return Err(NameError::BadWire);
                    }
                }
                b'.' => {
                    labels.push(Vec::new());
                    i += 1;
                }
                _ => {
                    labels.last_mut().expect("one label").push(b);
                    i += 1;
                }
            }
        }
        // The trailing dot leaves one empty label at the end.
        let last = labels.pop();
        debug_assert!(last.is_some_and(|l| l.is_empty()));
        Self::from_labels(labels)
    }

    /// Reads an uncompressed wire-format name from the front of `wire`, returning it and the
    /// number of octets consumed.
    pub fn from_wire(wire: &[u8]) -> Result<(Self, usize), NameError> {
        let mut labels = Vec::new();
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
            let label = wire.get(pos..pos + len).ok_or(NameError::BadWire)?;
            labels.push(label);
            pos += len;
        }
        Ok((Self::from_labels(labels)?, pos))
    }

    /// Appends the uncompressed wire form.
    pub fn write_wire(&self, out: &mut Vec<u8>) {
        for l in &self.labels {
            out.push(l.len() as u8);
            out.extend_from_slice(l);
        }
        out.push(0);
    }

    /// Length of the uncompressed wire form.
    pub fn wire_len(&self) -> usize {
        1 + self.labels.iter().map(|l| 1 + l.len()).sum::<usize>()
    }

    /// Labels, leftmost first.
    pub fn labels(&self) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator {
        self.labels.iter().map(|l| &l[..])
    }

    /// Number of labels, not counting the root.
    pub fn label_count(&self) -> usize {
        self.labels.len()
    }

    pub fn is_root(&self) -> bool {
        self.labels.is_empty()
    }

    /// True if `self` is `other` or below it.
    pub fn is_at_or_below(&self, other: &Name) -> bool {
        self.labels.len() >= other.labels.len()
            && self.labels[self.labels.len() - other.labels.len()..] == other.labels[..]
    }

    /// True if `self` is strictly below `other`.
    pub fn is_below(&self, other: &Name) -> bool {
        self.labels.len() > other.labels.len() && self.is_at_or_below(other)
    }

    /// The name with its leftmost label removed; `None` for the root.
    pub fn parent(&self) -> Option<Name> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Name {
                labels: self.labels[1..].to_vec(),
            })
        }
    }

    /// The ancestor of `self` with `count` labels; `None` if `self` has fewer labels.
    pub fn ancestor_with_labels(&self, count: usize) -> Option<Name> {
        let n = self.labels.len();
        (count <= n).then(|| Name {
            labels: self.labels[n - count..].to_vec(),
        })
    }

    /// True if the leftmost label is `*`.
    pub fn is_wildcard(&self) -> bool {
        self.labels.first().is_some_and(|l| &l[..] == b"*")
    }

    /// `*.<self>`.
    pub fn wildcard_child(&self) -> Result<Name, NameError> {
        let mut labels = Vec::with_capacity(self.labels.len() + 1);
        labels.push(b"*".to_vec().into_boxed_slice());
        labels.extend(self.labels.iter().cloned());
        let name = Name { labels };
        if name.wire_len() > NAME_WIRE_MAX {
            return Err(NameError::NameTooLong);
        }
        Ok(name)
    }

    /// Replaces the suffix `old` of `self` by `new` (DNAME substitution, RFC 6672 §2.2).
    pub fn replace_suffix(&self, old: &Name, new: &Name) -> Result<Name, NameError> {
        debug_assert!(self.is_at_or_below(old));
        let keep = self.labels.len() - old.labels.len();
        Self::from_labels(self.labels[..keep].iter().chain(new.labels.iter()))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> Ordering {
        // RFC 4034 §6.1: compare from the most significant (rightmost) label.
        let mut a = self.labels.iter().rev();
        let mut b = other.labels.iter().rev();
        loop {
            match (a.next(), b.next()) {
                (None, None) => return Ordering::Equal,
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                (Some(x), Some(y)) => match x.cmp(y) {
                    Ordering::Equal => continue,
                    o => return o,
                },
            }
        }
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.labels.is_empty() {
            return f.write_str(".");
        }
        for l in &self.labels {
            for &b in l.iter() {
                match b {
                    b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                        write!(f, "\\{}", b as char)?
                    }
                    0x21..=0x7e => write!(f, "{}", b as char)?,
                    _ => write!(f, "\\{b:03}")?,
                }
            }
            f.write_str(".")?;
        }
        Ok(())
    }
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
}
