//! A small reader of this crate's source for tests/layers.rs: the module
//! tree as the compiler builds it without `cfg(test)`, and every path that
//! reaches another module.
//!
//! Not a parser, but no plain text search either: comments are blanked,
//! string and char literals are skipped (so a `crate::` in a message or a
//! doc comment counts for nothing), `#[cfg(test)]` items are dropped, the
//! files are those `mod NAME;` declares from src/lib.rs down (so a file
//! declared for tests only is left out), and paths are read from tokens:
//! `crate::` and `super::` (resolved from the module they are written in,
//! inline `mod x { }` blocks included), `use` trees with nested braces
//! expanded. That is every way this code names another module.

use std::path::{Path, PathBuf};

/// One file of the crate.
pub struct File {
    /// Its module path from the crate root: `["plan", "seccomp"]`.
    pub module: Vec<String>,
    pub path: PathBuf,
    /// The source without `#[cfg(test)]` items and comments; literals kept.
    pub text: String,
    /// The same with string and char literals blanked too.
    pub code: String,
}

/// A path in the code, resolved from the crate root.
#[derive(Debug, PartialEq)]
pub struct Named {
    /// The module it is written in (inline modules included).
    pub from: Vec<String>,
    /// Where it leads: `["seccomp", "policy", "base_rules"]`.
    pub to: Vec<String>,
    /// Its line, from 1.
    pub line: usize,
}

/// The files of the crate whose root is `src/lib.rs`, as declared.
pub fn crate_files(src: &Path) -> Vec<File> {
    let mut out = Vec::new();
    read_module(&src.join("lib.rs"), src, Vec::new(), &mut out);
    out
}

/// Reads `path` (module `module`, its children's files beneath `dir`) and
/// the files of the modules it declares.
fn read_module(path: &Path, dir: &Path, module: Vec<String>, out: &mut Vec<File>) {
    let raw = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (text, code) = without_tests(&raw);
    for (inline, name) in declared(&code) {
        let mut child_dir = dir.to_path_buf();
        child_dir.extend(&inline);
        let file = [child_dir.join(format!("{name}.rs")), child_dir.join(&name).join("mod.rs")]
            .into_iter()
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{}: no file for `mod {name};`", path.display()));
        let mut child = module.clone();
        child.extend(inline);
        child.push(name.clone());
        read_module(&file, &child_dir.join(&name), child, out);
    }
    out.push(File { module, path: path.to_path_buf(), text, code });
}

/// Comments blanked, and string and char literals too when `literals`; the
/// bytes keep their places (line numbers hold).
pub fn blank(text: &str, literals: bool) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    while i < b.len() {
        let (len, wipe) = if b[i..].starts_with(b"//") {
            (b[i..].iter().position(|&c| c == b'\n').unwrap_or(b.len() - i), true)
        } else if b[i..].starts_with(b"/*") {
            (block_comment(&b[i..]), true)
        } else if let Some(len) = literal(b, i) {
            (len, literals)
        } else {
            (1, false)
        };
        let len = len.min(b.len() - i);
        if wipe {
            out[i..i + len].iter_mut().filter(|c| **c != b'\n').for_each(|c| *c = b' ');
        }
        i += len;
    }
    String::from_utf8(out).expect("blanks replace whole characters")
}

