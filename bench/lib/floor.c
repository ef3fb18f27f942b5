/* floor [OPTIONS] -- COMMAND [ARGS...]: the C floor of bench/startup.
 *
 * Builds the sandbox bwrap builds for the same options, with nothing
 * else: one unshare of every namespace, its own uid and gid mapped, a fork
 * into the new pid namespace, a tmpfs root, the mounts in order, the
 * second pivot_root, the hostname, loopback up, then execve of the command
 * as pid 1 (no init, no landlock, no seccomp, no status pipes). What is
 * left is what the kernel charges for the namespaces and mounts, the floor
 * no launcher can go under. Options are bwrap's, the subset
 * bench/lib/bwrap_args.py writes: --unshare-all, --hostname NAME,
 * --die-with-parent, --new-session, --ro-bind SRC DEST, --bind SRC DEST,
 * --symlink TARGET DEST, --perms MODE, --tmpfs DEST, --remount-ro DEST,
 * --dev DEST, --proc DEST, --chdir DIR, --clearenv, --setenv NAME VALUE.
 * Built by bench/lib/common.sh with gcc. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "floor: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, ": %s\n", strerror(errno));
    va_end(ap);
    exit(1);
}

static void write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        die("%s", path);
    close(fd);
}

static void mkdirs(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(path, 0755) && errno != EEXIST)
            die("mkdir %s", path);
        *p = '/';
    }
    if (mkdir(path, 0755) && errno != EEXIST)
        die("mkdir %s", path);
}

/* `dest` (inside the new root) created, unless it exists: a directory, or
 * an empty file when `src` is not a directory. */
static void make_dest(const char *src, char *dest) {
    struct stat st;
    if (lstat(dest, &st) == 0)
        return;
    if (src && stat(src, &st) == 0 && !S_ISDIR(st.st_mode)) {
        char *dir = strdup(dest);
        *strrchr(dir, '/') = 0;
        mkdirs(dir);
        free(dir);
        int fd = open(dest, O_CREAT | O_WRONLY, 0644);
        if (fd < 0)
            die("create %s", dest);
        close(fd);
        return;
    }
    mkdirs(dest);
}

static char *in(const char *root, const char *path) {
    char *out;
    if (asprintf(&out, "%s%s", root, path) < 0)
        die("asprintf");
    return out;
}

static void bind_mount(const char *src, const char *dest, int ro) {
    char *s = in("/oldroot", src), *d = in("/newroot", dest);
    make_dest(s, d);
    if (mount(s, d, NULL, MS_BIND | MS_REC, NULL))
        die("bind %s %s", src, dest);
    if (ro && mount(NULL, d, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL))
        die("remount %s read-only", dest);
    free(s);
    free(d);
}

static void tmpfs(const char *dest, unsigned mode) {
    char *d = in("/newroot", dest), opts[32];
    mkdirs(d);
    snprintf(opts, sizeof opts, "mode=%o", mode);
    if (mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, opts))
        die("tmpfs %s", dest);
    free(d);
}

/* bwrap's --dev: a tmpfs with the usual nodes bound from the host, its
 * own devpts, /dev/shm and the standard links. */
