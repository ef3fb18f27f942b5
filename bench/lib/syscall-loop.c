/* syscall-loop N MODE: what system calls cost in this process, in
 * nanoseconds of thread CPU time (CLOCK_THREAD_CPUTIME_ID, which other load
 * on the machine disturbs least). Built by bench/seccomp with gcc.
 *
 * The calls (each fails at once, so the filter is a large part of it):
 *   getppid  the cheapest call; the filters allow it without looking at an
 *            argument, so the kernel answers it from its cache of "always
 *            allowed" numbers without running them;
 *   ioctl    ioctl(-1, FIONREAD): EBADF; the default policy tests the
 *            request (TIOCSTI, TIOCLINUX, TIOCSETD), so its filter runs;
 *   socket   socket(AF_INET, 999, 0): EINVAL, after the filter tested the
 *            family;
 *   clone    clone(CLONE_SIGHAND): EINVAL (no CLONE_VM), after the filter
 *            tested the flags for CLONE_NEW*.
 *
 * MODE:
 *   calls     N calls of each, in 20 interleaved rounds (so that a change of
 *             clock or cache falls on all of them): prints the median ns of
 *             each, `getppid G ioctl I socket S clone C`;
 *   allow-all the same with no filter of its own, then again after
 *             installing a filter of one instruction, RET ALLOW (what the
 *             kernel charges for having a filter at all: its entry path and
 *             its cache): prints each call's cost before and after,
 *             `getppid G0 G1 ioctl I0 I1 ...`. */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CALLS 4
#define ROUNDS 20
static const char *names[CALLS] = {"getppid", "ioctl", "socket", "clone"};

static double ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
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

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median ns per call of each, over ROUNDS interleaved rounds of n. */
static void measure(long n, double out[CALLS]) {
    static double t[CALLS][ROUNDS];
    long per = n / ROUNDS > 0 ? n / ROUNDS : 1;
    for (int c = 0; c < CALLS; c++)
        for (long i = 0; i < per / 10 + 1; i++)
            call(c);
    for (int r = 0; r < ROUNDS; r++)
        for (int c = 0; c < CALLS; c++) {
            double t0 = ns();
            for (long i = 0; i < per; i++)
                call(c);
            t[c][r] = (ns() - t0) / per;
        }
    for (int c = 0; c < CALLS; c++) {
        qsort(t[c], ROUNDS, sizeof(double), cmp);
        out[c] = (t[c][ROUNDS / 2 - 1] + t[c][ROUNDS / 2]) / 2;
    }
}

static void allow_all(void) {
    struct sock_filter ret = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = {1, &ret};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
        perror("syscall-loop: seccomp");
        exit(1);
    }
}

int main(int argc, char **argv) {
    long n = argc == 3 ? atol(argv[1]) : 0;
    int with_filter = argc == 3 && !strcmp(argv[2], "allow-all");
    if (n < 1 || (!with_filter && strcmp(argv[2], "calls"))) {
        fprintf(stderr, "usage: syscall-loop N calls|allow-all\n");
        return 2;
    }
    double before[CALLS], after[CALLS];
    measure(n, before);
    if (with_filter) {
        allow_all();
        measure(n, after);
    }
    for (int c = 0; c < CALLS; c++) {
        printf("%s%s %.3f", c ? " " : "", names[c], before[c]);
        if (with_filter)
            printf(" %.3f", after[c]);
    }
    printf("\n");
    return 0;
}
