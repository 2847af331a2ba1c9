//! Master-file text in: [`parse`] and its [`ParseError`].

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};

use domain::base::iana::{Class, Rtype};
use domain::base::name::ToName;
use domain::base::rdata::ComposeRecordData;
use domain::zonefile::inplace::{Entry, ScannedRecord, Zonefile};

use crate::dns::name::{Name, NameError};
use crate::dns::rdata::canonical_rdata;
use crate::dns::record::{RType, Record};
use crate::dns::record_data::RecordData;
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
    /// More records than the limit: parsing stopped at the first record past it, so a huge
    /// file costs no more memory than the limit allows.
    #[error(
        "{file}:{line}: more than {max} records (limits.records_max); parsing stopped here. \
         Split the zone, or raise records_max in the config if the server has the memory"
    )]
    TooManyRecords {
        file: String,
        line: usize,
        max: usize,
    },
}

impl ParseError {
    /// The line the error is on, if it has one.
    pub fn line(&self) -> Option<usize> {
        match self {
            ParseError::Syntax { line, .. }
            | ParseError::NoOrigin { line, .. }
            | ParseError::Class { line, .. }
            | ParseError::Rdata { line, .. }
            | ParseError::Include { line, .. }
            | ParseError::TooManyRecords { line, .. } => Some(*line),
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
    parse_limited(text, origin, source, usize::MAX)
}

/// [`parse`] that stops at the first record past `records_max` with
/// [`ParseError::TooManyRecords`]: memory stays bounded by the limit, however long the file.
pub fn parse_limited(
    text: &str,
    origin: Option<&Name>,
    source: &str,
    records_max: usize,
) -> Result<ParsedZone, ParseError> {
    // A UTF-8 byte-order mark is not part of the text (editors on Windows write one).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // `domain` 0.12.3 indexes past its buffer when the text ends inside a quoted string's
    // last token (`www TXT "abc"` with no line feed after it; found by fuzzing): a line feed
    // at the end changes no line number and avoids it.
    let ended;
    let text = if text.is_empty() || text.ends_with('\n') {
        text
    } else {
        ended = format!("{text}\n");
        &ended
    };
    let run = || parse_inner(text, origin, source, records_max);
    match catch_unwind(AssertUnwindSafe(run)) {
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

fn parse_inner(
    text: &str,
    origin: Option<&Name>,
    source: &str,
    records_max: usize,
) -> Result<ParsedZone, ParseError> {
    let (spans, open) = entry_spans(text.as_bytes(), records_max);
    if let Some((line, what)) = open {
        return Err(ParseError::Syntax {
            file: source.to_string(),
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
    let (scan_text, blank_owner) = with_blank_owner(text, &spans);
    let mut zonefile = scanner(&scan_text, origin, source)?;

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
            Entry::Include { .. } => {
                return Err(ParseError::Include {
                    file: source.to_string(),
                    line,
                });
            }
            Entry::Record(record) => record,
        };
        if records.len() == records_max {
            return Err(ParseError::TooManyRecords {
                file: source.to_string(),
                line,
                max: records_max,
            });
        }
        records.push(to_record(&record, line, source, &mut wire)?);
    }
    let origin = origin
        .cloned()
        .unwrap_or_else(|| implied_origin(&records, blank_owner.as_ref()));
    if let Some(blank) = &blank_owner {
        for r in records.iter_mut().filter(|r| &r.owner == blank) {
            r.owner = origin.clone();
        }
    }
    Ok(ParsedZone { origin, records })
}

/// A first record with a blank owner has no previous owner to repeat: the text with a
/// placeholder owner in front of it, and that placeholder, which gets the origin once that is
/// known. The text as it is otherwise.
fn with_blank_owner<'t>(text: &'t str, spans: &[EntrySpan]) -> (Cow<'t, str>, Option<Name>) {
    let first_record = spans.iter().find(|s| !s.directive);
    match first_record.filter(|s| s.indented && !text.contains(BLANK_OWNER)) {
        Some(span) => {
            let mut owned = String::with_capacity(text.len() + BLANK_OWNER.len());
            owned.push_str(&text[..span.line_offset]);
            owned.push_str(BLANK_OWNER);
            owned.push_str(&text[span.line_offset..]);
            let blank = Name::parse(BLANK_OWNER).expect("the placeholder is a valid name");
            (Cow::Owned(owned), Some(blank))
        }
        None => (Cow::Borrowed(text), None),
    }
}

/// `domain`'s scanner over `text`, class IN by default, starting at `origin` if one is given.
fn scanner(text: &str, origin: Option<&Name>, source: &str) -> Result<Zonefile, ParseError> {
    let mut zonefile = Zonefile::from(text);
    zonefile.set_default_class(Class::IN);
    if let Some(origin) = origin {
        let mut wire = Vec::with_capacity(origin.wire_len());
        origin.write_wire(&mut wire);
        let dname = domain::base::Name::from_slice(&wire).map_err(|e| ParseError::Internal {
            file: source.to_string(),
            message: e.to_string(),
        })?;
        zonefile.set_origin(dname.to_name());
    }
    Ok(zonefile)
}

/// One scanned record as a [`Record`] with canonical data, or the error naming its `line`.
/// `wire` is a buffer the caller reuses across records.
fn to_record(
    record: &ScannedRecord,
    line: usize,
    source: &str,
    wire: &mut Vec<u8>,
) -> Result<Record, ParseError> {
    let file = || source.to_string();
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
    if record.data().compose_rdata(wire).is_err() {
        return Err(ParseError::Rdata {
            file: file(),
            line,
            rtype: rtype.to_string(),
            message: "cannot be composed".to_string(),
        });
    }
    let rdata: RecordData = match (rtype, wire.len()) {
        // Composed addresses are canonical as they are (see `canonical_rdata`).
        (Rtype::A, 4) | (Rtype::AAAA, 16) => wire[..].into(),
        _ => canonical_rdata(rtype.to_int(), wire)
            .map_err(|message| ParseError::Rdata {
                file: file(),
                line,
                rtype: rtype.to_string(),
                message: message.to_string(),
            })?
            .into(),
    };
    Ok(Record {
        owner,
        rtype: RType(rtype.to_int()),
        ttl: record.ttl().as_secs(),
        rdata,
    })
}

/// The origin of a file parsed without one: the owner of the first SOA, or else the closest
/// common ancestor of the owners (the blank-owner placeholder counts for neither).
fn implied_origin(records: &[Record], blank_owner: Option<&Name>) -> Name {
    records
        .iter()
        .find(|r| r.rtype == RType::SOA && Some(&r.owner) != blank_owner)
        .map(|r| r.owner.clone())
        .unwrap_or_else(|| {
            common_ancestor(
                records
                    .iter()
                    .map(|r| &r.owner)
                    .filter(|o| Some(*o) != blank_owner),
            )
        })
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
        "bad name" => bad_name_why(zone_text.lines().nth(line - 1).unwrap_or("")),
        _ => message,
    };
    ParseError::Syntax {
        file,
        line,
        message,
    }
}

/// Why a name on `line` is not a name: the first token that breaks a rule, said with the rule.
fn bad_name_why(line: &str) -> String {
    let rule = "labels hold 1 to 63 octets, a name at most 255 in wire form (RFC 1035 §2.3.4), \
                and an escape \\DDD is at most \\255";
    let token_why = |token: &str| -> Option<String> {
        let (mut labels, mut label, mut wire) = (Vec::new(), 0usize, 1usize);
        let bytes = token.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                    let digits = token.get(i + 1..i + 4).unwrap_or("");
                    if digits.parse::<u32>().map_or(true, |v| v > 255) {
                        return Some(format!(
                            "the escape `\\{digits}` in `{token}` is not an octet (\\000 to \\255)"
                        ));
                    }
                    label += 1;
                    i += 4;
                }
                b'\\' => {
                    label += 1;
                    i += 2;
                }
                b'.' => {
                    if label == 0 && token != "." {
                        return Some(format!(
                            "`{token}` has an empty label (two dots in a row, or a leading dot)"
                        ));
                    }
                    labels.push(label);
                    wire += label + 1;
                    label = 0;
                    i += 1;
                }
                _ => {
                    label += 1;
                    i += 1;
                }
            }
        }
        labels.push(label);
        wire += label + usize::from(label > 0);
        if let Some(long) = labels.iter().find(|&&l| l > 63) {
            return Some(format!(
                "`{token}` has a label of {long} octets; a label holds at most 63"
            ));
        }
        (wire > 255)
            .then(|| format!("`{token}` is {wire} octets in wire form; a name holds at most 255"))
    };
    line.split_whitespace()
        .take_while(|t| !t.starts_with(';'))
        .find_map(token_why)
        .map_or_else(
            || format!("bad name: a name on this line is not a domain name ({rule})"),
            |why| format!("bad name: {why} ({rule})"),
        )
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
/// Stops after the first record past `records_max` (the parse stops there too).
fn entry_spans(text: &[u8], records_max: usize) -> (Vec<EntrySpan>, Option<(usize, &'static str)>) {
    let mut spans = Vec::new();
    let mut records = 0usize;
    let mut line = 1;
    let mut line_offset = 0;
    let mut parens = 0usize;
    let mut paren_line = 0;
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
                    records += usize::from(!directive);
                    if records > records_max {
                        return (spans, None);
                    }
                }
                let quote_line = line;
                let closed;
                (i, closed) = skip_token(text, i, &mut line, &mut line_offset);
                space_before = false;
                if !closed {
                    return (spans, Some((quote_line, "unterminated quoted string")));
                }
            }
        }
    }
    let open = (parens > 0).then_some((paren_line, "unclosed parenthesis"));
    (spans, open)
}

