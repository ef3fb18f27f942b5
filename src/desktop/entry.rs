//! The Desktop Entry format (freedesktop.org Desktop Entry Specification
//! 1.5): what a `.desktop` file says, and the rewrite that makes every
//! command of one run through `sandbox --profile P --`.
//!
//! Rules of the format this module follows:
//! - A file is UTF-8 lines: comments (`#`), blank lines, group headers
//!   (`[Desktop Entry]` first, then e.g. `[Desktop Action new-window]`) and
//!   `Key=Value` pairs (`Key[locale]=Value` for translations). Everything a
//!   rewrite does not touch is written back byte for byte, in order.
//! - A value of type string has its escapes undone first (`\s` space, `\n`,
//!   `\t`, `\r`, `\\`); then `Exec` is split into arguments: an argument
//!   containing a reserved character is enclosed in double quotes, inside
//!   which `"`, `` ` ``, `$` and `\` are escaped with a backslash. (GLib,
//!   which most desktops use, also takes single quotes; so does the parser.)
//! - Field codes are expanded by the launcher, not by us: `%f %F %u %U` (at
//!   most one, `%F`/`%U` as an argument of their own), `%i` (`--icon NAME`),
//!   `%c` (the name), `%k` (the file's location), `%%` (a literal `%`). The
//!   deprecated `%d %D %n %N %v %m` are removed, as the specification says;
//!   any other `%x` is an error. A `%` in an argument sandbox inserts is
//!   written `%%`.
//! - `DBusActivatable=true` tells the desktop to start the application over
//!   D-Bus instead of running `Exec`: that would bypass the sandbox, so the
//!   rewrite removes the key. An entry with no `Exec` at all cannot be
//!   wrapped.

use std::fmt;

/// The key that marks a launcher made by `sandbox desktop install`, with the
/// profile it runs under as its value.
pub const PROFILE_KEY: &str = "X-Sandbox-Profile";
/// The key that records the entry a launcher was made from.
pub const SOURCE_KEY: &str = "X-Sandbox-Source";

const MAIN_GROUP: &str = "Desktop Entry";
const ACTION_PREFIX: &str = "Desktop Action ";

/// A mistake in a `.desktop` file or in what was asked of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    /// 1-based line of the file, when one is to blame.
    pub line: Option<usize>,
    pub cause: String,
}

impl EntryError {
    fn at(line: usize, cause: impl Into<String>) -> Self {
        EntryError { line: Some(line), cause: cause.into() }
    }

    fn new(cause: impl Into<String>) -> Self {
        EntryError { line: None, cause: cause.into() }
    }
}

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.line {
            Some(n) => write!(f, "line {n}: {}", self.cause),
            None => f.write_str(&self.cause),
        }
    }
}

/// One line of a `.desktop` file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    /// A comment or a blank line, kept as it is.
    Other(String),
    /// `[NAME]`.
    Group(String),
    /// `KEY=VALUE`; `key` includes a `[locale]` suffix; `value` is still escaped.
    Pair { key: String, value: String },
}

/// A parsed `.desktop` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    lines: Vec<Line>,
}

fn valid_key(key: &str) -> bool {
    let (name, locale) = match key.split_once('[') {
        Some((n, rest)) => (n, Some(rest)),
        None => (key, None),
    };
    let name_ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let locale_ok = locale
        .map_or(true, |l| l.len() > 1 && l.ends_with(']') && !l[..l.len() - 1].contains(['[', ']', '=']));
    name_ok && locale_ok
}

impl Entry {
    /// Parses `text`; the first group must be `[Desktop Entry]`.
    pub fn parse(text: &str) -> Result<Entry, EntryError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = Vec::new();
        let mut groups: Vec<String> = Vec::new();
        let mut keys: Vec<String> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                lines.push(Line::Other(line.to_string()));
            } else if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                if name.contains(['[', ']']) || name.chars().any(char::is_control) {
                    return Err(EntryError::at(n, format!("invalid group header [{name}]")));
                }
                if groups.is_empty() && name != MAIN_GROUP {
                    return Err(EntryError::at(
                        n,
                        format!("the first group is [{name}], not [{MAIN_GROUP}]"),
                    ));
                }
                if groups.iter().any(|g| g == name) {
                    return Err(EntryError::at(n, format!("group [{name}] appears twice")));
                }
                groups.push(name.to_string());
                keys.clear();
                lines.push(Line::Group(name.to_string()));
            } else if let Some((k, v)) = line.split_once('=') {
                let key = k.trim().to_string();
                if groups.is_empty() {
                    return Err(EntryError::at(n, format!("key {key} comes before [{MAIN_GROUP}]")));
                }
                if !valid_key(&key) {
                    return Err(EntryError::at(n, format!("invalid key {key:?}")));
                }
                if keys.contains(&key) {
                    return Err(EntryError::at(n, format!("key {key} appears twice in its group")));
                }
                keys.push(key.clone());
                lines.push(Line::Pair { key, value: v.trim_start().to_string() });
            } else {
                return Err(EntryError::at(n, "neither a group, a Key=Value pair nor a comment"));
            }
        }
        if groups.is_empty() {
            return Err(EntryError::new(format!("no [{MAIN_GROUP}] group")));
        }
        Ok(Entry { lines })
    }

    /// The value of `key` in `group`, with its string escapes undone.
    pub fn get(&self, group: &str, key: &str) -> Option<String> {
        let mut current = None;
        for line in &self.lines {
            match line {
                Line::Group(g) => current = Some(g.as_str()),
                Line::Pair { key: k, value } if current == Some(group) && k == key => {
                    return Some(unescape_string(value));
                }
                _ => {}
            }
        }
        None
    }

    /// The value of `key` in `[Desktop Entry]`.
    pub fn main(&self, key: &str) -> Option<String> {
        self.get(MAIN_GROUP, key)
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            match line {
                Line::Other(s) => out.push_str(s),
                Line::Group(g) => {
                    out.push('[');
                    out.push_str(g);
                    out.push(']');
                }
                Line::Pair { key, value } => {
                    out.push_str(key);
                    out.push('=');
                    out.push_str(value);
                }
            }
            out.push('\n');
        }
        out
    }
}

