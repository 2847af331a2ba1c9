//! RFC 1035 master files: text in ([`parse`]) and text out ([`record_to_text`],
//! [`rdata_to_text`]).
//!
//! # Design
//!
//! The text is read by the `zonefile::inplace` scanner of NLnet Labs' `domain` crate. We picked
//! it over hickory-proto 0.26, whose text parser refuses DNAME records and RFC 3597 `\#`
//! generic record data, both of which zonegate must accept (DNAME is in the Ferret data set;
//! `\#` is the only way to write types a parser does not know). `domain` handles `$ORIGIN`,
//! `$TTL`, `@`, relative names, parenthesised multi-line records, comments, omitted owners,
//! classes and TTLs, `TYPEnnn` and `\#` for known and unknown types.
//!
//! What this module adds on top:
//! - **Line numbers.** A small lexer of our own (`entry_spans`) finds where every entry
//!   starts, so an error found after `domain` accepted a record (a class other than IN,
//!   malformed `\#` data) still names its line.
//! - **Canonical record data.** Every record's data is composed to wire form, parsed back with
//!   `domain`'s typed record data when the type is known (so `\# 4 0a000001` for an A record
//!   is checked like `10.0.0.1`), and then the embedded names of the RFC 4034 §6.2 types are
//!   lower-cased by our own table ([`canonical_rdata`]). Two records DNS treats as equal thus
//!   have equal bytes, whatever the case or the notation of the source.
//! - **The origin.** With no origin given, the zone's origin is the owner of the first SOA
//!   record. Relative names then need a `$ORIGIN` first. A file with no SOA at all still
//!   parses (the missing SOA is a validation matter, reported as such): its origin is the
//!   closest common ancestor of the owner names.
//! - **A first record with a blank owner** (no previous owner to repeat) is owned by the
//!   zone's origin.
//! - **Class IN only**; any other class is a parse error naming the line.
//! - **Omitted TTLs** are the last explicitly stated TTL (RFC 1035 §5.1), or `$TTL` once one
//!   is given (RFC 2308 §4). Before either, `domain` uses 3600 seconds.
//!
//! Nothing here panics on any input: `domain`'s scanner is also run under `catch_unwind`, so
//! a bug in it becomes [`ParseError::Internal`] rather than a crash of the gate.
//!
//! Output goes the other way: [`rdata_to_text`] prints `domain`'s presentation format when
//! that text parses back to the very same bytes, and the RFC 3597 `\# len hex` form otherwise,
//! so `parse(record_to_text(r))` always gives `r` back.

use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};

use domain::base::ParseRecordData;
use domain::base::iana::{Class, Rtype};
use domain::base::name::{ParsedName, ToName};
use domain::base::rdata::ComposeRecordData;
use domain::base::zonefile_fmt::{DisplayKind, ZonefileFmt};
use domain::dep::octseq::Parser;
use domain::rdata::ZoneRecordData;
use domain::zonefile::inplace::{Entry, Zonefile};

use crate::dns::name::{Name, NameError};
use crate::dns::record::{RType, Record};
use crate::zone::ParsedZone;

/// Why a master file could not be read. Every variant names the file (`file`, the `source`
/// argument of [`parse`]; not called `source` because `thiserror` takes a field of that name
/// for the error's cause) and, where there is one, the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The text is not valid master-file syntax.
    #[error(
        "{file}:{line}: {message}; fix this line (RFC 1035 §5.1 master-file syntax: \
         `owner [TTL] [IN] TYPE rdata`)"
    )]
    Syntax {
        file: String,
        line: usize,
        message: String,
    },
    /// A relative name (or `@`) appeared while no origin was known.
    #[error(
        "{file}:{line}: relative name but the origin is not known; put `$ORIGIN <zone>.` \
         before it, end the name with a dot, or give the zone name"
    )]
    NoOrigin { file: String, line: usize },
    /// A record of a class other than IN.
    #[error(
        "{file}:{line}: class {class} is not supported; zonegate serves class IN only, so \
         write IN or leave the class out"
    )]
    Class {
        file: String,
        line: usize,
        class: String,
    },
    /// Record data that does not fit its type (typically a `\#` form with the wrong length).
    #[error(
        "{file}:{line}: {rtype} record data is malformed ({message}); write it in the type's \
         presentation format or as RFC 3597 `\\# <length> <hex>` with the exact wire form"
    )]
    Rdata {
        file: String,
        line: usize,
        rtype: String,
        message: String,
    },
    /// `$INCLUDE`: the core reads no files.
    #[error("{file}:{line}: $INCLUDE is not supported; paste the included file in its place")]
    Include { file: String, line: usize },
    /// The scanner failed in a way it should not; the input is refused rather than trusted.
    #[error(
        "{file}: the zone file scanner failed unexpectedly ({message}); the file was refused, \
         please report this together with the file"
    )]
    Internal { file: String, message: String },
}

