//! nf_tables and nfnetlink messages, built as bytes (netlink(7),
//! `include/uapi/linux/netfilter/nf_tables.h`).
//!
//! Hand-written: the crates that speak nf_tables are GPL-3 (rustables) or
//! bind the C libraries libnftnl and libmnl (nftnl), and the firewall needs
//! a dozen message kinds. Integers in nf_tables attributes are big-endian;
//! the data compared against registers is in the byte order the register
//! holds (network order for packet bytes, host order for meta and ct
//! values). Every change goes in one batch, which the kernel applies
//! atomically or not at all, with an acknowledgement asked for each
//! message so that an error names the one that failed.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recv, sendto, MsgFlags, NetlinkAddr};

pub const NETLINK_NETFILTER: i32 = 12;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_APPEND: u16 = 0x800;
pub const NLMSG_ERROR: u16 = 0x2;
pub const NLMSG_DONE: u16 = 0x3;
const NLA_F_NESTED: u16 = 0x8000;

pub const NFNL_SUBSYS_ULOG: u16 = 4;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;

pub const NFPROTO_UNSPEC: u8 = 0;
pub const NFPROTO_INET: u8 = 1;

/// nf_tables message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    NewTable = 0,
    DelTable = 2,
    NewChain = 3,
    NewRule = 6,
    NewSet = 9,
    NewSetElem = 12,
    DelSetElem = 14,
}

/// A netlink attribute writer over one growing buffer.
#[derive(Debug, Default, Clone)]
pub struct Buf {
    pub bytes: Vec<u8>,
}

fn pad(n: usize) -> usize {
    (n + 3) & !3
}

impl Buf {
    /// Starts a message (header and nfgenmsg); returns its offset for
    /// [`Buf::end_msg`].
    pub fn start_msg(&mut self, ty: u16, flags: u16, seq: u32, family: u8, res_id: u16) -> usize {
        let at = self.bytes.len();
        self.bytes.extend(0u32.to_ne_bytes());
        self.bytes.extend(ty.to_ne_bytes());
        self.bytes.extend(flags.to_ne_bytes());
        self.bytes.extend(seq.to_ne_bytes());
        self.bytes.extend(0u32.to_ne_bytes());
        self.bytes.extend([family, 0]);
        self.bytes.extend(res_id.to_be_bytes());
        at
    }

    pub fn end_msg(&mut self, at: usize) {
        let len = (self.bytes.len() - at) as u32;
        self.bytes[at..at + 4].copy_from_slice(&len.to_ne_bytes());
    }

    pub fn attr(&mut self, ty: u16, data: &[u8]) -> &mut Self {
        let len = 4 + data.len();
        self.bytes.extend((len as u16).to_ne_bytes());
        self.bytes.extend(ty.to_ne_bytes());
        self.bytes.extend(data);
        self.bytes.resize(self.bytes.len() + pad(len) - len, 0);
        self
    }

    pub fn str(&mut self, ty: u16, s: &str) -> &mut Self {
        let mut d = s.as_bytes().to_vec();
        d.push(0);
        self.attr(ty, &d)
    }

    pub fn be32(&mut self, ty: u16, v: u32) -> &mut Self {
        self.attr(ty, &v.to_be_bytes())
    }

    pub fn be64(&mut self, ty: u16, v: u64) -> &mut Self {
        self.attr(ty, &v.to_be_bytes())
    }

    /// Opens a nested attribute; close it with [`Buf::end_nest`].
    pub fn nest(&mut self, ty: u16) -> usize {
        let at = self.bytes.len();
        self.bytes.extend(0u16.to_ne_bytes());
        self.bytes.extend((ty | NLA_F_NESTED).to_ne_bytes());
        at
    }