/// Undoes the escapes of a string value (`\s`, `\n`, `\t`, `\r`, `\\`).
/// Any other backslash is kept with the character after it, as GLib does,
/// so that `Exec`'s own quoting rules see it.
pub fn unescape_string(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('s') => out.push(' '),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Escapes `v` as a string value: the inverse of [`unescape_string`].
pub fn escape_string(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for (i, c) in v.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            ' ' if i == 0 => out.push_str("\\s"),
            c => out.push(c),
        }
    }
    out
}

/// The characters that make an `Exec` argument need quotes.
const RESERVED: &[char] =
    &[' ', '\t', '\n', '"', '\'', '\\', '>', '<', '~', '|', '&', ';', '$', '*', '?', '#', '(', ')', '`'];

/// Splits an unescaped `Exec` value into its arguments (quotes removed,
/// field codes still in place).
pub fn split_exec(exec: &str) -> Result<Vec<String>, EntryError> {
    let mut args = Vec::new();
    let blank = |c: &char| matches!(c, ' ' | '\t' | '\n');
    let mut chars = exec.chars().peekable();
    loop {
        while chars.next_if(blank).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut arg = String::new();
        while let Some(c) = chars.next_if(|c| !blank(c)) {
            match c {
                '"' => loop {
                    match chars.next() {
                        None => return Err(EntryError::new("Exec has a \" without its closing quote")),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '`' | '$' | '\\')) => arg.push(e),
                            Some(e) => {
                                arg.push('\\');
                                arg.push(e);
                            }
                            None => return Err(EntryError::new("Exec ends inside a quoted argument")),
                        },
                        Some(e) => arg.push(e),
                    }
                },
                '\'' => loop {
                    match chars.next() {
                        None => return Err(EntryError::new("Exec has a ' without its closing quote")),
                        Some('\'') => break,
                        Some(e) => arg.push(e),
                    }
                },
                c => arg.push(c),
            }
        }
        args.push(arg);
    }
    if args.is_empty() {
        return Err(EntryError::new("Exec is empty"));
    }
    Ok(args)
}

/// Quotes one argument for an `Exec` value, when it needs quotes.
pub fn quote_arg(arg: &str) -> String {
    if !arg.is_empty() && !arg.contains(RESERVED) {
        return arg.to_string();
    }
    let mut out = String::from("\"");
    for c in arg.chars() {
        if matches!(c, '"' | '`' | '$' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Joins arguments into an unescaped `Exec` value.
pub fn join_exec(args: &[String]) -> String {
    args.iter().map(|a| quote_arg(a)).collect::<Vec<_>>().join(" ")
}

/// Checks the field codes of `args`: unknown ones are an error, the
/// deprecated ones are removed (an argument that was only one goes).
pub fn check_field_codes(args: Vec<String>) -> Result<Vec<String>, EntryError> {
    let mut out = Vec::with_capacity(args.len());
    let mut files = 0;
    for arg in args {
        let mut kept = String::with_capacity(arg.len());
        let mut chars = arg.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                kept.push(c);
                continue;
            }
            match chars.next() {
                Some(code @ ('f' | 'F' | 'u' | 'U')) => {
                    files += 1;
                    if code.is_ascii_uppercase() && arg.len() != 2 {
                        return Err(EntryError::new(format!(
                            "Exec's %{code} must be an argument of its own"
                        )));
                    }
                    kept.push('%');
                    kept.push(code);
                }
                Some(code @ ('i' | 'c' | 'k' | '%')) => {
                    kept.push('%');
                    kept.push(code);
                }
                Some('d' | 'D' | 'n' | 'N' | 'v' | 'm') => {}
                Some(other) => {
                    return Err(EntryError::new(format!("Exec has an unknown field code %{other}")))
                }
                None => return Err(EntryError::new("Exec ends with a lone %")),
            }
        }
        // An argument that was only deprecated codes goes; an empty one ("") stays.
        if !kept.is_empty() || arg.is_empty() {
            out.push(kept);
        }
    }
    if files > 1 {
        return Err(EntryError::new("Exec has more than one of %f %F %u %U"));
    }
    match out.first() {
        None => Err(EntryError::new("Exec names no program")),
        Some(p) if p.starts_with('%') => Err(EntryError::new("Exec starts with a field code, not a program")),
        Some(_) => Ok(out),
    }
}

/// An argument sandbox puts in front of the application's: `%` doubled, so
/// the launcher does not take it for a field code.
fn literal(arg: &str) -> String {
    arg.replace('%', "%%")
}

/// What to run every command of an entry through.
#[derive(Debug, Clone)]
pub struct Wrap<'a> {
    /// The sandbox program (an absolute path).
    pub program: &'a str,
    /// The profile the application runs under.
    pub profile: &'a str,
    /// Where the entry came from, recorded in the launcher.
    pub source: &'a str,
}