/// The length of the (nested) block comment at the start of `b`.
fn block_comment(b: &[u8]) -> usize {
    let (mut depth, mut i) = (0, 0);
    while i < b.len() {
        if b[i..].starts_with(b"/*") {
            depth += 1;
            i += 2;
        } else if b[i..].starts_with(b"*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

fn ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The length of the string, raw string or char literal at `b[i]`, if one
/// starts there (a lifetime is not one).
fn literal(b: &[u8], i: usize) -> Option<usize> {
    let after_ident = i > 0 && ident_byte(b[i - 1]);
    match b[i] {
        b'"' => {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            Some(j + 1 - i)
        }
        b'r' if !after_ident || (i > 0 && b[i - 1] == b'b' && (i < 2 || !ident_byte(b[i - 2]))) => {
            let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
            if b.get(i + 1 + hashes) != Some(&b'"') {
                return None;
            }
            let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat(b'#').take(hashes)).collect();
            let body = i + 2 + hashes;
            let end = b[body..].windows(close.len()).position(|w| w == close.as_slice())?;
            Some(body + end + close.len() - i)
        }
        b'\'' if b.get(i + 1) == Some(&b'\\') => {
            let end = b.get(i + 3..)?.iter().position(|&c| c == b'\'')?;
            Some(end + 4)
        }
        b'\'' => {
            let ch = std::str::from_utf8(&b[i + 1..(i + 5).min(b.len())])
                .or_else(|e| std::str::from_utf8(&b[i + 1..i + 1 + e.valid_up_to()]))
                .ok()?
                .chars()
                .next()?;
            (b.get(i + 1 + ch.len_utf8()) == Some(&b'\'')).then_some(ch.len_utf8() + 2)
        }
        _ => None,
    }
}

/// `text` without its `#[cfg(test)]` items, as (literals kept, literals
/// blanked); comments blanked in both, lines kept.
pub fn without_tests(text: &str) -> (String, String) {
    let (mut kept, mut code) = (blank(text, false).into_bytes(), blank(text, true).into_bytes());
    let mut from = 0;
    while let Some(at) = find(&code, b"#[cfg(test)]", from) {
        let end = item_end(&code, at + b"#[cfg(test)]".len());
        for buf in [&mut kept, &mut code] {
            buf[at..end].iter_mut().filter(|c| **c != b'\n').for_each(|c| *c = b' ');
        }
        from = end;
    }
    (String::from_utf8(kept).unwrap(), String::from_utf8(code).unwrap())
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// Where the item that starts at `at` ends: after its `;`, or after the
/// `}` that closes its first brace, whichever comes first (outside
/// parentheses and brackets).
fn item_end(code: &[u8], at: usize) -> usize {
    let (mut depth, mut open) = (0i32, 0i32);
    for (i, &c) in code.iter().enumerate().skip(at) {
        match c {
            b'(' | b'[' => open += 1,
            b')' | b']' => open -= 1,
            b';' if depth == 0 && open == 0 => return i + 1,
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    code.len()
}

/// A word (identifier or keyword), `::`, or one other character.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok<'a> {
    Word(&'a str),
    Colons,
    Punct(u8),
}

/// The tokens of blanked code, each with its line.
fn tokens(code: &str) -> Vec<(Tok<'_>, usize)> {
    let b = code.as_bytes();
    let (mut out, mut line, mut i) = (Vec::new(), 1, 0);
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            line += 1;
        }
        if c.is_ascii_whitespace() {
            i += 1;
        } else if ident_byte(c) || !c.is_ascii() {
            let len = b[i..].iter().take_while(|&&c| ident_byte(c) || !c.is_ascii()).count();
            out.push((Tok::Word(&code[i..i + len]), line));
            i += len;
        } else if b[i..].starts_with(b"::") {
            out.push((Tok::Colons, line));
            i += 2;
        } else {
            out.push((Tok::Punct(c), line));
            i += 1;
        }
    }
    out
}

/// The `mod NAME;` declarations of blanked code, each with the inline
/// modules it stands in.
fn declared(code: &str) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    walk(code, |inline, toks, k| {
        if let [(Tok::Word("mod"), _), (Tok::Word(name), _), (Tok::Punct(b';'), _), ..] = toks[k..] {
            out.push((inline.to_vec(), name.to_string()));
        }
    });
    out
}

/// Calls `f` at every token with the inline modules open there.
fn walk(code: &str, mut f: impl FnMut(&[String], &[(Tok<'_>, usize)], usize)) {
    let toks = tokens(code);
    let mut depth = 0;
    let mut inline: Vec<(String, usize)> = Vec::new();
    for k in 0..toks.len() {
        let names: Vec<String> = inline.iter().map(|(n, _)| n.clone()).collect();
        f(&names, &toks, k);
        match toks[k].0 {
            Tok::Punct(b'{') => {
                depth += 1;
                if let [(Tok::Word("mod"), _), (Tok::Word(name), _)] = toks[k.saturating_sub(2)..k] {
                    inline.push((name.to_string(), depth));
                }
            }
            Tok::Punct(b'}') => {
                inline.retain(|(_, d)| *d < depth);
                depth -= 1;
            }
            _ => {}
        }
    }
}

/// Every `crate::…` and `super::…` path of `file`, resolved.
pub fn paths(file: &File) -> Vec<Named> {
    paths_in(&file.module, &file.code)
}

/// Every `crate::…` and `super::…` path of blanked `code` written in
/// module `module`, resolved; `use` trees give one path per leaf.
pub fn paths_in(module: &[String], code: &str) -> Vec<Named> {
    let mut out = Vec::new();
    walk(code, |inline, toks, k| {
        let starts = matches!(toks[k].0, Tok::Word("crate" | "super"))
            && toks.get(k + 1).map(|t| t.0) == Some(Tok::Colons)
            && !matches!(k.checked_sub(1).map(|j| toks[j].0), Some(Tok::Colons | Tok::Punct(b'$')));
        if !starts {
            return;
        }
        let mut from = module.to_vec();
        from.extend(inline.iter().cloned());
        for written in tree(toks, k, Vec::new()).0 {
            out.push(Named { to: resolve(&from, &written), from: from.clone(), line: toks[k].1 });
        }
    });
    out
}

/// The paths of the tree at `toks[k]` with `prefix` before each, and the
/// index after it.
fn tree(toks: &[(Tok<'_>, usize)], mut k: usize, prefix: Vec<String>) -> (Vec<Vec<String>>, usize) {
    let mut segs = prefix;
    loop {
        match toks.get(k).map(|t| t.0) {
            Some(Tok::Word(w)) => {
                segs.push(w.to_string());
                k += 1;
                if toks.get(k).map(|t| t.0) != Some(Tok::Colons) {
                    return (vec![segs], k);
                }
                k += 1;
            }
            Some(Tok::Punct(b'{')) => {
                let mut out = Vec::new();
                k += 1;
                while let Some(t) = toks.get(k).map(|t| t.0) {
                    match t {
                        Tok::Punct(b'}') => return (out, k + 1),
                        Tok::Punct(b',') => k += 1,
                        Tok::Word("as") => k += 2,
                        _ => {
                            let (paths, next) = tree(toks, k, segs.clone());
                            out.extend(paths);
                            k = next.max(k + 1);
                        }
                    }
                }
                return (out, k);
            }
            // A glob, or the end of the path.
            _ => return (vec![segs], k),
        }
    }
}

/// `written` (starting with `crate` or `super`), as seen from module `from`.
fn resolve(from: &[String], written: &[String]) -> Vec<String> {
    let mut abs = from.to_vec();
    let mut segs = written.iter().peekable();
    if segs.peek().map(|s| s.as_str()) == Some("crate") {
        segs.next();
        abs.clear();
    }
    while segs.peek().map(|s| s.as_str()) == Some("super") {
        segs.next();
        abs.pop();
    }
    abs.extend(segs.filter(|s| *s != "self").cloned());
    abs
}