impl ParseError {
    /// The line the error is on, if it has one.
    pub fn line(&self) -> Option<usize> {
        match self {
            ParseError::Syntax { line, .. }
            | ParseError::NoOrigin { line, .. }
            | ParseError::Class { line, .. }
            | ParseError::Rdata { line, .. }
            | ParseError::Include { line, .. } => Some(*line),
            ParseError::Internal { .. } => None,
        }
    }
}

/// Parses master-file text into records.
///
/// `origin` is the zone's name; relative names are relative to it until a `$ORIGIN`. With
/// `None`, the origin is the owner of the first SOA record (see the module documentation for
/// a file without one). `source` names the text in errors (usually the file path).
///
/// The records come back in file order, with lower-cased names and canonical record data. No
/// validity rule is checked here beyond syntax and class: see [`crate::zone::validate::validate`].
pub fn parse(text: &str, origin: Option<&Name>, source: &str) -> Result<ParsedZone, ParseError> {
    match catch_unwind(AssertUnwindSafe(|| parse_inner(text, origin, source))) {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_string());
            Err(ParseError::Internal {
                file: source.to_string(),
                message,
            })
        }
    }
}

/// Placeholder owner written in front of a first record that has a blank owner. `domain`
/// needs a previous owner; the records that get this one are given the origin afterwards.
/// The `\000` bytes keep it from meaning anything a real file would say.
const BLANK_OWNER: &str = "\\000zonegate-blank-owner\\000.";

fn parse_inner(text: &str, origin: Option<&Name>, source: &str) -> Result<ParsedZone, ParseError> {
    let file = || source.to_string();
    let (spans, open) = entry_spans(text.as_bytes());
    if let Some((line, what)) = open {
        return Err(ParseError::Syntax {
            file: file(),
            line,
            message: what.to_string(),
        });
    }
    // `domain` hands back records and `$INCLUDE`s; it handles `$ORIGIN` and `$TTL` itself.
    let returned_lines: Vec<usize> = spans
        .iter()
        .filter(|s| !s.directive || s.include)
        .map(|s| s.line)
        .collect();

    // A first record with a blank owner has no previous owner to repeat: give it a
    // placeholder now and the origin once that is known.
    let first_record = spans.iter().find(|s| !s.directive);
    let mut owned_text;
    let mut scan_text = text;
    let mut blank_owner = None;
    if let Some(span) = first_record.filter(|s| s.indented && !text.contains(BLANK_OWNER)) {
        owned_text = String::with_capacity(text.len() + BLANK_OWNER.len());
        owned_text.push_str(&text[..span.line_offset]);
        owned_text.push_str(BLANK_OWNER);
        owned_text.push_str(&text[span.line_offset..]);
        scan_text = &owned_text;
        blank_owner = Some(Name::parse(BLANK_OWNER).expect("the placeholder is a valid name"));
    }

    let mut zonefile = Zonefile::from(scan_text);
    zonefile.set_default_class(Class::IN);
    if let Some(origin) = origin {
        let mut wire = Vec::with_capacity(origin.wire_len());
        origin.write_wire(&mut wire);
        let dname = domain::base::Name::from_slice(&wire).map_err(|e| ParseError::Internal {
            file: file(),
            message: e.to_string(),
        })?;
        zonefile.set_origin(dname.to_name());
    }

    // Allocated once at its size: the entries `domain` returns are records (or an $INCLUDE,
    // which ends the parse).
    let mut records = Vec::with_capacity(returned_lines.len());
    // Record data is composed here, one buffer for the whole file.
    let mut wire = Vec::new();
    loop {
        let entry = match zonefile.next_entry() {
            Ok(Some(entry)) => entry,
            Ok(None) => break,
            Err(err) => return Err(scanner_error(&err.to_string(), source, text)),
        };
        // The line of the entry just returned, by our own count of entries.
        let line = returned_lines.get(records.len()).copied().unwrap_or(0);
        let record = match entry {
            Entry::Include { .. } => return Err(ParseError::Include { file: file(), line }),
            Entry::Record(record) => record,
        };
        if record.class() != Class::IN {
            return Err(ParseError::Class {
                file: file(),
                line,
                class: record.class().to_string(),
            });
        }
        let owner = to_name(record.owner()).map_err(|e| ParseError::Syntax {
            file: file(),
            line,
            message: format!("owner name: {e}"),
        })?;
        let rtype = record.rtype();
        wire.clear();
        if record.data().compose_rdata(&mut wire).is_err() {
            return Err(ParseError::Rdata {
                file: file(),
                line,
                rtype: rtype.to_string(),
                message: "cannot be composed".to_string(),
            });
        }
        let rdata: Box<[u8]> = match (rtype, wire.len()) {
            // Composed addresses are canonical as they are (see `canonical_rdata`).
            (Rtype::A, 4) | (Rtype::AAAA, 16) => wire[..].into(),
            _ => canonical_rdata(rtype.to_int(), &wire)
                .map_err(|message| ParseError::Rdata {
                    file: file(),
                    line,
                    rtype: rtype.to_string(),
                    message: message.to_string(),
                })?
                .into_boxed_slice(),
        };
        records.push(Record {
            owner,
            rtype: RType(rtype.to_int()),
            ttl: record.ttl().as_secs(),
            rdata,
        });
    }

    let origin = match origin {
        Some(origin) => origin.clone(),
        None => records
            .iter()
            .find(|r| r.rtype == RType::SOA && Some(&r.owner) != blank_owner.as_ref())
            .map(|r| r.owner.clone())
            .unwrap_or_else(|| {
                common_ancestor(
                    records
                        .iter()
                        .map(|r| &r.owner)
                        .filter(|o| Some(*o) != blank_owner.as_ref()),
                )
            }),
    };
    if let Some(blank) = &blank_owner {
        for r in records.iter_mut().filter(|r| &r.owner == blank) {
            r.owner = origin.clone();
        }
    }
    Ok(ParsedZone { origin, records })
}

