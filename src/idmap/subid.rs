//! /etc/subuid and /etc/subgid: `OWNER:START:COUNT` per line, where OWNER
//! is a user name or a numeric uid (subuid(5)). A user may have several
//! lines; `#` starts a comment line. A line that does not parse is skipped,
//! as newuidmap skips it, so it can never grant ids.

use std::fmt;

use super::{Error, Kind};

/// `count` subordinate ids from `start` on. `count` is at least 1 and the
/// last id is at most 4294967294 (4294967295 is the invalid id -1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start: u32,
    pub count: u32,
}

impl Range {
    /// A range, if it is a valid one.
    pub fn new(start: u32, count: u32) -> Option<Range> {
        (count > 0 && u64::from(start) + u64::from(count) <= u64::from(u32::MAX))
            .then_some(Range { start, count })
    }

    /// One past the last id.
    pub fn end(&self) -> u32 {
        self.start + self.count
    }

    pub fn contains(&self, id: u32) -> bool {
        id >= self.start && id < self.end()
    }
}

impl fmt::Display for Range {
    /// As usermod writes it: `FIRST-LAST`.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end() - 1)
    }
}

/// One valid line of a subid file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub owner: String,
    pub range: Range,
}

/// Every valid line of a subid file, in order.
pub fn parse(text: &str) -> Vec<Entry> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Entry> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut fields = line.split(':');
    let (owner, start, count) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some() || owner.is_empty() {
        return None;
    }
    let number = |s: &str| s.bytes().all(|b| b.is_ascii_digit()).then(|| s.parse::<u32>().ok()).flatten();
    let range = Range::new(number(start)?, number(count)?)?;
    Some(Entry { owner: owner.to_string(), range })
}

/// The ranges that `entries` give the user `name` (when known) or `uid`,
/// in the file's order, a range listed twice (under the name and the
/// number) once.
pub fn ranges_for(entries: &[Entry], name: Option<&str>, uid: u32) -> Vec<Range> {
    let uid = uid.to_string();
    let mut out: Vec<Range> = Vec::new();
    for e in entries {
        let mine = e.owner == uid || Some(e.owner.as_str()) == name;
        if mine && !out.contains(&e.range) {
            out.push(e.range);
        }
    }
    out
}

/// The first block of 65536 ids from 100000 on (useradd's defaults) that no
/// entry of either file uses: what `usermod --add-subuids` could be given.
pub fn free_block(taken: &[Entry]) -> Range {
    const SIZE: u32 = 65536;
    let mut start: u32 = 100_000;
    loop {
        let Some(block) = Range::new(start, SIZE) else { return Range { start: 100_000, count: SIZE } };
        let clash = taken.iter().map(|e| e.range).filter(|r| r.start < block.end() && block.start < r.end());
        match clash.map(|r| r.end()).max() {
            None => return block,
            Some(end) => start = end,
        }
    }
}

/// The error for a user with no subordinate ids of `kind`: names the file
/// and the usermod command that adds a free range to both files.
pub fn no_range(kind: Kind, user: &str, read: Result<(), String>, taken: &[Entry]) -> Error {
    let file = kind.file();
    let message = match read {
        Ok(()) => format!("--userns auto: {user} has no subordinate {}s in {file}", kind.word()),
        Err(e) => format!("--userns auto: cannot read {file}: {e}"),
    };
    let block = free_block(taken);
    Error::new(message).hint(format!(
        "sudo usermod --add-subuids {block} --add-subgids {block} {user} (the ids must be ones no user has); \
         or use --userns self"
    ))
}
