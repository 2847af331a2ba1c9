//! Canonical record data (RFC 4034 §6.2): the one byte form two equal records share,
//! whatever the case or notation they were written in. Used by the parser, which makes it, and
//! by validation, which checks it; kept here so the zone model does not depend on the parser.

use domain::base::ParseRecordData;
use domain::base::iana::Rtype;
use domain::base::name::ParsedName;
use domain::base::rdata::ComposeRecordData;
use domain::dep::octseq::Parser;
use domain::rdata::ZoneRecordData;

use crate::dns::name::Name;

/// Typed record data parsed from wire form.
pub(crate) type WireData<'a> = ZoneRecordData<&'a [u8], ParsedName<&'a [u8]>>;

/// How the record data of a type that embeds names is laid out, for lower-casing them.
enum Field {
    Fixed(usize),
    Name,
    CharStr,
}

/// Layout of the types whose embedded names RFC 4034 §6.2 lower-cases (fields after the last
/// one listed are copied unchanged). `None` for every other type, and for A6, handled apart.
fn name_layout(rtype: u16) -> Option<&'static [Field]> {
    use Field::*;
    Some(match rtype {
        // NS, MD, MF, CNAME, MB, MG, MR, PTR, DNAME
        2 | 3 | 4 | 5 | 7 | 8 | 9 | 12 | 39 => &[Name],
        // SOA
        6 => &[Name, Name, Fixed(20)],
        // MINFO, RP
        14 | 17 => &[Name, Name],
        // MX, AFSDB, RT, KX
        15 | 18 | 21 | 36 => &[Fixed(2), Name],
        // PX
        26 => &[Fixed(2), Name, Name],
        // SRV
        33 => &[Fixed(6), Name],
        // NAPTR
        35 => &[Fixed(4), CharStr, CharStr, CharStr, Name],
        // SIG, RRSIG: type covered .. key tag, signer's name, then the signature.
        24 | 46 => &[Fixed(18), Name],
        // NXT, NSEC: next name, then the type bitmap.
        30 | 47 => &[Name],
        _ => return None,
    })
}

/// True for types whose data ends right after the fields of [`name_layout`].
fn layout_is_complete(rtype: u16) -> bool {
    !matches!(rtype, 24 | 46 | 30 | 47)
}

/// The RFC 4034 §6.2 canonical form of wire-format record data of type `rtype`:
/// - data of types `domain` knows is parsed (rejecting malformed data, trailing bytes and, by
///   recomposing it, any compression) and composed again;
/// - the embedded names of the RFC 1035-era types (NS, MD, MF, CNAME, SOA, MB, MG, MR, PTR,
///   MINFO, MX, RP, AFSDB, RT, SIG, PX, NXT, NAPTR, KX, SRV, DNAME, A6, RRSIG, NSEC) are
///   lower-cased. NSEC is in RFC 4034's list; RFC 6840 §5.1 later exempted it for signature
///   checks, but zonegate does not sign, and for telling records apart case must not count.
pub fn canonical_rdata(rtype: u16, wire: &[u8]) -> Result<Vec<u8>, &'static str> {
    if wire.len() > usize::from(u16::MAX) {
        return Err("longer than 65535 octets");
    }
    let mut parser = Parser::from_ref(wire);
    let recomposed;
    let wire = match WireData::parse_rdata(Rtype::from_int(rtype), &mut parser) {
        Ok(Some(ZoneRecordData::Unknown(_))) | Ok(None) => wire,
        Ok(Some(data)) => {
            if parser.remaining() != 0 {
                return Err("trailing octets after the record data");
            }
            let mut out = Vec::with_capacity(wire.len());
            data.compose_rdata(&mut out)
                .map_err(|_| "cannot be composed")?;
            recomposed = out;
            &recomposed[..]
        }
        Err(_) => return Err("does not parse as this type"),
    };
    if wire.len() > usize::from(u16::MAX) {
        return Err("longer than 65535 octets");
    }
    if rtype == 38 {
        return canonical_a6(wire);
    }
    let Some(layout) = name_layout(rtype) else {
        return Ok(wire.to_vec());
    };
    let mut out = Vec::with_capacity(wire.len());
    let mut pos = 0;
    for field in layout {
        match field {
            Field::Fixed(n) => {
                let bytes = wire.get(pos..pos + n).ok_or("too short")?;
                out.extend_from_slice(bytes);
                pos += n;
            }
            Field::Name => {
                let (name, used) =
                    Name::from_wire(&wire[pos..]).map_err(|_| "bad embedded name")?;
                name.write_wire(&mut out);
                pos += used;
            }
            Field::CharStr => {
                let len = usize::from(*wire.get(pos).ok_or("too short")?);
                let bytes = wire.get(pos..pos + 1 + len).ok_or("too short")?;
                out.extend_from_slice(bytes);
                pos += 1 + len;
            }
        }
    }
    if layout_is_complete(rtype) {
        if pos != wire.len() {
            return Err("trailing octets after the record data");
        }
    } else {
        out.extend_from_slice(&wire[pos..]);
    }
    Ok(out)
}

/// A6 (RFC 2874 §3.1): prefix length, address suffix, then the prefix name if the prefix
/// length is not 0.
fn canonical_a6(wire: &[u8]) -> Result<Vec<u8>, &'static str> {
    let prefix_len = usize::from(*wire.first().ok_or("too short")?);
    if prefix_len > 128 {
        return Err("prefix length above 128");
    }
    let suffix = (128 - prefix_len).div_ceil(8);
    let head = wire.get(..1 + suffix).ok_or("too short")?;
    let mut out = head.to_vec();
    if prefix_len == 0 {
        if wire.len() != head.len() {
            return Err("trailing octets after the record data");
        }
        return Ok(out);
    }
    let (name, used) = Name::from_wire(&wire[head.len()..]).map_err(|_| "bad embedded name")?;
    if head.len() + used != wire.len() {
        return Err("trailing octets after the record data");
    }
    name.write_wire(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_rdata_of_types_domain_does_not_know() {
        // AFSDB: subtype, hostname.
        assert_eq!(
            canonical_rdata(18, b"\x00\x01\x01A\x00").unwrap(),
            b"\x00\x01\x01a\x00"
        );
        assert!(canonical_rdata(18, b"\x00\x01\x01A\x00\x00").is_err());
        // A6 with a 64-bit prefix.
        let mut a6 = vec![64];
        a6.extend_from_slice(&[1; 8]);
        a6.extend_from_slice(b"\x01P\x00");
        let mut want = a6.clone();
        let n = want.len();
        want[n - 2] = b'p';
        assert_eq!(canonical_a6(&a6).unwrap(), want);
        assert!(canonical_a6(&[129]).is_err());
        assert_eq!(canonical_a6(&[0; 17]).unwrap(), vec![0; 17]);
    }
}