/// The closest common ancestor of `names`; the root if there are none.
fn common_ancestor<'a>(names: impl Iterator<Item = &'a Name>) -> Name {
    let mut acc: Option<Name> = None;
    for name in names {
        acc = Some(match acc {
            None => name.clone(),
            Some(a) => {
                let mut count = a.label_count().min(name.label_count());
                loop {
                    let x = a.ancestor_with_labels(count);
                    if x.is_some() && x == name.ancestor_with_labels(count) {
                        break x.unwrap_or_else(Name::root);
                    }
                    if count == 0 {
                        break Name::root();
                    }
                    count -= 1;
                }
            }
        });
    }
    acc.unwrap_or_else(Name::root)
}

/// Turns a scanner error (`line:col: message`) into a [`ParseError`].
fn scanner_error(text: &str, source: &str, zone_text: &str) -> ParseError {
    let mut parts = text.splitn(3, ':');
    let line = parts.next().and_then(|s| s.trim().parse::<usize>().ok());
    let col = parts.next().and_then(|s| s.trim().parse::<usize>().ok());
    let message = parts
        .next()
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| text.to_string());
    let mut line = line.unwrap_or(0);
    // The scanner often notices a problem only after it consumed the line feed that ends the
    // entry; it then reports column 1 of the next line. The problem is on the line before.
    if col == Some(1) && line > 1 {
        line -= 1;
    }
    let last_line = zone_text.lines().count().max(1);
    let line = line.clamp(1, last_line);
    let file = source.to_string();
    if message.starts_with("missing origin") {
        return ParseError::NoOrigin { file, line };
    }
    if let Some(rest) = message.strip_prefix("different class: ") {
        let class = rest.split(" != ").next().unwrap_or(rest).to_string();
        return ParseError::Class { file, line, class };
    }
    let message = match message.as_str() {
        "unknown record type with concrete data" => {
            "this type is only accepted in the RFC 3597 form `\\# <length> <hex>`".to_string()
        }
        "expected rtype" => "expected a TTL, a class or a record type".to_string(),
        "missing last owner" => "a record with a blank owner but no previous owner".to_string(),
        "unexpected end of entry" => {
            "the entry ends too early: a field of the record is missing".to_string()
        }
        "expected decimal number" => {
            "expected a decimal number (TTLs are plain seconds, without units)".to_string()
        }
        _ => message,
    };
    ParseError::Syntax {
        file,
        line,
        message,
    }
}

/// Converts a `domain` name to ours (lower-casing it).
fn to_name<N: ToName>(name: &N) -> Result<Name, NameError> {
    Name::from_labels(
        name.iter_labels()
            .filter(|l| !l.is_root())
            .map(|l| l.as_slice()),
    )
}

/// Where an entry (a record or a `$` directive) of the master file starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EntrySpan {
    /// 1-based line of the entry's first token.
    line: usize,
    /// Byte offset of the start of that line.
    line_offset: usize,
    /// The first token is preceded by white space: the owner is blank.
    indented: bool,
    /// The entry is a `$ORIGIN`, `$TTL` or `$INCLUDE` directive.
    directive: bool,
    /// The entry is an `$INCLUDE` directive.
    include: bool,
}

