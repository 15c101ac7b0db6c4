/* probe: one container workload that walks through the hard cases of path resolution.
 * Built static by tests/harness/probe.py and run as a container's entrypoint; every access it makes
 * is listed in tests/e2e/test_hard_cases.py with the path the agent must report for it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void touch_read(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd >= 0)
        close(fd);
}

/* Creates /tmp/deep/ddd…/ddd…/leaf with an absolute path of just under PATH_MAX, then opens it by it. */
static void deep_path(void) {
    char path[4096] = "/tmp/deep";
    char seg[201];
    memset(seg, 'd', 200);
    seg[200] = 0;
    mkdir(path, 0755);
    while (strlen(path) + 1 + 200 + 1 + 4 < 4095) {
        strcat(path, "/");
        strcat(path, seg);
        mkdir(path, 0755);
    }
    strcat(path, "/leaf");
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    if (fd >= 0)
        close(fd);
    touch_read(path);
    printf("deep %zu\n", strlen(path));
}

int main(void) {
    struct stat st;
    char buf[256];

    /* relative to the cwd after chdir, with .. and // on the way */
    chdir("/app/data");
    touch_read("rel.txt");
    touch_read("..//dir/./inner2.txt");

    /* relative to a directory fd */
    int dir = open("/app/dir", O_RDONLY | O_DIRECTORY);
    int fd = openat(dir, "inner.txt", O_RDONLY);
    close(fd);

    /* fchdir, then relative */
    int fdir = open("/app/fdir", O_RDONLY | O_DIRECTORY);
    fchdir(fdir);
    touch_read("f.txt");

    /* a symlink: the link and its target */
    touch_read("/app/link.txt");
    /* names that are not UTF-8 */
    touch_read("/app/caf\xe9.txt");
    /* stat, access and readlink kinds */
    stat("/app/stat-only.txt", &st);
    access("/app/access-only.txt", R_OK);
    readlink("/app/readlink-only", buf, sizeof(buf));
    /* failed lookups are not files of the image */
    touch_read("/app/missing.txt");
    /* /proc/self is the process, not the image: excluded */
    touch_read("/proc/self/status");

    /* a short-lived child that changes directory and exits at once */
    pid_t child = fork();
    if (child == 0) {
        chdir("/app/child");
        touch_read("c.txt");
        close(openat(dir, "inherited.txt", O_RDONLY));  /* a directory fd inherited from the parent */
        _exit(0);
    }
    waitpid(child, NULL, 0);

    deep_path();

    /* an exec through a symlink, relative to the cwd */
    chdir("/bin");
    execl("./true", "true", (char *)NULL);
    return 1;
}
