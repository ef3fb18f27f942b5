/* syscall-loop N [getppid|ioctl]: makes N system calls and exits 0.
 * getppid is the cheapest call there is, so the filter's share of its cost
 * is as large as it gets; ioctl(-1, FIONREAD) fails with EBADF at once but
 * has argument rules in the default policy, so the kernel cannot answer it
 * from its per-call cache of "always allowed" numbers. Built by
 * bench/seccomp with gcc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: syscall-loop N [getppid|ioctl]\n");
        return 2;
    }
    long n = atol(argv[1]);
    int use_ioctl = argc > 2 && !strcmp(argv[2], "ioctl");
    int avail;
    for (long i = 0; i < n; i++) {
        if (use_ioctl)
            syscall(SYS_ioctl, -1, FIONREAD, &avail);
        else
            syscall(SYS_getppid);
    }
    return 0;
}