/// The arguments of a wrapped `Exec`: sandbox, the profile, `--`, then the
/// application's own (field codes in place).
pub fn wrap_exec(exec: &str, wrap: &Wrap) -> Result<String, EntryError> {
    let app = check_field_codes(split_exec(&unescape_string(exec))?)?;
    let mut args = vec![literal(wrap.program), "--profile".into(), literal(wrap.profile), "--".into()];
    args.extend(app);
    Ok(escape_string(&join_exec(&args)))
}

fn is_command_group(group: &str) -> bool {
    group == MAIN_GROUP || group.starts_with(ACTION_PREFIX)
}

/// Rewrites the entry `text` so that every command in it (`Exec` of
/// `[Desktop Entry]` and of each `[Desktop Action …]`) runs through
/// sandbox, D-Bus activation is off, and the two `X-Sandbox-` keys say who
/// made it. Icons, names, MIME types and everything else stay.
pub fn rewrite(text: &str, wrap: &Wrap) -> Result<String, EntryError> {
    let entry = Entry::parse(text)?;
    match entry.main("Type").as_deref() {
        Some("Application") => {}
        Some(t) => return Err(EntryError::new(format!("Type is {t}; only an Application can be sandboxed"))),
        None => return Err(EntryError::new("it has no Type key")),
    }
    if entry.main(PROFILE_KEY).is_some() {
        return Err(EntryError::new("it is already a launcher made by sandbox"));
    }
    if entry.main("Exec").is_none() {
        return Err(EntryError::new(
            "it has no Exec line: it is started by D-Bus activation only, which sandbox cannot wrap",
        ));
    }
    let mut lines = Vec::with_capacity(entry.lines.len() + 3);
    lines.push(Line::Other(format!(
        "# Made by `sandbox desktop install` from {}; `sandbox desktop remove` deletes it.",
        wrap.source.replace('\n', " ")
    )));
    let mut group = String::new();
    let mut marked = false;
    for line in entry.lines {
        match line {
            Line::Group(g) => {
                if group == MAIN_GROUP && !marked {
                    lines.extend(marks(wrap));
                    marked = true;
                }
                group.clone_from(&g);
                lines.push(Line::Group(g));
            }
            Line::Pair { key, value } if is_command_group(&group) && key == "Exec" => {
                let value = wrap_exec(&value, wrap).map_err(|e| EntryError::new(format!("[{group}] {e}")))?;
                lines.push(Line::Pair { key, value });
            }
            Line::Pair { key, .. } if group == MAIN_GROUP && key == "DBusActivatable" => {}
            other => lines.push(other),
        }
    }
    if !marked {
        lines.extend(marks(wrap));
    }
    Ok(Entry { lines }.render())
}

fn marks(wrap: &Wrap) -> [Line; 2] {
    [
        Line::Pair { key: PROFILE_KEY.into(), value: escape_string(wrap.profile) },
        Line::Pair { key: SOURCE_KEY.into(), value: escape_string(wrap.source) },
    ]
}

/// What a launcher made by sandbox says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    pub profile: String,
    pub source: Option<String>,
    pub exec: Option<String>,
}

/// The launcher's marks, when `text` is a launcher sandbox made.
pub fn made_by_sandbox(text: &str) -> Option<Made> {
    let entry = Entry::parse(text).ok()?;
    Some(Made { profile: entry.main(PROFILE_KEY)?, source: entry.main(SOURCE_KEY), exec: entry.main("Exec") })
}

#[cfg(test)]
#[path = "entry_tests.rs"]
mod tests;
