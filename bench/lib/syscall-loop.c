/* syscall-loop N CALL [allow-all]: makes N calls of one system call and
 * prints the cost of one, in nanoseconds: thread CPU time
 * (CLOCK_THREAD_CPUTIME_ID, which other load on the machine disturbs
 * least) and wall time. With `allow-all` it first installs a filter of one
 * instruction, RET ALLOW: what the kernel charges for having a filter at
 * all (seccomp's entry path and its cache of allowed numbers), the floor
 * of any filter.
 *
 * CALL is one of:
 *   getppid  the cheapest call there is; the filters allow it without
 *            looking at its arguments, so the kernel answers it from its
 *            cache of "always allowed" numbers without running them;
 *   ioctl    ioctl(-1, FIONREAD): EBADF at once, but the default policy
 *            tests its request (TIOCSTI, TIOCLINUX, TIOCSETD), so the
 *            filter runs;
 *   socket   socket(AF_INET, 999, 0): EINVAL at once, after the filter
 *            tested the family (and, with port rules, type and protocol);
 *   clone    clone(CLONE_SIGHAND): EINVAL at once (no CLONE_VM), after
 *            the filter tested the flags for CLONE_NEW*.
 * Built by bench/seccomp with gcc. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static void allow_all(void) {
    struct sock_filter ret = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = {1, &ret};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
        perror("syscall-loop: seccomp");
        exit(1);
    }
}

static double ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void call(int which) {
    int avail;
    switch (which) {
    case 0:
        syscall(SYS_getppid);
        break;
    case 1:
        syscall(SYS_ioctl, -1, FIONREAD, &avail);
        break;
    case 2:
        syscall(SYS_socket, AF_INET, 999, 0);
        break;
    default:
        syscall(SYS_clone, CLONE_SIGHAND, 0, 0, 0, 0);
    }
}

int main(int argc, char **argv) {
    static const char *names[] = {"getppid", "ioctl", "socket", "clone"};
    int which = -1;
    for (int i = 0; (argc == 3 || argc == 4) && i < 4; i++)
        if (!strcmp(argv[2], names[i]))
            which = i;
    long n = argc >= 3 ? atol(argv[1]) : 0;
    if (which < 0 || n < 1 || (argc == 4 && strcmp(argv[3], "allow-all"))) {
        fprintf(stderr, "usage: syscall-loop N getppid|ioctl|socket|clone [allow-all]\n");
        return 2;
    }
    if (argc == 4)
        allow_all();
    for (long i = 0; i < n / 10 + 1; i++)
        call(which);
    double c0 = ns(CLOCK_THREAD_CPUTIME_ID), w0 = ns(CLOCK_MONOTONIC);
    for (long i = 0; i < n; i++)
        call(which);
    double c1 = ns(CLOCK_THREAD_CPUTIME_ID), w1 = ns(CLOCK_MONOTONIC);
    printf("%.3f %.3f\n", (c1 - c0) / n, (w1 - w0) / n);
    return 0;
}