/// Finds the entries of a master file the way RFC 1035 §5.1 delimits them: a line feed ends an
/// entry unless it is inside parentheses or a quoted string; `;` starts a comment; `\` escapes
/// the next character. Blank and comment-only lines are no entries.
///
/// Also returns the line of a parenthesis or quote left open at the end of the text, with what
/// it is: the scanner of `domain` does not always cope with those, so they are refused first.
fn entry_spans(text: &[u8]) -> (Vec<EntrySpan>, Option<(usize, &'static str)>) {
    let mut spans = Vec::new();
    let mut line = 1;
    let mut line_offset = 0;
    let mut parens = 0usize;
    let mut paren_line = 0;
    let mut open = None;
    let mut in_entry = false;
    let mut space_before = false;
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'\n' => {
                line += 1;
                line_offset = i + 1;
                space_before = false;
                if parens == 0 {
                    in_entry = false;
                }
                i += 1;
            }
            b' ' | b'\t' | b'\r' => {
                space_before = true;
                i += 1;
            }
            b';' => {
                while i < text.len() && text[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' => {
                if parens == 0 {
                    paren_line = line;
                }
                parens += 1;
                i += 1;
            }
            b')' => {
                parens = parens.saturating_sub(1);
                i += 1;
            }
            first => {
                if !in_entry {
                    in_entry = true;
                    let directive = first == b'$' && !space_before;
                    let include = directive
                        && text
                            .get(i..i + 8)
                            .is_some_and(|t| t.eq_ignore_ascii_case(b"$INCLUDE"));
                    spans.push(EntrySpan {
                        line,
                        line_offset,
                        indented: space_before,
                        directive,
                        include,
                    });
                }
                // Skip the token.
                let quoted = first == b'"';
                let quote_line = line;
                if quoted {
                    i += 1;
                    open = Some((quote_line, "unterminated quoted string"));
                }
                while i < text.len() {
                    let b = text[i];
                    if b == b'\\' {
                        if text.get(i + 1) == Some(&b'\n') {
                            line += 1;
                            line_offset = i + 2;
                        }
                        i += 2;
                        continue;
                    }
                    if quoted {
                        i += 1;
                        if b == b'"' {
                            open = None;
                            break;
                        }
                        if b == b'\n' {
                            line += 1;
                            line_offset = i;
                        }
                    } else {
                        if matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"') {
                            break;
                        }
                        i += 1;
                    }
                }
                space_before = false;
                if open.is_some() {
                    return (spans, open);
                }
            }
        }
    }
    if parens > 0 {
        open = Some((paren_line, "unclosed parenthesis"));
    }
    (spans, open)
}

/// Typed record data parsed from wire form.
type WireData<'a> = ZoneRecordData<&'a [u8], ParsedName<&'a [u8]>>;

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

/// The presentation format of record data of type `rtype`, as it appears after the type in a
/// master file: `domain`'s format for types it knows, when that text reads back to the same
/// data; otherwise RFC 3597's `\# <length> <hex>`.
pub fn rdata_to_text(rtype: RType, rdata: &[u8]) -> String {
    let mut out = String::new();
    write_rdata_text(&mut out, rtype, rdata);
    out
}

/// Appends [`rdata_to_text`] to `out`.
fn write_rdata_text(out: &mut String, rtype: RType, rdata: &[u8]) {
    // Addresses, most of any large zone, print as `domain` prints them (the standard library's
    // address formats), which always read back: no round trip through the parser needed.
    if let Ok(octets) = <[u8; 4]>::try_from(rdata)
        && rtype == RType::A
    {
        let _ = write!(out, "{}", std::net::Ipv4Addr::from(octets));
    } else if let Ok(octets) = <[u8; 16]>::try_from(rdata)
        && rtype == RType::AAAA
    {
        let _ = write!(out, "{}", std::net::Ipv6Addr::from(octets));
    } else {
        out.push_str(&rdata_to_text_checked(rtype, rdata));
    }
}

/// [`rdata_to_text`] for every type: `domain`'s presentation format, checked by parsing it back.
fn rdata_to_text_checked(rtype: RType, rdata: &[u8]) -> String {
    let mut parser = Parser::from_ref(rdata);
    match WireData::parse_rdata(Rtype::from_int(rtype.0), &mut parser) {
        Ok(Some(ZoneRecordData::Unknown(_))) | Ok(None) | Err(_) => {}
        Ok(Some(data)) => {
            if parser.remaining() == 0 {
                let text = data.display_zonefile(DisplayKind::Simple).to_string();
                if reads_back(rtype, &text, rdata) {
                    return text;
                }
            }
        }
    }
    generic_rdata_text(rdata)
}

/// RFC 3597 §5 generic record data.
fn generic_rdata_text(rdata: &[u8]) -> String {
    let mut out = String::with_capacity(8 + rdata.len() * 2);
    let _ = write!(out, "\\# {}", rdata.len());
    if !rdata.is_empty() {
        out.push(' ');
        for b in rdata {
            let _ = write!(out, "{b:02x}");
        }
    }
    out
}

/// True if `text` parses as data of `rtype` giving exactly the canonical `rdata`.
fn reads_back(rtype: RType, text: &str, rdata: &[u8]) -> bool {
    if text.contains('\n') {
        return false;
    }
    let line = format!(". 0 IN {} {}\n", rtype_text(rtype), text);
    match parse(&line, Some(&Name::root()), "") {
        Ok(zone) => zone.records.len() == 1 && &zone.records[0].rdata[..] == rdata,
        Err(_) => false,
    }
}