static void dev(const char *dest) {
    static const char *nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
    static const char *links[][2] = {{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
                                     {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
                                     {"/proc/kcore", "core"}, {"pts/ptmx", "ptmx"}};
    tmpfs(dest, 0755);
    char path[4096];
    for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) {
        snprintf(path, sizeof path, "/dev/%s", nodes[i]);
        char *d = in(dest, path + 4);
        bind_mount(path, d, 0);
        free(d);
    }
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
        snprintf(path, sizeof path, "/newroot%s/%s", dest, links[i][1]);
        if (symlink(links[i][0], path))
            die("symlink %s", path);
    }
    snprintf(path, sizeof path, "/newroot%s/pts", dest);
    mkdirs(path);
    if (mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620"))
        die("devpts");
    snprintf(path, sizeof path, "/newroot%s/shm", dest);
    mkdirs(path);
}

static void loopback_up(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    strcpy(ifr.ifr_name, "lo");
    ifr.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
    if (fd < 0 || ioctl(fd, SIOCSIFFLAGS, &ifr))
        die("loopback");
    close(fd);
}

/* In the new namespaces, as pid 1: the root, then the command. */
static int child(char **argv, int argc) {
    unsigned perms = 0755;
    const char *chdir_to = "/";
    if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) || mount("tmpfs", "/tmp", "tmpfs", MS_NODEV | MS_NOSUID, NULL))
        die("root tmpfs");
    if (chdir("/tmp") || mkdir("newroot", 0755) || mkdir("oldroot", 0755) ||
        mount("newroot", "newroot", NULL, MS_BIND | MS_REC, NULL) || syscall(SYS_pivot_root, "/tmp", "oldroot"))
        die("pivot_root");
    for (int i = 0; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--ro-bind") || !strcmp(o, "--bind")) {
            bind_mount(argv[i + 1], argv[i + 2], o[2] == 'r');
            i += 2;
        } else if (!strcmp(o, "--symlink")) {
            char *d = in("/newroot", argv[i + 2]);
            if (symlink(argv[i + 1], d))
                die("symlink %s", d);
            free(d);
            i += 2;
        } else if (!strcmp(o, "--perms")) {
            perms = strtoul(argv[++i], NULL, 8);
        } else if (!strcmp(o, "--tmpfs")) {
            tmpfs(argv[++i], perms);
            perms = 0755;
        } else if (!strcmp(o, "--remount-ro")) {
            char *d = in("/newroot", argv[++i]);
            if (mount(NULL, d, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL))
                die("remount %s", d);
            free(d);
        } else if (!strcmp(o, "--dev")) {
            dev(argv[++i]);
        } else if (!strcmp(o, "--proc")) {
            char *d = in("/newroot", argv[++i]);
            mkdirs(d);
            if (mount("proc", d, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
                die("proc");
            free(d);
        } else if (!strcmp(o, "--hostname")) {
            const char *h = argv[++i];
            if (sethostname(h, strlen(h)))
                die("sethostname");
        } else if (!strcmp(o, "--chdir")) {
            chdir_to = argv[++i];
        } else if (!strcmp(o, "--setenv")) {
            setenv(argv[i + 1], argv[i + 2], 1);
            i += 2;
        } else if (!strcmp(o, "--clearenv")) {
            clearenv();
        } else if (!strcmp(o, "--new-session")) {
            setsid();
        } else if (!strcmp(o, "--die-with-parent")) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
        } else if (strcmp(o, "--unshare-all")) {
            errno = EINVAL;
            die("unknown option %s", o);
        }
    }
    if (umount2("/oldroot", MNT_DETACH) || chdir("/newroot") || syscall(SYS_pivot_root, ".", ".") ||
        umount2(".", MNT_DETACH) || chdir(chdir_to))
        die("second pivot_root");
    loopback_up();
    execvp(argv[argc + 1], &argv[argc + 1]);
    die("execvp %s", argv[argc + 1]);
    return 127;
}

int main(int argc, char **argv) {
    int sep = 1;
    while (sep < argc && strcmp(argv[sep], "--"))
        sep++;
    if (sep + 1 >= argc) {
        fprintf(stderr, "usage: floor [bwrap options] -- COMMAND [ARGS...]\n");
        return 2;
    }
    char map[64];
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET |
                CLONE_NEWCGROUP))
        die("unshare");
    snprintf(map, sizeof map, "%u %u 1", uid, uid);
    write_file("/proc/self/uid_map", map);
    write_file("/proc/self/setgroups", "deny");
    snprintf(map, sizeof map, "%u %u 1", gid, gid);
    write_file("/proc/self/gid_map", map);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0)
        return child(argv + 1, sep - 1);
    int status;
    if (waitpid(pid, &status, 0) < 0)
        die("waitpid");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
