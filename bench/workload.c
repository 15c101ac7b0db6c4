/* The benchmarks' workload, run as a container entrypoint; prints its own timings.
 *   workload loop ITERATIONS PATH...        open+close and stat each PATH, ITERATIONS times
 *   workload spawn ITERATIONS CMD ARG...    run CMD to completion ITERATIONS times
 *   workload serve CTL OUT PATH...          make the FIFOs CTL and OUT, then for each count N read from
 *                                           CTL run the loop N times and answer on OUT; N = 0 ends
 * Output: "elapsed_ns=<n> ops=<n> cpu_ns=<n>" (on stdout, or on OUT per request, with quiet_ns); cpu_ns
 * is CPU time, which a busy VM's other tenants disturb less than the wall clock. */
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

#define SLICES 50

static int by_value(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* Each request runs in SLICES slices and also answers quiet_ns: the 10th-percentile slice's CPU time
 * times SLICES, the chunk as its quietest slices ran (a VM's neighbours disturb some slices, not all). */
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
        long long slices[SLICES], ops = 0, start = clock_ns(CLOCK_MONOTONIC), cpu = 0;
        for (int i = 0; i < SLICES; i++) {
            long long before = clock_ns(CLOCK_THREAD_CPUTIME_ID);
            ops += loop(iterations / SLICES, nfiles, files);
            slices[i] = clock_ns(CLOCK_THREAD_CPUTIME_ID) - before;
            cpu += slices[i];
        }
        qsort(slices, SLICES, sizeof(slices[0]), by_value);
        fprintf(out, "elapsed_ns=%lld ops=%lld cpu_ns=%lld quiet_ns=%lld\n", clock_ns(CLOCK_MONOTONIC) - start,
                ops, cpu, slices[SLICES / 10] * SLICES);
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
