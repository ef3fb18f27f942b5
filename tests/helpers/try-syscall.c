/* try-syscall CASE: makes one system call and exits with its errno (0 when
 * it succeeded), like bubblewrap's tests/try-syscall.c. The arguments are
 * chosen so that an allowed call fails harmlessly with a telling errno
 * (EFAULT: a bad pointer, EINVAL: bad flags, EOPNOTSUPP: a bad operation),
 * while a call the sandbox's filter blocks gets its errno (EPERM, ENOSYS,
 * EAFNOSUPPORT). Built by tests/seccomp.rs with plain gcc. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int result(long r) { return r < 0 ? errno : 0; }

/* An i386 system call from this 64-bit process: int $0x80 runs the i386
 * table under AUDIT_ARCH_I386. Returns -errno or the result. */
static long i386_call(long nr, long a1) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a1) : "memory");
    return ret;
}

static int raw(long r) { return r < 0 && r > -4096 ? (int)-r : 0; }

int main(int argc, char **argv) {
    char ch = '\a';
    if (argc != 2) {
        fprintf(stderr, "usage: try-syscall CASE\n");
        return 255;
    }
    const char *c = argv[1];
    if (!strcmp(c, "keyctl")) return result(syscall(SYS_keyctl, 0x7fffffffL, 0L, 0L, 0L, 0L));
    if (!strcmp(c, "add_key")) return result(syscall(SYS_add_key, NULL, NULL, NULL, 0L, 0L));
    if (!strcmp(c, "request_key")) return result(syscall(SYS_request_key, NULL, NULL, NULL, 0L));
    if (!strcmp(c, "perf_event_open")) return result(syscall(SYS_perf_event_open, NULL, 0L, -1L, -1L, 0L));
    if (!strcmp(c, "bpf")) return result(syscall(SYS_bpf, 0L, NULL, 8L));
    /* UFFD_USER_MODE_ONLY (1) passes vm.unprivileged_userfaultfd; bit 2 is invalid. */
    if (!strcmp(c, "userfaultfd")) return result(syscall(SYS_userfaultfd, 1L | 2L));
    if (!strcmp(c, "io_uring_setup")) return result(syscall(SYS_io_uring_setup, 1L, NULL));
    if (!strcmp(c, "fsopen")) return result(syscall(SYS_fsopen, NULL, 0L));
    if (!strcmp(c, "clone3")) return result(syscall(SYS_clone3, NULL, 0L));
    if (!strcmp(c, "unshare-user")) return result(syscall(SYS_unshare, (long)CLONE_NEWUSER));
    if (!strcmp(c, "clone-newuser")) {
        long pid = syscall(SYS_clone, (long)(CLONE_NEWUSER | SIGCHLD), 0L, 0L, 0L, 0L);
        if (pid == 0) _exit(0);
        if (pid < 0) return errno;
        waitpid((pid_t)pid, NULL, 0);
        return 0;
    }
    /* An invalid request on pid 0: ESRCH when ptrace is allowed. */
    if (!strcmp(c, "ptrace")) return result(syscall(SYS_ptrace, 0x7fffL, 0L, 0L, 0L));
    if (!strcmp(c, "tiocsti")) return result(ioctl(0, TIOCSTI, &ch));
    /* CVE-2019-10063: the kernel reads only the low 32 bits of the request. */
    if (!strcmp(c, "tiocsti-high")) return result(syscall(SYS_ioctl, 0L, TIOCSTI | (1UL << 32), &ch));
    if (!strcmp(c, "socket-packet")) return result(socket(AF_PACKET, SOCK_DGRAM, 0));
    if (!strcmp(c, "socket-vsock")) return result(socket(40 /* AF_VSOCK */, SOCK_STREAM, 0));
    if (!strcmp(c, "socket-unix")) return result(socket(AF_UNIX, SOCK_STREAM, 0));
    if (!strcmp(c, "socket-inet")) return result(socket(AF_INET, SOCK_DGRAM, 0));
    /* socketpair runs the family's socket creation before it finds out
     * that the family has no pairs (EOPNOTSUPP). */
    int sv[2];
    if (!strcmp(c, "socketpair-vsock")) return result(socketpair(40 /* AF_VSOCK */, SOCK_STREAM, 0, sv));
    if (!strcmp(c, "socketpair-packet")) return result(socketpair(AF_PACKET, SOCK_DGRAM, 0, sv));
    if (!strcmp(c, "socketpair-xdp")) return result(socketpair(44 /* AF_XDP */, SOCK_RAW | SOCK_CLOEXEC, 0, sv));
    if (!strcmp(c, "socketpair-unix")) return result(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    /* x32 getpid: number 39 with the x32 bit, through the 64-bit entry. */
    if (!strcmp(c, "x32-getpid")) return result(syscall(0x40000000L | SYS_getpid));
    if (!strcmp(c, "i386-getpid")) return raw(i386_call(20, 0));
    if (!strcmp(c, "i386-unshare")) return raw(i386_call(310, CLONE_NEWUSER));
    if (!strcmp(c, "getpid")) return result(syscall(SYS_getpid));
    fprintf(stderr, "try-syscall: unknown case %s\n", c);
    return 255;
}
