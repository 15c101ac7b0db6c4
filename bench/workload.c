/* The benchmarks' workload, run as a container entrypoint; prints its own timings.
 *   workload loop ITERATIONS PATH...        open+close and stat each PATH, ITERATIONS times
 *   workload spawn ITERATIONS CMD ARG...    run CMD to completion ITERATIONS times
 *   workload serve CTL OUT PATH...          make the FIFOs CTL and OUT, then for each count N read from
 *                                           CTL run the loop N times and answer on OUT; N = 0 ends
 * Output: "elapsed_ns=<n> ops=<n> cpu_ns=<n>" (on stdout, or on OUT per request); cpu_ns is this
 * thread's CPU time, which a busy VM's other tenants disturb less than the wall clock. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long clock_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long loop(long iterations, int nfiles, char **files) {
    struct stat st;
    long long ops = 0;
    for (long i = 0; i < iterations; i++) {
        for (int p = 0; p < nfiles; p++) {
            int fd = open(files[p], O_RDONLY);
            if (fd >= 0)
                close(fd);
            stat(files[p], &st);
            ops += 2;
        }
    }
    return ops;
}

static long long spawn(long iterations, char **argv) {
    for (long i = 0; i < iterations; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            execv(argv[0], argv);
            _exit(127);
        }
        int status;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            exit(1);
    }
    return iterations;
}

static int serve(const char *ctl_path, const char *out_path, int nfiles, char **files) {
    if (mkfifo(ctl_path, 0600) != 0 || mkfifo(out_path, 0600) != 0) {
        perror("mkfifo");
        return 1;
    }
    FILE *ctl = fopen(ctl_path, "r");
    FILE *out = fopen(out_path, "w");
    if (!ctl || !out) {
        perror("fopen");
        return 1;
    }
    long iterations;
    while (fscanf(ctl, "%ld", &iterations) == 1 && iterations > 0) {
        long long start = clock_ns(CLOCK_MONOTONIC), cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
        long long ops = loop(iterations, nfiles, files);
        fprintf(out, "elapsed_ns=%lld ops=%lld cpu_ns=%lld\n", clock_ns(CLOCK_MONOTONIC) - start, ops,
                clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu);
        fflush(out);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: workload loop|spawn ITERATIONS ... | workload serve CTL OUT PATH...\n");
        return 2;
    }
    if (strcmp(argv[1], "serve") == 0)
        return serve(argv[2], argv[3], argc - 4, argv + 4);
    long iterations = atol(argv[2]);
    long long start = clock_ns(CLOCK_MONOTONIC), cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    long long ops = strcmp(argv[1], "loop") == 0 ? loop(iterations, argc - 3, argv + 3) : spawn(iterations, argv + 3);
    printf("elapsed_ns=%lld ops=%lld cpu_ns=%lld\n", clock_ns(CLOCK_MONOTONIC) - start, ops,
           clock_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu);
    return 0;
}
