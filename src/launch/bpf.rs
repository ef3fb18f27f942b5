//! Caller-supplied seccomp programs (bubblewrap's `--seccomp` and
//! `--add-seccomp-fd`): raw classic BPF, an array of `struct sock_filter`
//! as `seccomp_export_bpf` writes it, 8 bytes per instruction.
//!
//! The programs are read from their descriptors by the monitor before
//! clone, so a bad program is an error with nothing started. They are
//! installed in the order given, each with `PR_SET_SECCOMP`, as the very
//! last step before execve (a filter may forbid anything that would come
//! after it); no_new_privs is already set then, so no privilege is needed.
//! Every program but the last must therefore allow `prctl`.

use nix::errno::Errno;

use super::error::{Result, SetupError};

/// One program: its instructions, ready for the kernel.
pub struct Program(Vec<libc::sock_filter>);

/// Reads every program, in order, from `fds` (each read to EOF).
pub fn read(fds: &[i32]) -> Result<Vec<Program>> {
    fds.iter().map(|&fd| read_one(fd)).collect()
}

fn read_one(fd: i32) -> Result<Program> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match nix::unistd::read(fd, &mut buf) {
            Ok(0) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(Errno::EINTR) => {}
            Err(e) => {
                return Err(
                    SetupError::errno(format!("seccomp fd {fd}"), e).bwrap_errno("Can't read seccomp data")
                )
            }
        }
    }
    parse(&data).ok_or_else(|| {
        SetupError::new(format!("seccomp fd {fd}"), "the program's length is not a multiple of 8 bytes")
            .bwrap("Invalid seccomp data, must be multiple of 8")
    })
}

/// Splits raw bytes into instructions; `None` unless a multiple of 8.
fn parse(data: &[u8]) -> Option<Program> {
    if data.len() % 8 != 0 {
        return None;
    }
    let insns = data
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    Some(Program(insns))
}

/// Installs `programs` on the calling thread, in order.
pub fn install(programs: &[Program]) -> Result<()> {
    for p in programs {
        let prog = libc::sock_fprog { len: p.0.len() as u16, filter: p.0.as_ptr() as *mut libc::sock_filter };
        // SAFETY: `prog` points at `len` valid instructions that outlive the
        // call; the kernel copies the program and keeps no pointer.
        let r = unsafe {
            libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &prog as *const libc::sock_fprog)
        };
        if r != 0 {
            let e = Errno::last();
            let err = SetupError::errno("install seccomp program", e);
            return Err(if e == Errno::EINVAL {
                err.bwrap(
                    "Unable to set up system call filtering as requested: prctl(PR_SET_SECCOMP) reported \
                     EINVAL. (Hint: this requires a kernel configured with CONFIG_SECCOMP and \
                     CONFIG_SECCOMP_FILTER.)",
                )
            } else {
                err.bwrap_errno("prctl(PR_SET_SECCOMP)")
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_whole_instructions() {
        assert!(parse(&[0u8; 7]).is_none());
        assert!(parse(&[0u8; 12]).is_none());
        let ret_allow = [0x06u8, 0, 0, 0, 0, 0, 0xff, 0x7f];
        let p = parse(&ret_allow).unwrap();
        assert_eq!(p.0.len(), 1);
        assert_eq!((p.0[0].code, p.0[0].k), (0x06, 0x7fff_0000));
        assert_eq!(parse(&[]).unwrap().0.len(), 0);
    }
}