    pub fn end_nest(&mut self, at: usize) {
        let len = (self.bytes.len() - at) as u16;
        self.bytes[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }
}

/// A batch of nf_tables changes, applied atomically.
#[derive(Debug, Clone)]
pub struct Batch {
    pub buf: Buf,
    next_seq: u32,
    /// The sequence numbers of the messages that are acknowledged.
    pub seqs: Vec<u32>,
}

impl Batch {
    pub fn new(first_seq: u32) -> Batch {
        let mut buf = Buf::default();
        let at = buf.start_msg(
            NFNL_MSG_BATCH_BEGIN,
            NLM_F_REQUEST,
            first_seq,
            NFPROTO_UNSPEC,
            NFNL_SUBSYS_NFTABLES,
        );
        buf.end_msg(at);
        Batch { buf, next_seq: first_seq.wrapping_add(1), seqs: Vec::new() }
    }

    /// Adds one message; `body` writes its attributes.
    pub fn msg(&mut self, kind: Kind, create: bool, body: impl FnOnce(&mut Buf)) {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        let mut flags = NLM_F_REQUEST | NLM_F_ACK;
        if create {
            flags |= NLM_F_CREATE;
            if kind == Kind::NewRule {
                flags |= NLM_F_APPEND;
            }
            if kind == Kind::NewTable || kind == Kind::NewChain || kind == Kind::NewSet {
                flags |= NLM_F_EXCL;
            }
        }
        let ty = (NFNL_SUBSYS_NFTABLES << 8) | kind as u16;
        let at = self.buf.start_msg(ty, flags, seq, NFPROTO_INET, 0);
        body(&mut self.buf);
        self.buf.end_msg(at);
        self.seqs.push(seq);
    }

    /// The batch's bytes, closed.
    pub fn finish(mut self) -> (Vec<u8>, Vec<u32>) {
        let at = self.buf.start_msg(
            NFNL_MSG_BATCH_END,
            NLM_F_REQUEST,
            self.next_seq,
            NFPROTO_UNSPEC,
            NFNL_SUBSYS_NFTABLES,
        );
        self.buf.end_msg(at);
        (self.buf.bytes, self.seqs)
    }
}

/// A nfnetlink request outside nf_tables (NFLOG's configuration), with an
/// acknowledgement asked for.
pub fn request(subsys: u16, msg: u16, seq: u32, res_id: u16, body: impl FnOnce(&mut Buf)) -> Vec<u8> {
    let mut buf = Buf::default();
    let at = buf.start_msg((subsys << 8) | msg, NLM_F_REQUEST | NLM_F_ACK, seq, NFPROTO_UNSPEC, res_id);
    body(&mut buf);
    buf.end_msg(at);
    buf.bytes
}

/// One netlink message received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg<'a> {
    pub ty: u16,
    pub seq: u32,
    /// What follows the netlink header.
    pub body: &'a [u8],
}

/// Splits a datagram into its messages (a short or bad length ends it).
pub fn messages(buf: &[u8]) -> Vec<Msg<'_>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 16 <= buf.len() {
        let len = u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap_or_default()) as usize;
        if len < 16 || at + len > buf.len() {
            break;
        }
        let ty = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
        let seq = u32::from_ne_bytes(buf[at + 8..at + 12].try_into().unwrap_or_default());
        out.push(Msg { ty, seq, body: &buf[at + 16..at + len] });
        at += pad(len);
    }
    out
}

/// The error code of an NLMSG_ERROR message (0: an acknowledgement).
pub fn error_code(m: &Msg) -> Option<i32> {
    (m.ty == NLMSG_ERROR)
        .then(|| m.body.get(..4).map(|b| i32::from_ne_bytes(b.try_into().unwrap_or_default())))?
}

/// The attributes of `body` from `at`: (type without flags, payload).
pub fn attrs(body: &[u8], mut at: usize) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while at + 4 <= body.len() {
        let len = u16::from_ne_bytes([body[at], body[at + 1]]) as usize;
        let ty = u16::from_ne_bytes([body[at + 2], body[at + 3]]) & 0x3fff;
        if len < 4 || at + len > body.len() {
            break;
        }
        out.push((ty, &body[at + 4..at + len]));
        at += pad(len);
    }
    out
}

