/* runner RUNS WARMUP OUT.json ::: NAME CMD ARGS... [::: NAME CMD ARGS...]
 *
 * Times commands the way `hyperfine -N` does (no shell; stdin, stdout and
 * stderr on /dev/null; a command that exits non-zero is an error), but
 * interleaved: run 1 of every command, then run 2 of every command, and so
 * on, so that a load that comes and goes on the machine falls on all of
 * them alike and the ratios of one run stay meaningful. Per run it records
 * the wall time (CLOCK_MONOTONIC around fork, execve and wait4) and the
 * user and system time wait4 reports (the command and every descendant it
 * waited for). OUT.json has hyperfine's export layout: {"results": [{
 * "command", "mean", "stddev", "median", "min", "max", "user", "system",
 * "times"}]}, seconds. Built by bench/lib/common.sh with gcc. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct cmd {
    const char *name;
    char **argv;
    double *wall;
    double user, sys;
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs argv once; returns its wall time, adds its CPU times. */
static double run(struct cmd *c) {
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0) {
        perror("runner: fork");
        exit(1);
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
            _exit(127);
        execvp(c->argv[0], c->argv);
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("runner: wait4");
            exit(1);
        }
    }
    double t = now() - t0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "runner: %s: exited with status %d (signal %d)\n", c->name,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        exit(1);
    }
    c->user += ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
    c->sys += ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    return t;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static void report(FILE *f, struct cmd *c, int runs, int last) {
    double sum = 0, sq = 0;
    for (int i = 0; i < runs; i++)
        sum += c->wall[i];
    double mean = sum / runs;
    for (int i = 0; i < runs; i++)
        sq += (c->wall[i] - mean) * (c->wall[i] - mean);
    double *sorted = malloc(sizeof(double) * runs);
    memcpy(sorted, c->wall, sizeof(double) * runs);
    qsort(sorted, runs, sizeof(double), cmp);
    double median = runs % 2 ? sorted[runs / 2] : (sorted[runs / 2 - 1] + sorted[runs / 2]) / 2;
    fprintf(f, "{\"command\": ");
    json_string(f, c->name);
    fprintf(f, ", \"mean\": %.9f, \"stddev\": %.9f, \"median\": %.9f, \"min\": %.9f, \"max\": %.9f, "
               "\"user\": %.9f, \"system\": %.9f, \"times\": [",
            mean, runs > 1 ? sqrt(sq / (runs - 1)) : 0, median, sorted[0], sorted[runs - 1], c->user / runs,
            c->sys / runs);
    for (int i = 0; i < runs; i++)
        fprintf(f, "%s%.9f", i ? ", " : "", c->wall[i]);
    fprintf(f, "]}%s\n", last ? "" : ",");
    free(sorted);
}

int main(int argc, char **argv) {
    if (argc < 6 || strcmp(argv[4], ":::") != 0) {
        fprintf(stderr, "usage: runner RUNS WARMUP OUT.json ::: NAME CMD ARGS... [::: NAME CMD ARGS...]\n");
        return 2;
    }
    int runs = atoi(argv[1]), warmup = atoi(argv[2]);
    if (runs < 1 || warmup < 0) {
        fprintf(stderr, "runner: RUNS must be at least 1, WARMUP at least 0\n");
        return 2;
    }
    struct cmd cmds[64];
    int n = 0;
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], ":::") != 0)
            continue;
        argv[i] = NULL; /* ends the previous command's argv */
        if (i + 2 >= argc || !strcmp(argv[i + 1], ":::") || !strcmp(argv[i + 2], ":::") || n == 64) {
            fprintf(stderr, "runner: each ::: needs a NAME and a command\n");
            return 2;
        }
        cmds[n] = (struct cmd){argv[i + 1], &argv[i + 2], calloc(runs, sizeof(double)), 0, 0};
        n++;
    }
    for (int r = 0; r < warmup; r++)
        for (int c = 0; c < n; c++)
            run(&cmds[c]);
    for (int c = 0; c < n; c++)
        cmds[c].user = cmds[c].sys = 0;
    for (int r = 0; r < runs; r++)
        for (int c = 0; c < n; c++)
            cmds[c].wall[r] = run(&cmds[c]);
    FILE *f = fopen(argv[3], "w");
    if (!f) {
        perror(argv[3]);
        return 1;
    }
    fprintf(f, "{\"results\": [\n");
    for (int c = 0; c < n; c++)
        report(f, &cmds[c], runs, c == n - 1);
    fprintf(f, "]}\n");
    return fclose(f) ? 1 : 0;
}
