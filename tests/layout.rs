//! The layout rules of issue 10, checked on the source tree itself:
//!
//! - no production file imports a file that imports it back, directly or around a circle,
//!   except a module and its own ancestors (a parent and its children may use each other);
//! - no `too_many_arguments` allowance anywhere.
//!
//! The check reads the sources as text: it strips comments and string literals, leaves out
//! `#[cfg(test)]` modules (test code may use what it tests from anywhere), resolves every
//! `crate::`, `super::` and `self::` path to the file that defines the module it names, and
//! follows `pub use` re-exports to the file that really holds the item.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path inside one crate: `[]` is the crate root, `["gate", "publish"]` is
/// `gate/publish.rs` or `gate/publish/mod.rs`.
type ModPath = Vec<String>;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Colons,
    Punct(char),
}

/// The tree to check: this workspace, or `ZONEGATE_LAYOUT_ROOT` to check another checkout.
fn workspace() -> PathBuf {
    std::env::var_os("ZONEGATE_LAYOUT_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// Removes comments, string and char literals, keeping line structure irrelevant.
fn strip(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'r' if matches!(b.get(i + 1), Some(b'"') | Some(b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if b.get(j) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                j += 1;
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                while j < b.len() && !b[j..].starts_with(&close) {
                    j += 1;
                }
                i = j + close.len();
                out.push_str("\"\"");
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            b'\'' => {
                // A char literal ('a', '\n', '\u{1F600}') or a lifetime ('a).
                let end = if b.get(i + 1) == Some(&b'\\') {
                    b[i + 2..]
                        .iter()
                        .position(|&c| c == b'\'')
                        .map(|p| i + 2 + p)
                } else if b.get(i + 2) == Some(&b'\'') {
                    Some(i + 2)
                } else {
                    None
                };
                match end {
                    Some(e) => {
                        i = e + 1;
                        out.push_str("' '");
                    }
                    None => {
                        out.push('\'');
                        i += 1;
                    }
                }
            }
            c => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    out
}

fn tokens(src: &str) -> Vec<Tok> {
    let s = strip(src);
    let c: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if c[i].is_alphanumeric() || c[i] == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(c[start..i].iter().collect()));
        } else if c[i] == ':' && c.get(i + 1) == Some(&':') {
            out.push(Tok::Colons);
            i += 2;
        } else {
            if !c[i].is_whitespace() {
                out.push(Tok::Punct(c[i]));
            }
            i += 1;
        }
    }
    out
}

fn is_ident(t: Option<&Tok>, word: &str) -> bool {
    matches!(t, Some(Tok::Ident(w)) if w == word)
}

/// Drops `#[cfg(test)]` items that are inline modules or `mod x;` declarations, and returns
/// the names of file modules declared only under `cfg(test)`.
fn drop_test_modules(toks: Vec<Tok>) -> (Vec<Tok>, BTreeSet<String>) {
    let pat = ["#", "[", "cfg", "(", "test", ")", "]"];
    let mut out = Vec::with_capacity(toks.len());
    let mut test_files = BTreeSet::new();
    let mut i = 0;
    while i < toks.len() {
        let is_cfg_test = pat.iter().enumerate().all(|(k, p)| match toks.get(i + k) {
            Some(Tok::Ident(w)) => w == p,
            Some(Tok::Punct(ch)) => p.len() == 1 && p.starts_with(*ch),
            _ => false,
        });
        if !is_cfg_test {
            out.push(toks[i].clone());
            i += 1;
            continue;
        }
        let mut j = i + pat.len();
        // Further attributes, then an optional `pub`.
        while matches!(toks.get(j), Some(Tok::Punct('#'))) {
            let mut depth = 0;
            j += 1;
            while j < toks.len() {
                match toks[j] {
                    Tok::Punct('[') => depth += 1,
                    Tok::Punct(']') => {
                        depth -= 1;
                        if depth == 0 {
                            j += 1;
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        if is_ident(toks.get(j), "pub") {
            j += 1;
        }
        if !is_ident(toks.get(j), "mod") {
            out.push(toks[i].clone());
            i += 1;
            continue;
        }
        let name = match toks.get(j + 1) {
            Some(Tok::Ident(n)) => n.clone(),
            _ => String::new(),
        };
        match toks.get(j + 2) {
            Some(Tok::Punct(';')) => {
                test_files.insert(name);
                i = j + 3;
            }
            Some(Tok::Punct('{')) => {
                let mut depth = 0;
                let mut k = j + 2;
                while k < toks.len() {
                    match toks[k] {
                        Tok::Punct('{') => depth += 1,
                        Tok::Punct('}') => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    k += 1;
                }
                i = k + 1;
            }
            _ => {
                out.push(toks[i].clone());
                i += 1;
            }
        }
    }
    (out, test_files)
}

/// Every path starting at `toks[i]`, with `{a, b::c}` groups expanded. Returns the paths and
/// the index after them.
fn paths_at(toks: &[Tok], mut i: usize, prefix: Vec<String>) -> (Vec<Vec<String>>, usize) {
    let mut path = prefix;
    loop {
        match toks.get(i) {
            Some(Tok::Ident(w)) => {
                path.push(w.clone());
                i += 1;
            }
            Some(Tok::Punct('*')) => {
                return (vec![path], i + 1);
            }
            Some(Tok::Punct('{')) => {
                let mut all = Vec::new();
                i += 1;
                loop {
                    match toks.get(i) {
                        Some(Tok::Punct('}')) | None => return (all, i + 1),
                        Some(Tok::Punct(',')) => i += 1,
                        _ => {
                            let (mut p, next) = paths_at(toks, i, path.clone());
                            all.append(&mut p);
                            // Skip `as name` and anything up to the next separator.
                            i = next;
                            while !matches!(
                                toks.get(i),
                                Some(Tok::Punct(',')) | Some(Tok::Punct('}')) | None
                            ) {
                                i += 1;
                            }
                        }
                    }
                }
            }
            _ => return (vec![path], i),
        }
        if toks.get(i) == Some(&Tok::Colons) {
            i += 1;
        } else {
            return (vec![path], i);
        }
    }
}

/// One crate's modules: which file each module path lives in, and what it re-exports.
struct Crate {
    name: String,
    files: BTreeMap<ModPath, PathBuf>,
    /// Raw `crate`/`super`/`self` paths each file uses, and whether a path came from a
    /// `pub use` (a re-export).
    uses: BTreeMap<ModPath, Vec<(Vec<String>, bool)>>,
}

fn module_files(dir: &Path, root_file: &Path) -> BTreeMap<ModPath, PathBuf> {
    fn walk(dir: &Path, prefix: &ModPath, out: &mut BTreeMap<ModPath, PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.path());
        for e in entries {
            let p = e.path();
            let name = p.file_stem().unwrap().to_string_lossy().to_string();
            if p.is_dir() {
                let mut m = prefix.clone();
                m.push(name);
                walk(&p, &m, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let mut m = prefix.clone();
                if name != "mod" {
                    m.push(name);
                }
                out.insert(m, p);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, &Vec::new(), &mut out);
    out.retain(|m, p| !(m.len() == 1 && (m[0] == "lib" || m[0] == "main") && p != root_file));
    out.remove(&vec!["lib".to_string()]);
    out.remove(&vec!["main".to_string()]);
    out.insert(Vec::new(), root_file.to_path_buf());
    out
}

fn load_crate(dir: &Path) -> Crate {
    let src = dir.join("src");
    let root = if src.join("lib.rs").exists() {
        src.join("lib.rs")
    } else {
        src.join("main.rs")
    };
    let mut files = module_files(&src, &root);
    let mut test_only = BTreeSet::new();
    let mut uses = BTreeMap::new();
    for (m, p) in &files {
        let (toks, tests) = drop_test_modules(tokens(&std::fs::read_to_string(p).unwrap()));
        for t in tests {
            let mut child = m.clone();
            child.push(t);
            test_only.insert(child);
        }
        let mut found = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let start =
                matches!(&toks[i], Tok::Ident(w) if w == "crate" || w == "super" || w == "self");
            let prev_colons = i > 0 && toks[i - 1] == Tok::Colons;
            if start && !prev_colons && toks.get(i + 1) == Some(&Tok::Colons) {
                let reexport = i >= 2
                    && is_ident(toks.get(i - 1), "use")
                    && (is_ident(toks.get(i - 2), "pub")
                        || toks.get(i - 2) == Some(&Tok::Punct(')')));
                let (paths, next) = paths_at(&toks, i, Vec::new());
                found.extend(paths.into_iter().map(|p| (p, reexport)));
                i = next.max(i + 1);
            } else if is_ident(toks.get(i), "use")
                && matches!(toks.get(i + 1), Some(Tok::Ident(w)) if !matches!(w.as_str(), "crate" | "super" | "self"))
            {
                // `use child::Item;` inside a module: relative to this module.
                let reexport = i >= 1
                    && (is_ident(toks.get(i - 1), "pub")
                        || toks.get(i - 1) == Some(&Tok::Punct(')')));
                let (paths, next) = paths_at(&toks, i + 1, vec!["self".to_string()]);
                found.extend(paths.into_iter().map(|p| (p, reexport)));
                i = next.max(i + 1);
            } else {
                i += 1;
            }
        }
        uses.insert(m.clone(), found);
    }
    files.retain(|m, _| !test_only.iter().any(|t| m.starts_with(t)));
    uses.retain(|m, _| files.contains_key(m));
    Crate {
        name: dir.file_name().unwrap().to_string_lossy().to_string(),
        files,
        uses,
    }
}

impl Crate {
    /// Turns a `crate::`/`super::`/`self::` path used in module `from` into an absolute one.
    fn absolute(&self, from: &ModPath, path: &[String]) -> Option<ModPath> {
        let mut base: ModPath = from.clone();
        let mut rest = path;
        match rest.first().map(String::as_str) {
            Some("crate") => {
                base.clear();
                rest = &rest[1..];
            }
            Some("self") => rest = &rest[1..],
            Some("super") => {
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
            }
            _ => return None,
        }
        base.extend(rest.iter().cloned());
        Some(base)
    }

    /// The file whose module holds what `abs` names, following re-exports (a few hops).
    fn resolve(&self, abs: &ModPath, hops: usize) -> Option<ModPath> {
        let module = (0..=abs.len())
            .rev()
            .map(|n| abs[..n].to_vec())
            .find(|m| self.files.contains_key(m))?;
        let item = abs.get(module.len());
        if hops == 0 {
            return Some(module);
        }
        if let Some(item) = item {
            for (p, reexport) in &self.uses[&module] {
                if *reexport
                    && p.last() == Some(item)
                    && p.len() > 1
                    && let Some(target) = self.absolute(&module, p)
                    && target != *abs
                {
                    return self.resolve(&target, hops - 1);
                }
            }
        }
        Some(module)
    }

    fn edges(&self) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
        let mut out: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
        for (from, paths) in &self.uses {
            for (p, _) in paths {
                let Some(abs) = self.absolute(from, p) else {
                    continue;
                };
                let Some(to) = self.resolve(&abs, 4) else {
                    continue;
                };
                // A module and its ancestors may use each other.
                if to.starts_with(from) || from.starts_with(&to) {
                    continue;
                }
                out.entry(from.clone()).or_default().insert(to);
            }
        }
        out
    }

    fn file(&self, m: &ModPath) -> String {
        self.files[m]
            .strip_prefix(workspace())
            .unwrap_or(&self.files[m])
            .display()
            .to_string()
    }
}

/// Every circle of file imports, one per strongly connected component (Tarjan).
fn circles(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    struct St<'a> {
        edges: &'a BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<ModPath, usize>,
        low: BTreeMap<ModPath, usize>,
        stack: Vec<ModPath>,
        on: BTreeSet<ModPath>,
        out: Vec<Vec<ModPath>>,
    }
    fn visit(s: &mut St, v: &ModPath) {
        let n = s.index.len();
        s.index.insert(v.clone(), n);
        s.low.insert(v.clone(), n);
        s.stack.push(v.clone());
        s.on.insert(v.clone());
        for w in s.edges.get(v).cloned().unwrap_or_default() {
            if !s.index.contains_key(&w) {
                visit(s, &w);
                let lw = s.low[&w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on.contains(&w) {
                let iw = s.index[&w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(&w);
                let done = w == *v;
                comp.push(w);
                if done {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = St {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn crates() -> Vec<Crate> {
    let mut dirs: Vec<_> = std::fs::read_dir(workspace().join("crates"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs.iter()
        .filter(|d| d.join("src").is_dir())
        .map(|d| load_crate(d))
        .collect()
}

#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    let mut report = Vec::new();
    let all = crates();
    assert!(
        all.len() >= 4,
        "expected the workspace's crates under crates/, found {}",
        all.len()
    );
    for c in &all {
        let edges = c.edges();
        for comp in circles(&edges) {
            let mut lines = vec![format!(
                "crate {}: a circle of {} files:",
                c.name,
                comp.len()
            )];
            for m in &comp {
                let to: Vec<String> = edges[m]
                    .iter()
                    .filter(|t| comp.contains(t))
                    .map(|t| c.file(t))
                    .collect();
                lines.push(format!("  {} uses {}", c.file(m), to.join(", ")));
            }
            report.push(lines.join("\n"));
        }
    }
    assert!(
        report.is_empty(),
        "import circles (move the helper to where it belongs):\n{}",
        report.join("\n")
    );
}

#[test]
fn the_checker_finds_a_planted_circle() {
    // A two-file circle and a parent/child pair that must not count.
    let dir = std::env::temp_dir().join(format!("zonegate-layout-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("p")).unwrap();
    std::fs::write(
        src.join("lib.rs"),
        "mod a;\nmod b;\nmod p;\npub use a::Thing;\n",
    )
    .unwrap();
    std::fs::write(
        src.join("a.rs"),
        "use crate::b::{Other, more::X};\npub struct Thing;\n",
    )
    .unwrap();
    std::fs::write(
        src.join("b.rs"),
        "// crate::p::Nothing in a comment\nuse crate::Thing;\npub struct Other;\n",
    )
    .unwrap();
    std::fs::write(
        src.join("p/mod.rs"),
        "mod c;\nuse c::C;\n#[cfg(test)]\nmod tests { use crate::a::Thing; }\n",
    )
    .unwrap();
    std::fs::write(
        src.join("p/c.rs"),
        "use super::super::p::D;\npub struct C;\n",
    )
    .unwrap();
    let c = load_crate(&dir);
    let found = circles(&c.edges());
    std::fs::remove_dir_all(&dir).unwrap();
    let names: Vec<Vec<String>> = found
        .iter()
        .map(|comp| comp.iter().map(|m| m.join("::")).collect())
        .collect();
    assert_eq!(names, vec![vec!["a".to_string(), "b".to_string()]]);
}

#[test]
fn no_too_many_arguments_allowance() {
    let mut offenders = Vec::new();
    for dir in ["crates", "tests"] {
        let mut stack = vec![workspace().join(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() && p.file_name().is_some_and(|n| n != "target") {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    let text = strip(&std::fs::read_to_string(&p).unwrap());
                    if text.contains("clippy::too_many_arguments") {
                        offenders.push(p.display().to_string());
                    }
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "use a context struct instead of allowing too_many_arguments: {offenders:?}"
    );
}