/// The type's mnemonic as master files write it (`TYPEnnn` for types without one).
fn rtype_text(rtype: RType) -> String {
    Rtype::from_int(rtype.0).to_string()
}

/// One master-file line for a record: `owner TTL IN TYPE rdata`, with an absolute owner.
pub fn record_to_text(r: &Record) -> String {
    // One string, written in place: a diff of a large zone prints many of these.
    let mut out = String::with_capacity(r.owner.wire_len() + 32 + 2 * r.rdata.len());
    let _ = write!(
        out,
        "{} {} IN {} ",
        r.owner,
        r.ttl,
        Rtype::from_int(r.rtype.0)
    );
    write_rdata_text(&mut out, r.rtype, &r.rdata);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    fn p(text: &str) -> ParsedZone {
        parse(text, None, "test.zone").unwrap_or_else(|e| panic!("{e}"))
    }

    fn rec(zone: &ParsedZone, owner: &str, rtype: RType) -> Vec<Record> {
        zone.records
            .iter()
            .filter(|r| r.owner == name(owner) && r.rtype == rtype)
            .cloned()
            .collect()
    }

    #[test]
    fn ferret_style_absolute_zone() {
        let z = p(
            "campus.net.\t500 IN SOA\tns1.outside.edu. root.campus.edu. 3 604800 86400 2419200 604800\n\
                   campus.net.\t\tNS\tns1.outside.edu.\n\
                   www.campus.net.\tA\t1.1.1.1\n",
        );
        assert_eq!(z.origin, name("campus.net."));
        assert_eq!(z.records.len(), 3);
        // RFC 1035 §5.1: an omitted TTL is the last one stated.
        assert!(z.records.iter().all(|r| r.ttl == 500));
        assert_eq!(
            &rec(&z, "www.campus.net.", RType::A)[0].rdata[..],
            &[1, 1, 1, 1]
        );
    }

    #[test]
    fn origin_ttl_relative_at_multiline_comments() {
        let text = "$ORIGIN Example.COM.\n\
                    $TTL 300 ; default\n\
                    @ IN SOA ns1 hostmaster ( 2024010101 ; serial\n\
                    \t7200 3600\n\
                    \t1209600 60 )\n\
                    \tNS ns1 ; the owner is repeated\n\
                    ns1 3600 A 192.0.2.1\n\
                    www CNAME ns1\n\
                    ; a comment line\n\
                    \n\
                    $ORIGIN sub.example.com.\n\
                    x TXT \"a b\" c\n";
        let z = p(text);
        assert_eq!(z.origin, name("example.com."));
        let soa = rec(&z, "example.com.", RType::SOA)[0].soa().unwrap();
        assert_eq!(soa.mname, name("ns1.example.com."));
        assert_eq!(soa.rname, name("hostmaster.example.com."));
        assert_eq!(
            (soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum),
            (2024010101, 7200, 3600, 1209600, 60)
        );
        let ns = &rec(&z, "example.com.", RType::NS)[0];
        assert_eq!(ns.ttl, 300);
        assert_eq!(ns.target_name(), Some(name("ns1.example.com.")));
        assert_eq!(rec(&z, "ns1.example.com.", RType::A)[0].ttl, 3600);
        // $TTL wins over the last stated TTL (RFC 2308 §4).
        assert_eq!(rec(&z, "www.example.com.", RType::CNAME)[0].ttl, 300);
        let txt = &rec(&z, "x.sub.example.com.", RType::TXT)[0];
        assert_eq!(&txt.rdata[..], b"\x03a b\x01c");
    }

    #[test]
    fn given_origin_is_used_for_relative_names() {
        let z = parse(
            "@ 60 IN SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 10.0.0.1\n",
            Some(&name("zone.test.")),
            "f",
        )
        .unwrap();
        assert_eq!(z.origin, name("zone.test."));
        assert_eq!(rec(&z, "ns.zone.test.", RType::A).len(), 1);
    }

    #[test]
    fn names_are_lower_cased_in_owner_and_rdata() {
        let z = p("EX.test. 60 IN SOA NS.EX.test. HM.Ex.Test. 1 2 3 4 5\n\
                   EX.test. NS NS.Other.\n\
                   Mail.EX.test. MX 10 MX.Ex.TEST.\n\
                   A.ex.test. DNAME Target.EXAMPLE.\n\
                   _s._tcp.ex.test. SRV 0 1 2 HOST.ex.test.\n\
                   t.ex.test. TXT \"KeepCase\"\n");
        assert!(
            z.records
                .iter()
                .all(|r| r.owner.to_string() == r.owner.to_string().to_lowercase())
        );
        let mx = &rec(&z, "mail.ex.test.", RType::MX)[0];
        assert_eq!(mx.target_name(), Some(name("mx.ex.test.")));
        assert_eq!(
            rec(&z, "a.ex.test.", RType::DNAME)[0].target_name(),
            Some(name("target.example."))
        );
        assert_eq!(
            rec(&z, "_s._tcp.ex.test.", RType::SRV)[0].target_name(),
            Some(name("host.ex.test."))
        );
        assert_eq!(
            &rec(&z, "t.ex.test.", RType::TXT)[0].rdata[..],
            b"\x08KeepCase"
        );
    }

    #[test]
    fn dname_and_generic_rdata() {
        let z = p("ex. 60 IN SOA ns.ex. hm.ex. 1 2 3 4 5\n\
                   ex. NS ns.ex.\n\
                   ns.ex. A 10.0.0.2\n\
                   d.ex. DNAME other.\n\
                   g.ex. TYPE65280 \\# 4 0a000001\n\
                   a.ex. A \\# 4 0A000001\n\
                   b.ex. TYPE1 10.0.0.3\n\
                   e.ex. TYPE65281 \\# 0\n\
                   n.ex. NS \\# 7 024e53 02455800\n");
        assert_eq!(
            rec(&z, "d.ex.", RType::DNAME)[0].target_name(),
            Some(name("other."))
        );
        let g = &rec(&z, "g.ex.", RType(65280))[0];
        assert_eq!(&g.rdata[..], &[10, 0, 0, 1]);
        assert_eq!(&rec(&z, "a.ex.", RType::A)[0].rdata[..], &[10, 0, 0, 1]);
        assert_eq!(&rec(&z, "b.ex.", RType::A)[0].rdata[..], &[10, 0, 0, 3]);
        assert!(rec(&z, "e.ex.", RType(65281))[0].rdata.is_empty());
        // `\#` data of a known type is canonicalised too: the name is lower-cased.
        let n = &rec(&z, "n.ex.", RType::NS)[0];
        assert_eq!(&n.rdata[..], b"\x02ns\x02ex\x00");
    }

    #[test]
    fn blank_owner_repeats_the_previous_owner() {
        let z = p("a.ex. 60 IN SOA ns.ex. hm.ex. 1 2 3 4 5\n\
                   ex. NS ns.ex.\n\
                   \tA 10.0.0.1\n\
                   \x20 AAAA ::1\n");
        assert_eq!(rec(&z, "ex.", RType::A).len(), 1);
        assert_eq!(rec(&z, "ex.", RType::AAAA).len(), 1);
    }

    #[test]
    fn first_record_with_blank_owner_is_owned_by_the_origin() {
        let z = parse("\tNS ns1.outside.edu.\n", Some(&name("ex.")), "f").unwrap();
        assert_eq!(z.records[0].owner, name("ex."));
        // No origin and no SOA: the origin is the common ancestor of the named owners.
        let z =
            p("; leading comment\n\tNS ns1.outside.edu.\nwww.a.ex. A 1.1.1.1\nb.ex. A 2.2.2.2\n");
        assert_eq!(z.origin, name("ex."));
        assert_eq!(z.records[0].owner, name("ex."));
        let z = p("\tNS ns1.outside.edu.\n");
        assert_eq!(z.origin, Name::root());
        assert_eq!(z.records[0].owner, Name::root());
    }

    #[test]
    fn no_soa_origin_is_the_common_ancestor() {
        let z = p("bank. A 1.1.1.1\n\tNS ns1.outside.edu.\n");
        assert_eq!(z.origin, name("bank."));
        let z = p("a.b.c. A 1.1.1.1\nd.b.c. A 1.1.1.1\n");
        assert_eq!(z.origin, name("b.c."));
        let z = p("a. A 1.1.1.1\nb. A 1.1.1.1\n");
        assert_eq!(z.origin, Name::root());
        let z = p("");
        assert_eq!(z.origin, Name::root());
        assert!(z.records.is_empty());
    }

    #[test]
    fn syntax_error_names_its_line() {
        let text = "ex. 60 IN SOA ns.ex. hm.ex. 1 2 3 4 5\nex. NS ns.ex.\nbad.ex. A not-an-address\nx.ex. A 1.2.3.4\n";
        let e = parse(text, None, "zone.db").unwrap_err();
        assert_eq!(e.line(), Some(3), "{e}");
        assert!(e.to_string().starts_with("zone.db:3: "), "{e}");

        for (text, line) in [
            ("ex. 60 IN SOA ns.ex. hm.ex. 1 2 3 4 5\nex. NS\n", 2),
            (
                "ex. 60 IN SOA ns.ex. hm.ex. 1 2 3 4 5\n\n; c\nex. NS ns.ex. extra\nx. A 1.1.1.1\n",
                4,
            ),
            ("ex. 60 IN SOA ns.ex. hm.ex. 1 2 3 4 5\nex. BOGUS foo\n", 2),
            (
                "ex. 60 IN SOA ns.ex. hm.ex. ( 1 2\n 3 4 x )\nex. NS ns.ex.\n",
                2,
            ),
            (
                "ex. 60 IN SOA ns.ex. hm.ex. 1 2 3 4 5\nex. 60 IN NS ns.ex.\nex. A 1.2.3\n",
                3,
            ),
            ("ex. 60 IN SOA ns.ex. hm.ex. 1 2 3 4 5\n$BOGUS x\n", 2),
            (
                "ex. 60 IN SOA ns.ex. hm.ex. 1 2 3 4 5\nex. AFSDB 1 host.ex.\n",
                2,
            ),
            (
                "ex. 60 IN SOA ns.ex. hm.ex. 1 2 3 4 5\nex. NS ns.ex. )\n",
                2,
            ),
            (
                "ex. 60 IN SOA ns.ex. hm.ex. 1 2 3 4 5\nex. TXT \"unterminated\n",
                2,
            ),
        ] {
            let e = parse(text, None, "z").unwrap_err();
            assert_eq!(e.line(), Some(line), "{text:?}: {e}");
        }
    }

    #[test]
    fn relative_name_without_origin() {
        let e = parse(
            "ex. 60 IN SOA ns.ex. hm.ex. 1 2 3 4 5\nwww A 1.2.3.4\n",
            None,
            "z",
        )
        .unwrap_err();
        assert_eq!(
            e,
            ParseError::NoOrigin {
                file: "z".into(),
                line: 2
            }
        );
        let e = parse("@ 60 IN SOA ns.ex. hm.ex. 1 2 3 4 5\n", None, "z").unwrap_err();
        assert!(matches!(e, ParseError::NoOrigin { line: 1, .. }), "{e}");
    }

    #[test]
    fn only_class_in() {
        let e = parse("ex. 60 CH SOA ns.ex. hm.ex. 1 2 3 4 5\n", None, "z").unwrap_err();
        assert!(
            matches!(&e, ParseError::Class { line: 1, class, .. } if class == "CH"),
            "{e}"
        );
        let e = parse(
            "ex. 60 IN SOA ns.ex. hm.ex. 1 2 3 4 5\n\nex. HS A 1.1.1.1\n",
            None,
            "z",
        )
        .unwrap_err();
        assert!(
            matches!(&e, ParseError::Class { line: 3, class, .. } if class == "HS"),
            "{e}"
        );
        assert!(parse("ex. 60 CLASS1 SOA ns.ex. hm.ex. 1 2 3 4 5\n", None, "z").is_ok());
    }

    #[test]
    fn malformed_generic_rdata_for_known_type() {
        let e = parse(
            "ex. 60 IN SOA ns.ex. hm.ex. 1 2 3 4 5\n\nx.ex. A \\# 3 0a0000\n",
            None,
            "z",
        )
        .unwrap_err();
        assert!(
            matches!(&e, ParseError::Rdata { line: 3, rtype, .. } if rtype == "A"),
            "{e}"
        );
        // Compression pointers are not allowed in `\#` data.
        let e = parse(
            "ex. 60 IN SOA ns.ex. hm.ex. 1 2 3 4 5\nx.ex. NS \\# 2 c000\n",
            None,
            "z",
        )
        .unwrap_err();
        assert!(matches!(e, ParseError::Rdata { line: 2, .. }), "{e}");
        let e = parse(
            "ex. 60 IN SOA ns.ex. hm.ex. 1 2 3 4 5\nx.ex. 60 IN MX \\# 5 000a000000\n",
            None,
            "z",
        )
        .unwrap_err();
        assert!(matches!(e, ParseError::Rdata { line: 2, .. }), "{e}");
    }

    #[test]
    fn include_is_refused() {
        let e = parse(
            "ex. 60 IN SOA ns.ex. hm.ex. 1 2 3 4 5\n$INCLUDE other.zone\n",
            None,
            "z",
        )
        .unwrap_err();
        assert!(matches!(e, ParseError::Include { line: 2, .. }), "{e}");
    }

    #[test]
    fn entry_spans_follow_parens_quotes_and_comments() {
        let (spans, open) = entry_spans(
            b"; c\n$TTL 5\na ( 1\n 2 ) ; x\n\tb \"q\nq\" (\n)\n\n  ; only a comment\nc\n",
        );
        assert_eq!(open, None);
        let got: Vec<(usize, bool, bool)> = spans
            .iter()
            .map(|s| (s.line, s.indented, s.directive))
            .collect();
        assert_eq!(
            got,
            vec![
                (2, false, true),
                (3, false, false),
                (5, true, false),
                (10, false, false)
            ]
        );
        assert_eq!(
            entry_spans(b"a A 1.1.1.1\nb SOA ( 1\n2\n").1,
            Some((2, "unclosed parenthesis"))
        );
        assert_eq!(
            entry_spans(b"a A 1.1.1.1\n\nb TXT \"x\n").1,
            Some((3, "unterminated quoted string"))
        );
    }

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

    #[test]
    fn address_text_is_the_checked_text() {
        let mut next = crate::testkit::xorshift(0x1234_5678_9abc_def1);
        let mut samples: Vec<Vec<u8>> = vec![
            vec![0; 4],
            vec![255; 4],
            vec![0; 16],
            vec![255; 16],
            // IPv4-mapped and -compatible IPv6, runs of zeros in several places.
            [&[0u8; 10][..], &[255, 255, 192, 0, 2, 1]].concat(),
            [&[0u8; 12][..], &[192, 0, 2, 1]].concat(),
            [&[0x20, 0x01, 0x0d, 0xb8][..], &[0; 11], &[1]].concat(),
            [&[0u8, 1][..], &[0; 14]].concat(),
        ];
        for _ in 0..2000 {
            let len = if next().is_multiple_of(2) { 4 } else { 16 };
            // Sparse octets, so that the IPv6 zero-run compression is exercised.
            samples.push(
                (0..len)
                    .map(|_| next().is_multiple_of(3) as u8 * next() as u8)
                    .collect(),
            );
        }
        for rdata in samples {
            for rtype in [RType::A, RType::AAAA] {
                assert_eq!(
                    rdata_to_text(rtype, &rdata),
                    rdata_to_text_checked(rtype, &rdata),
                    "{rtype} {rdata:?}"
                );
            }
        }
    }

    #[test]
    fn text_output_round_trips() {
        let text = "ex. 60 IN SOA ns.ex. hm.ex. 1 2 3 4 5\n\
                    ex. 60 IN NS ns.ex.\n\
                    ns.ex. 60 IN A 10.0.0.2\n\
                    ns.ex. 60 IN AAAA 2001:db8::1\n\
                    d.ex. 70 IN DNAME other.\n\
                    c.ex. 70 IN CNAME d.ex.\n\
                    m.ex. 70 IN MX 10 ns.ex.\n\
                    t.ex. 70 IN TXT \"hello world\" \"x;y\\\"z\" \"\\255\"\n\
                    s.ex. 70 IN SRV 1 2 3 host.ex.\n\
                    h.ex. 70 IN HINFO \"cpu\" \"os\"\n\
                    g.ex. 70 IN TYPE65280 \\# 4 0a000001\n\
                    e.ex. 70 IN TYPE65281 \\# 0\n\
                    f.ex. 70 IN AFSDB \\# 5 0001016100\n\
                    caa.ex. 70 IN CAA 0 issue \"ca.example\"\n\
                    ds.ex. 70 IN DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118\n\
                    w\\032x.ex. 70 IN PTR a\\.b.ex.\n\
                    naptr.ex. 70 IN NAPTR 100 10 \"u\" \"E2U+sip\" \"!^.*$!sip:x@ex!\" .\n\
                    sshfp.ex. 70 IN SSHFP 1 1 0123456789abcdef\n";
        let first = p(text);
        let out: String = first
            .records
            .iter()
            .map(|r| record_to_text(r) + "\n")
            .collect();
        let second = p(&out);
        assert_eq!(first.records, second.records, "{out}");
        assert!(
            out.contains("g.ex. 70 IN TYPE65280 \\# 4 0a000001"),
            "{out}"
        );
        assert!(out.contains("e.ex. 70 IN TYPE65281 \\# 0\n"), "{out}");
        assert!(out.contains("ns.ex. 60 IN A 10.0.0.2"), "{out}");
        assert!(out.contains("d.ex. 70 IN DNAME other."), "{out}");
        assert_eq!(rdata_to_text(RType::A, &[1, 2, 3]), "\\# 3 010203");
    }

    /// `ZONEGATE_FUZZ_ITERATIONS` runs the mangling test longer.
    fn fuzz_iterations() -> usize {
        std::env::var("ZONEGATE_FUZZ_ITERATIONS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3000)
    }

    #[test]
    fn never_panics_on_mangled_input() {
        let base = "$ORIGIN ex.\n$TTL 60\n@ IN SOA ns hm ( 1 2 3 4 5 )\n\tNS ns\nns A 10.0.0.1\n\
                    t TXT \"a b\" ; c\nd DNAME x.\ng TYPE65280 \\# 4 0a000001\n";
        let bytes = base.as_bytes();
        let specials = b" \t\n\"\\();@$#.0aZ*";
        let mut next = crate::testkit::xorshift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..fuzz_iterations() {
            let mut v = bytes.to_vec();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % v.len();
                match next() % 3 {
                    0 => v[i] = specials[(next() as usize) % specials.len()],
                    1 => {
                        v.remove(i);
                    }
                    _ => v.insert(i, specials[(next() as usize) % specials.len()]),
                }
                if v.is_empty() {
                    break;
                }
            }
            let text = String::from_utf8_lossy(&v);
            let r = parse(&text, None, "fuzz");
            assert!(
                !matches!(r, Err(ParseError::Internal { .. })),
                "{text:?}: {r:?}"
            );
            let _ = parse(&text, Some(&name("ex.")), "fuzz");
        }
    }
}