/// Skips the token that starts at `text[i]`, counting the lines it spans into `line` and
/// `line_offset`: a quoted string up to its closing quote, anything else up to white space,
/// `;`, a parenthesis or a quote; `\` escapes the next character. Returns the offset after the
/// token, and false for a quoted string that never closes.
fn skip_token(
    text: &[u8],
    mut i: usize,
    line: &mut usize,
    line_offset: &mut usize,
) -> (usize, bool) {
    let quoted = text[i] == b'"';
    if quoted {
        i += 1;
    }
    while i < text.len() {
        let b = text[i];
        if b == b'\\' {
            if text.get(i + 1) == Some(&b'\n') {
                *line += 1;
                *line_offset = i + 2;
            }
            i += 2;
            continue;
        }
        if quoted {
            i += 1;
            if b == b'"' {
                return (i, true);
            }
            if b == b'\n' {
                *line += 1;
                *line_offset = i;
            }
        } else {
            if matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"') {
                break;
            }
            i += 1;
        }
    }
    (i, !quoted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_spans_follow_parens_quotes_and_comments() {
        let (spans, open) = entry_spans(
            b"; c\n$TTL 5\na ( 1\n 2 ) ; x\n\tb \"q\nq\" (\n)\n\n  ; only a comment\nc\n",
            usize::MAX,
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
            entry_spans(b"a A 1.1.1.1\nb SOA ( 1\n2\n", usize::MAX).1,
            Some((2, "unclosed parenthesis"))
        );
        assert_eq!(
            entry_spans(b"a A 1.1.1.1\n\nb TXT \"x\n", usize::MAX).1,
            Some((3, "unterminated quoted string"))
        );
    }

    #[test]
    fn a_bad_name_says_why_and_a_byte_order_mark_is_accepted() {
        let zone = |name: &str| format!("$ORIGIN e.\n@ SOA ns h 1 1 1 1 1\n{name} A 1.1.1.1\n");
        let long = "a".repeat(64);
        let e = parse(&zone(&long), None, "f").unwrap_err().to_string();
        assert!(
            e.contains("f:3: bad name: ") && e.contains("a label of 64 octets"),
            "{e}"
        );
        let e = parse(&zone(&"abcd.".repeat(60)), None, "f")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("octets in wire form; a name holds at most 255"),
            "{e}"
        );
        let plain = parse(&zone("www"), None, "f").unwrap();
        let bom = parse(&format!("\u{feff}{}", zone("www")), None, "f").unwrap();
        assert_eq!((bom.origin, bom.records), (plain.origin, plain.records));
    }

    #[test]
    fn parsing_stops_at_the_first_record_past_the_limit() {
        let text =
            "$ORIGIN e.\n$TTL 5\n@ SOA ns h 1 1 1 1 1\na A 1.1.1.1\nb A 1.1.1.2\nc A 1.1.1.3\n";
        assert_eq!(parse_limited(text, None, "f", 4).unwrap().records.len(), 4);
        let e = parse_limited(text, None, "f", 2).unwrap_err();
        assert_eq!(
            e,
            ParseError::TooManyRecords {
                file: "f".into(),
                line: 5,
                max: 2
            },
            "{e}"
        );
        // The scan of entries stops there too: it never holds more than the limit and one.
        let many = "a A 1.1.1.1\n".repeat(1000);
        assert_eq!(entry_spans(many.as_bytes(), 10).0.len(), 11);
        // Past a limit of zero, the first record is already too many.
        assert!(matches!(
            parse_limited(text, None, "f", 0),
            Err(ParseError::TooManyRecords { line: 3, .. })
        ));
    }
}
