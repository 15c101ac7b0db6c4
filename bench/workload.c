/* The benchmark's workload, run as a container entrypoint; prints its own elapsed time.
 *   workload loop ITERATIONS PATH...   open+close and stat each PATH, ITERATIONS times
 *   workload spawn ITERATIONS CMD ARG...   run CMD to completion ITERATIONS times
 * Output: "elapsed_ns=<n> ops=<n>" on stdout. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: workload loop|spawn ITERATIONS ...\n");
        return 2;
    }
    long iterations = atol(argv[2]);
    long long ops = 0, start = now_ns();
    if (strcmp(argv[1], "loop") == 0) {
        struct stat st;
        for (long i = 0; i < iterations; i++) {
            for (int p = 3; p < argc; p++) {
                int fd = open(argv[p], O_RDONLY);
                if (fd >= 0)
                    close(fd);
                stat(argv[p], &st);
                ops += 2;
            }
        }
    } else {
        for (long i = 0; i < iterations; i++) {
            pid_t pid = fork();
            if (pid == 0) {
                execv(argv[3], argv + 3);
                _exit(127);
            }
            int status;
            waitpid(pid, &status, 0);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return 1;
            ops++;
        }
    }
    printf("elapsed_ns=%lld ops=%lld\n", now_ns() - start, ops);
    return 0;
}
