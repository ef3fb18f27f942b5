//! The DNS wire format (RFC 1035 section 4), read strictly and only as far
//! as the filter needs: the header, one question, and the records of the
//! answer section with their owner, type, class, TTL and data.
//!
//! Hand-written rather than taken from a crate: the filter must pass every
//! query type through unchanged (simple-dns refuses to parse a question of
//! a type it does not know, and sizes its vectors by the counts a sender
//! writes; hickory-proto brings a dozen crates), it reads three record
//! types, and it writes nothing but an error reply that echoes the
//! question. Every message here comes from the command (queries) or from
//! the network (answers): each read is bounds-checked, a compression
//! pointer must point before the name that uses it (so no loop), and a
//! name stays within 255 octets.

/// Header flags and fields.
pub const QR: u16 = 0x8000;
pub const TC: u16 = 0x0200;
pub const RD: u16 = 0x0100;
pub const RA: u16 = 0x0080;
pub const OPCODE_MASK: u16 = 0x7800;

pub const TYPE_A: u16 = 1;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_AAAA: u16 = 28;
pub const CLASS_IN: u16 = 1;

const MAX_NAME_WIRE: usize = 255;

/// A domain name as its labels, as sent (case kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(pub Vec<Vec<u8>>);

impl Name {
    /// Equality without regard to ASCII case (RFC 4343).
    pub fn same(&self, other: &Name) -> bool {
        self.0.len() == other.0.len() && self.0.iter().zip(&other.0).all(|(a, b)| a.eq_ignore_ascii_case(b))
    }

    /// The dotted text form, bytes outside printable ASCII and dots inside
    /// a label escaped; for messages and reports.
    pub fn display(&self) -> String {
        let labels: Vec<String> = self
            .0
            .iter()
            .map(|l| {
                l.iter()
                    .map(|&b| match b {
                        b'.' => "\\.".to_string(),
                        b'\\' => "\\\\".to_string(),
                        0x21..=0x7e => (b as char).to_string(),
                        _ => format!("\\{b:03}"),
                    })
                    .collect()
            })
            .collect();
        if labels.is_empty() {
            ".".into()
        } else {
            labels.join(".")
        }
    }

    /// The name in the form the host patterns compare (lower case, no
    /// trailing dot), or `None` when a label holds anything but letters,
    /// digits, `-` and `_`.
    pub fn host(&self) -> Option<String> {
        let labels = self.0.iter().map(|l| std::str::from_utf8(l).ok()).collect::<Option<Vec<_>>>()?;
        if labels.is_empty() || labels.iter().any(|l| l.contains('.')) {
            return None;
        }
        super::pattern::normalize(&labels.join("."))
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Reads the name at `at`; returns it and the offset just past it where
/// it was written (past the first pointer, if any).
pub fn name(msg: &[u8], at: usize) -> Option<(Name, usize)> {
    let (mut labels, mut pos, mut end, mut wire) = (Vec::new(), at, None, 1usize);
    // Every pointer must go strictly backwards from the label that holds
    // it, so a chain of them ends.
    let mut limit = at;
    loop {
        let len = *msg.get(pos)? as usize;
        match len & 0xc0 {
            0x00 if len == 0 => break,
            0x00 => {
                let label = msg.get(pos + 1..pos + 1 + len)?;
                wire += 1 + len;
                if wire > MAX_NAME_WIRE {
                    return None;
                }
                labels.push(label.to_vec());
                pos += 1 + len;
            }
            0xc0 => {
                let target = (u16_at(msg, pos)? & 0x3fff) as usize;
                if target >= limit {
                    return None;
                }
                end.get_or_insert(pos + 2);
                limit = target;
                pos = target;
            }
            _ => return None,
        }
    }
    Some((Name(labels), end.unwrap_or(pos + 1)))
}

/// The fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
}

pub fn header(msg: &[u8]) -> Option<Header> {
    Some(Header {
        id: u16_at(msg, 0)?,
        flags: u16_at(msg, 2)?,
        qdcount: u16_at(msg, 4)?,
        ancount: u16_at(msg, 6)?,
    })
}

/// The first question: name, type, class, and where it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub qtype: u16,
    pub qclass: u16,
    pub end: usize,
}