/// How long the kernel may take to answer a batch.
const ANSWER_TIMEOUT_MS: u16 = 5000;

/// Sends `bytes` (a batch or a request) on the netlink socket `fd` and
/// waits for the acknowledgement of each of `seqs`; the first error the
/// kernel reports wins (it applies nothing of a batch then).
pub fn transact(fd: BorrowedFd, bytes: &[u8], seqs: &[u32]) -> Result<(), Errno> {
    let addr = NetlinkAddr::new(0, 0);
    loop {
        match sendto(fd.as_raw_fd(), bytes, &addr, MsgFlags::empty()) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(_) => break,
        }
    }
    let mut pending: Vec<u32> = seqs.to_vec();
    let mut first_error = None;
    let mut buf = vec![0u8; 64 * 1024];
    while !pending.is_empty() {
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ANSWER_TIMEOUT_MS)) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(0) => return Err(first_error.unwrap_or(Errno::ETIMEDOUT)),
            Ok(_) => {}
        }
        let n = match recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(n) => n,
        };
        for m in messages(&buf[..n]) {
            let Some(code) = error_code(&m) else { continue };
            if let Some(i) = pending.iter().position(|&s| s == m.seq) {
                pending.swap_remove(i);
                if code < 0 && first_error.is_none() {
                    first_error = Some(Errno::from_raw(-code));
                }
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_in_a_batch_is_what_nft_sends() {
        // The bytes of `nft add table inet sandbox` (nft --debug=mnl),
        // sequence numbers aside.
        let mut b = Batch::new(1);
        b.msg(Kind::NewTable, true, |m| {
            m.str(1, "sandbox").be32(2, 0);
        });
        let (bytes, seqs) = b.finish();
        assert_eq!(seqs, vec![2]);
        let msgs = messages(&bytes);
        assert_eq!(
            msgs.iter().map(|m| (m.ty, m.seq)).collect::<Vec<_>>(),
            vec![(0x10, 1), (0xa00, 2), (0x11, 3)]
        );
        assert_eq!(msgs[0].body, &[0, 0, 0, 10]);
        assert_eq!(
            msgs[1].body,
            &[1, 0, 0, 0, 12, 0, 1, 0, b's', b'a', b'n', b'd', b'b', b'o', b'x', 0, 8, 0, 2, 0, 0, 0, 0, 0]
        );
        let flags = u16::from_ne_bytes([bytes[20 + 6], bytes[20 + 7]]);
        assert_eq!(flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
        assert_eq!(attrs(msgs[1].body, 4), vec![(1, &b"sandbox\0"[..]), (2, &[0u8, 0, 0, 0][..])]);
    }

    #[test]
    fn nests_and_padding() {
        let mut b = Buf::default();
        let n = b.nest(4);
        b.attr(1, &[1, 2, 3]);
        b.end_nest(n);
        assert_eq!(b.bytes, vec![12, 0, 4, 0x80, 7, 0, 1, 0, 1, 2, 3, 0]);
        let inner = attrs(&b.bytes, 0);
        assert_eq!(inner, vec![(4, &b.bytes[4..12])]);
        assert_eq!(attrs(inner[0].1, 0), vec![(1, &[1u8, 2, 3][..])]);
    }

    #[test]
    fn acknowledgements_and_errors_read_back() {
        let mut ack = Vec::new();
        ack.extend(36u32.to_ne_bytes());
        ack.extend(NLMSG_ERROR.to_ne_bytes());
        ack.extend(0u16.to_ne_bytes());
        ack.extend(7u32.to_ne_bytes());
        ack.extend(0u32.to_ne_bytes());
        ack.extend((-1i32).to_ne_bytes());
        ack.extend([0u8; 16]);
        let m = messages(&ack);
        assert_eq!((m[0].seq, error_code(&m[0])), (7, Some(-1)));
        assert!(messages(&ack[..20]).is_empty());
    }
}