pub fn question(msg: &[u8]) -> Option<Question> {
    let (name, at) = name(msg, 12)?;
    Some(Question { name, qtype: u16_at(msg, at)?, qclass: u16_at(msg, at + 2)?, end: at + 4 })
}

/// One resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub owner: Name,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub data: &'a [u8],
    /// Where the data starts in the message (for names inside it).
    pub data_at: usize,
}

/// The records of the answer section, in order, as far as they can be
/// read (a truncated message yields the complete ones).
pub fn answers<'a>(msg: &'a [u8], q: &Question) -> Vec<Record<'a>> {
    let Some(h) = header(msg) else { return Vec::new() };
    let mut out = Vec::new();
    let mut at = q.end;
    for _ in 0..h.ancount {
        let Some((owner, after)) = name(msg, at) else { break };
        let (Some(rtype), Some(class), Some(ttl), Some(len)) =
            (u16_at(msg, after), u16_at(msg, after + 2), u32_at(msg, after + 4), u16_at(msg, after + 8))
        else {
            break;
        };
        let data_at = after + 10;
        let Some(data) = msg.get(data_at..data_at + len as usize) else { break };
        out.push(Record { owner, rtype, class, ttl, data, data_at });
        at = data_at + len as usize;
    }
    out
}

/// An error reply to `query`: its id, opcode and RD, `rcode`, and its
/// first question echoed when it can be read.
pub fn error_reply(query: &[u8], rcode: u8) -> Option<Vec<u8>> {
    let h = header(query)?;
    let q = question(query).filter(|_| h.qdcount >= 1);
    let flags = QR | (h.flags & (OPCODE_MASK | RD)) | RA | u16::from(rcode & 0x0f);
    let mut r = Vec::with_capacity(q.as_ref().map_or(12, |q| q.end));
    r.extend(h.id.to_be_bytes());
    r.extend(flags.to_be_bytes());
    r.extend(u16::from(q.is_some()).to_be_bytes());
    r.extend([0; 6]);
    if let Some(q) = q {
        r.extend(&query[12..q.end]);
    }
    Some(r)
}

#[cfg(test)]
pub mod build {
    //! Messages for tests.

    use super::*;

    pub fn encode_name(name: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for l in name.split('.').filter(|l| !l.is_empty()) {
            out.push(l.len() as u8);
            out.extend(l.as_bytes());
        }
        out.push(0);
        out
    }

    pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
        let mut q = id.to_be_bytes().to_vec();
        q.extend([0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        q.extend(encode_name(name));
        q.extend(qtype.to_be_bytes());
        q.extend(CLASS_IN.to_be_bytes());
        q
    }

    /// A reply to `query` with `records` (owner, type, ttl, data) in the
    /// answer section; owners are written as pointers to the question's
    /// name when equal to it.
    pub fn reply(query: &[u8], rcode: u8, records: &[(&str, u16, u32, Vec<u8>)]) -> Vec<u8> {
        let q = question(query).unwrap();
        let mut r = query[..q.end].to_vec();
        r[2] |= 0x80;
        r[3] = 0x80 | rcode;
        r[6..8].copy_from_slice(&(records.len() as u16).to_be_bytes());
        for (owner, rtype, ttl, data) in records {
            match Name(owner.split('.').map(|l| l.as_bytes().to_vec()).collect()).same(&q.name) {
                true => r.extend([0xc0, 0x0c]),
                false => r.extend(encode_name(owner)),
            }
            r.extend(rtype.to_be_bytes());
            r.extend(CLASS_IN.to_be_bytes());
            r.extend(ttl.to_be_bytes());
            r.extend((data.len() as u16).to_be_bytes());
            r.extend(data);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;

    #[test]
    fn questions_read_back() {
        let q = query(0xabcd, "Files.PythonHosted.org", TYPE_AAAA);
        let h = header(&q).unwrap();
        assert_eq!((h.id, h.flags, h.qdcount), (0xabcd, RD, 1));
        let qq = question(&q).unwrap();
        assert_eq!((qq.qtype, qq.qclass, qq.end), (TYPE_AAAA, CLASS_IN, q.len()));
        assert_eq!(qq.name.host().as_deref(), Some("files.pythonhosted.org"));
        assert_eq!(qq.name.display(), "Files.PythonHosted.org");
    }

    #[test]
    fn names_that_are_not_host_names() {
        let n = |labels: &[&[u8]]| Name(labels.iter().map(|l| l.to_vec()).collect());
        assert_eq!(n(&[b"github.com"]).host(), None, "a dot inside a label");
        assert_eq!(n(&[b"github.com"]).display(), "github\\.com");
        assert_eq!(n(&[b"a\x00b", b"org"]).host(), None);
        assert_eq!(n(&[b"a\x00b", b"org"]).display(), "a\\000b.org");
        assert_eq!(n(&[]).host(), None, "the root");
        assert_eq!(n(&[b"\xc3\xa9", b"org"]).host(), None);
        assert_eq!(n(&[b"Ab-_1", b"ORG"]).host().as_deref(), Some("ab-_1.org"));
    }

    #[test]
    fn compression_pointers_must_go_backwards() {
        // A name at 12 that points to itself, and one that points forward.
        let mut m = vec![0u8; 12];
        m.extend([0xc0, 12]);
        assert_eq!(name(&m, 12), None);
        let mut m = vec![0u8; 12];
        m.extend([0xc0, 14, 1, b'a', 0]);
        assert_eq!(name(&m, 12), None);
        // Two names pointing at each other, each backwards from the other's
        // start but forming a loop through a pointer into the middle.
        let mut m = vec![0u8; 12];
        m.extend([1, b'a', 0xc0, 12]);
        assert_eq!(name(&m, 12), None);
        // A good pointer.
        let mut m = vec![0u8; 12];
        m.extend([3, b'o', b'r', b'g', 0, 1, b'x', 0xc0, 12]);
        let (n, end) = name(&m, 17).unwrap();
        assert_eq!((n.display().as_str(), end), ("x.org", m.len()));
        // Labels 0x40 and 0x80 are not in use.
        assert_eq!(name(&[0u8; 12].iter().copied().chain([0x41, 0]).collect::<Vec<_>>(), 12), None);
    }

    #[test]
    fn names_longer_than_255_octets_are_refused() {
        let label = "a".repeat(63);
        let long = [label.as_str(); 4].join(".");
        assert_eq!(question(&query(1, &long, TYPE_A)), None);
        let ok = [label.as_str(); 3].join(".");
        assert!(question(&query(1, &ok, TYPE_A)).is_some());
    }

    #[test]
    fn answers_stop_at_what_is_complete() {
        let q = query(7, "a.test", TYPE_A);
        let r = reply(
            &q,
            0,
            &[("a.test", TYPE_A, 60, vec![192, 0, 2, 1]), ("a.test", TYPE_A, 30, vec![192, 0, 2, 2])],
        );
        let qq = question(&r).unwrap();
        let recs = answers(&r, &qq);
        assert_eq!(recs.len(), 2);
        assert_eq!((recs[1].rtype, recs[1].ttl, recs[1].data), (TYPE_A, 30, &[192, 0, 2, 2][..]));
        let cut = &r[..r.len() - 2];
        assert_eq!(answers(cut, &qq).len(), 1);
    }

    #[test]
    fn error_replies_echo_the_question() {
        let q = query(0x1234, "other.test", TYPE_A);
        let r = error_reply(&q, 5).unwrap();
        assert_eq!(&r[..4], &[0x12, 0x34, 0x81, 0x85]);
        assert_eq!(&r[4..12], &[0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&r[12..], &q[12..]);
        // Without a readable question: the header alone.
        let r = error_reply(&q[..14], 1).unwrap();
        assert_eq!(r.len(), 12);
        assert_eq!(&r[4..6], &[0, 0]);
        assert_eq!(error_reply(&q[..5], 1), None);
    }
}
