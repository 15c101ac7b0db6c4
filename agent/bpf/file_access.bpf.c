// snoop: which files do containers really use?
//
// Tracepoints only (no kprobes, no kernel structs): every program reads tracepoint arguments and calls
// BPF helpers, so the same C runs on any kernel with syscall tracepoints and BTF-less headers.
//
// Flow: sys_enter_* reads the path and ends there when its (cgroup, path, kind) was reported before:
// the common case costs one string read, one hash and one map lookup. Otherwise it stashes (path
// pointer, dirfd, kind) per thread; the sys_exit raw tracepoint drops failed calls, reads the path
// again (the kernel has just copied it, so the page is resident), marks it seen and emits it.
// Userspace work grows with new (container, path) pairs, not with syscalls.
//
// Only the container's own processes count. The runtime's helper (runc init, crun, …) joins the
// container's cgroup from outside and opens host files (its libraries, the bundle, /proc) before it
// hands over; names prove nothing, so the kernel decides from what it sees a process do: a process
// that changes its root into the container's (pivot_root, chroot, setns into a mount namespace) and
// then execs is the container's entrypoint; its descendants are the container's too. Everything else
// in the cgroup is the runtime: counted in STAT_RUNTIME, never emitted, never marked seen.
//
// Compile-time constants come as -D flags from agent/tracer.py: RINGBUF_PAGES, SEEN_ENTRIES,
// PROCS_ENTRIES, PATH_MAX_LEN (common/limits.py's PATH_MAX, the limit the collector enforces too), and
// HAVE_* for the tracepoints (and tracepoint fields) this kernel has.

#include <uapi/linux/ptrace.h>
#include <linux/sched.h>

#if !defined(PATH_MAX_LEN) || (PATH_MAX_LEN & (PATH_MAX_LEN - 1))
#error "PATH_MAX_LEN: a power of two, from the agent's -D flags"
#endif
#define AT_FDCWD_VALUE -100

// Access kinds: the same bits as snoop.v1.AccessKind.
#define KIND_READ 1
#define KIND_WRITE 2
#define KIND_EXEC 4
#define KIND_STAT 8
#define KIND_READLINK 16
// Not file accesses: they keep userspace's view of each process's cwd exact.
#define KIND_CHDIR 32
#define KIND_FCHDIR 64
#define KIND_FORK 128
// Added to READ for opens with O_DIRECTORY: userspace learns which fd names which directory, so that
// fchdir(fd) and openat(fd, …) of a process that is already gone still resolve. Never deduplicated.
#define KIND_OPENDIR 256
// The process changed its root into the container's (pivot_root, chroot, setns into a mount ns). Sent
// once per process, without a path: the runtime's helper waits there for the start (runc's exec fifo),
// so userspace can pin the container's root before an entrypoint that runs for a millisecond is gone.
#define KIND_ENTER 512
// Added to a file access whose lookup failed (ENOENT, ENOTDIR): sent for the containers of slim images
// (the closed loop: what did the slim image lack?), and while userspace has not yet said whose a new
// cgroup is, so that a missing library at the entrypoint's exec is not lost; dropped for the others.
#define KIND_MISSING 1024
// A cgroup was made in the unified hierarchy: cgroup_id is the new cgroup's, path its path from the hierarchy's
// root. Userspace learns every container's cgroup path before the container runs, so a container that is
// gone, cgroup and all, by the time its events are handled is still named.
#define KIND_CGROUP 2048
#define CGROUP2_HIERARCHY 0  // the unified hierarchy's id; v1 hierarchies of hybrid hosts have others
#define ENOENT_VALUE 2
#define ENOTDIR_VALUE 20
#define MISSING_WATCH 1
#define MISSING_DROP 2
#define FILE_KINDS (KIND_READ | KIND_WRITE | KIND_EXEC | KIND_STAT | KIND_READLINK)
#define CLONE_NEWNS_FLAG 0x00020000

// What a process of a traced cgroup has shown the kernel; a process absent from `procs` is the runtime.
#define PROC_ENTERED 1    // changed its root into the container's, not yet exec'd
#define PROC_CONTAINER 2  // exec'd after entering, or was forked by such a process

// Slots of the per-CPU stats array; mirrored by agent/tracer.py STAT_NAMES.
enum stat_slot {
    STAT_OPEN, STAT_OPENAT, STAT_OPENAT2, STAT_CREAT, STAT_EXECVE, STAT_EXECVEAT, STAT_STAT,
    STAT_LSTAT, STAT_NEWFSTATAT, STAT_STATX, STAT_ACCESS, STAT_FACCESSAT, STAT_FACCESSAT2,
    STAT_READLINK, STAT_READLINKAT, STAT_CHDIR, STAT_FCHDIR, STAT_EXEC_DONE, STAT_PIVOT_ROOT,
    STAT_CHROOT, STAT_SETNS,
    STAT_DROPPED,      // ring buffer full: the event is lost, not marked seen, so it comes again
    STAT_READ_ERROR,   // path could not be read from user memory
    STAT_FAILED,       // syscall failed (ENOENT, EACCES, ...): not a file of the image
    STAT_REPEATED,     // already reported for this container: ended in the kernel
    STAT_RUNTIME,      // accesses and execs of processes that are not the container's (the runtime's)
    STAT_EMITTED,
    STAT_PROCS_FULL,   // `procs` had no room: a process of a container could not be marked
    STAT_MISSING,      // failed lookups sent (KIND_MISSING), before userspace's verdict or for slim images
    STAT_SLOTS,
};

// The one event layout. Userspace takes the struct from bcc (b["events"].event), never by hand.
struct event {
    u64 cgroup_id;
    u64 ts_ns;
    u32 pid;       // tgid
    u32 tid;
    s32 dirfd;     // AT_FDCWD or a directory fd for *at() syscalls; the new pid for KIND_FORK
    s32 ret;       // the syscall's result: the new fd for KIND_OPENDIR
    u32 kind;
    u32 path_len;  // bytes in path, without the terminating NUL
    char comm[TASK_COMM_LEN];
    char path[PATH_MAX_LEN];
};

struct pending {
    const char *path;
    s32 dirfd;
    u32 kind;
};

struct seen_key {
    u64 cgroup_id;
    u64 hash;      // hash_path()
    u32 path_len;  // with the length, a false "seen" needs a 64-bit collision at equal length
    u32 kind;
    u32 pid;       // 0 for absolute paths; the tgid for relative ones (cwd is per process)
    u32 cwd_gen;   // bumped by chdir/fchdir, fresh after fork
};

BPF_RINGBUF_OUTPUT(events, RINGBUF_PAGES);
BPF_TABLE("lru_hash", u32, struct pending, pending, 16384);
// How many entries `pending` holds: the exit probe runs for every syscall on the node and returns at
// once while this is zero, the common case. An entry the LRU evicts is never counted down: the gate
// then stays open, which costs a lookup per syscall and nothing else.
BPF_ARRAY(inflight, u64, 1);
BPF_TABLE("lru_hash", struct seen_key, u8, seen, SEEN_ENTRIES);
BPF_TABLE("lru_hash", u32, u32, cwd_gen, 65536);
// tgid (and tid of threads) -> PROC_*; exact, not LRU: an evicted entry would silence a container's
// process. Entries are removed when their task exits.
BPF_HASH(procs, u32, u8, PROCS_ENTRIES);
BPF_PERCPU_ARRAY(scratch, struct event, 1);
BPF_PERCPU_ARRAY(stats, u64, STAT_SLOTS);
// Per cgroup, one lookup on the hot path answers both "traced?" and "count this access".
struct cgroup_state {
    u64 events;    // file accesses seen, repeats and failures included
    u64 ignored;   // set by userspace on every CPU: host, runtime and other non-container cgroups
};
BPF_TABLE("percpu_hash", u64, struct cgroup_state, cgroups, 65536);
// cgroup id -> MISSING_WATCH or MISSING_DROP, set by userspace once it knows the container's image;
// absent: not known yet. Looked up only when a lookup has failed.
BPF_HASH(missing_mode, u64, u8, 65536);

static __always_inline void count(u32 slot) {
    u64 *v = stats.lookup(&slot);
    if (v)
        (*v)++;
}

// Host processes live in the root cgroup (id 1); other non-container cgroups are learned by userspace.
// Returns the cgroup's state when it is traced, else 0.
static __always_inline struct cgroup_state *traced_cgroup(u64 cgroup_id) {
    if (cgroup_id <= 1)
        return 0;
    struct cgroup_state zero = {};
    struct cgroup_state *state = cgroups.lookup_or_try_init(&cgroup_id, &zero);
    return state && !state->ignored ? state : 0;
}

static __always_inline bool cgroup_traced(u64 cgroup_id) {
    return traced_cgroup(cgroup_id) != 0;
}

static __always_inline u8 proc_state(u32 tgid) {
    u8 *state = procs.lookup(&tgid);
    return state ? *state : 0;
}

static __always_inline void set_proc_state(u32 pid, u8 state) {
    if (procs.update(&pid, &state) != 0)
        count(STAT_PROCS_FULL);
}

// 64-bit multiplicative hash over the path, eight bytes a step (bytes past the end masked off).
// path[] is 8-byte aligned in struct event; the mask keeps every read inside it for the verifier.
static __always_inline u64 hash_path(const char *s, u32 len) {
    u64 h = 0xcbf29ce484222325ULL ^ len;
#pragma clang loop unroll(disable)
    for (u32 i = 0; i < PATH_MAX_LEN / 8; i++) {
        u32 off = i * 8;
        if (off >= len)
            break;
        u64 w = *(const u64 *)(s + (off & (PATH_MAX_LEN - 8)));
        u32 rest = len - off;
        if (rest < 8)
            w &= (1ULL << ((rest & 7) * 8)) - 1;
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
    }
    return h;
}

static __always_inline u32 current_cwd_gen(u32 pid) {
    u32 *gen = cwd_gen.lookup(&pid);
    return gen ? *gen : 0;
}

static __always_inline void seen_key_of(struct seen_key *key, u64 cgroup_id, const char *path, u32 len,
                                        u32 kind, u32 pid) {
    key->cgroup_id = cgroup_id;
    key->hash = hash_path(path, len);
    key->path_len = len;
    key->kind = kind;
    if (path[0] != '/') {  // relative: the same name means another file in another cwd
        key->pid = pid;
        key->cwd_gen = current_cwd_gen(pid);
    }
}

// Sends e (path already in e->path, e->path_len set) unless this container already reported it.
// dedup=false for events userspace must see every time (cwd changes, dirfd-relative paths).
static __always_inline int submit(struct event *e, bool dedup) {
    struct seen_key key = {};
    if (dedup) {
        seen_key_of(&key, e->cgroup_id, e->path, e->path_len, e->kind, e->pid);
        if (seen.lookup(&key)) {
            count(STAT_REPEATED);
            return 0;
        }
    }
    u64 size = offsetof(struct event, path) + (e->path_len & (PATH_MAX_LEN - 1)) + 1;  // path_len < PATH_MAX_LEN
    if (events.ringbuf_output(e, size, 0) != 0) {
        count(STAT_DROPPED);  // not marked seen: its next access comes again
        return 0;
    }
    // Marked only once sent, so a `seen` entry always stands for an event userspace got. Two threads
    // sending the same new path at once both get through; userspace dedups.
    u8 one = 1;
    if (dedup)
        seen.update(&key, &one);
    count(STAT_EMITTED);
    return 0;
}

// A tracepoint's string field (__data_loc: its offset in the low 16 bits) as e's path, then sent.
static __always_inline int submit_data_loc(struct event *e, void *args, u32 data_loc, bool dedup) {
    int n = bpf_probe_read_kernel_str(e->path, PATH_MAX_LEN, (char *)args + (data_loc & 0xFFFF));
    if (n <= 1) {
        count(STAT_READ_ERROR);
        return 0;
    }
    e->path_len = n - 1;
    return submit(e, dedup);
}

static __always_inline struct event *start_event(u32 kind, s32 dirfd) {
    u32 zero = 0;
    struct event *e = scratch.lookup(&zero);
    if (!e)
        return 0;
    u64 id = bpf_get_current_pid_tgid();
    e->cgroup_id = bpf_get_current_cgroup_id();
    e->ts_ns = bpf_ktime_get_boot_ns();
    e->pid = id >> 32;
    e->tid = (u32)id;
    e->dirfd = dirfd;
    e->kind = kind;
    e->ret = 0;
    e->path_len = 0;
    e->path[0] = 0;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    return e;
}

// bench/agent_cost.py builds this program cut short after step n of the hot path (-DCUT=n) to measure
// what each step costs; `keep` stops the compiler from dropping work whose result the cut leaves unused.
// Without CUT, STEP is nothing.
#ifdef CUT
#define STEP(n, keep) do { if ((n) >= CUT) { asm volatile("" : : "r"(keep)); return 0; } } while (0)
#else
#define STEP(n, keep) do { } while (0)
#endif

// The hot path. A repeated access ends here, before anything is stashed for the exit probe: read the
// path, hash it, find it in `seen`. Only new paths (and failing ones) pay for the exit probe's work.
static __always_inline int on_enter(u32 slot, u32 kind, s32 dirfd, const char *path) {
    u64 cgroup_id = bpf_get_current_cgroup_id();
    struct cgroup_state *state = traced_cgroup(cgroup_id);
    if (!state)
        return 0;
    count(slot);
    STEP(1, state);  // the cgroup's state found, the syscall counted
    u64 id = bpf_get_current_pid_tgid();
    if (kind & FILE_KINDS) {
        if (proc_state(id >> 32) != PROC_CONTAINER) {
            count(STAT_RUNTIME);
            return 0;
        }
        state->events++;
    }
    STEP(2, id);  // the process's standing looked up
    if (kind <= KIND_READLINK) {
        u32 zero = 0;
        struct event *e = scratch.lookup(&zero);
        if (!e)
            return 0;
        int n = bpf_probe_read_user_str(e->path, PATH_MAX_LEN, path);
        STEP(3, n);  // the path read
        if (n > 1 && (e->path[0] == '/' || dirfd == AT_FDCWD_VALUE)) {
            struct seen_key key = {};
            seen_key_of(&key, cgroup_id, e->path, n - 1, kind, id >> 32);
            STEP(4, key.hash);  // the path hashed
            if (seen.lookup(&key)) {
                count(STAT_REPEATED);
                return 0;
            }
        }
    }
    u32 tid = id;
    struct pending p = {.path = path, .dirfd = dirfd, .kind = kind};
    if (pending.insert(&tid, &p) == 0) {
        u32 zero = 0;
        u64 *stashed = inflight.lookup(&zero);
        if (stashed)
            __sync_fetch_and_add(stashed, 1);
    } else {  // left by a syscall whose exit this program did not see (it loaded in between)
        pending.update(&tid, &p);
    }
    return 0;
}

// A failed lookup of a container's process, sent unless userspace said the container's image is no
// slim image; once per (container, path, kind) like any access.
static __always_inline int on_missing(struct pending *p, long ret) {
    u64 cgroup_id = bpf_get_current_cgroup_id();
    u8 *mode = missing_mode.lookup(&cgroup_id);
    if (mode && *mode == MISSING_DROP)
        return 0;
    struct event *e = start_event(p->kind | KIND_MISSING, p->dirfd);
    if (!e)
        return 0;
    int n = bpf_probe_read_user_str(e->path, PATH_MAX_LEN, p->path);
    if (n <= 1) {
        count(STAT_READ_ERROR);
        return 0;
    }
    e->path_len = n - 1;
    e->ret = ret;
    count(STAT_MISSING);
    return submit(e, e->path[0] == '/' || p->dirfd == AT_FDCWD_VALUE);
}

static __always_inline int on_exit(long ret) {
    u32 zero = 0;
    u64 *in_flight = inflight.lookup(&zero);
    if (!in_flight || *in_flight == 0)
        return 0;
    u32 tid = bpf_get_current_pid_tgid();
    struct pending *stashed = pending.lookup(&tid);
    if (!stashed)
        return 0;
    struct pending p = *stashed;
    if (pending.delete(&tid) == 0)
        __sync_fetch_and_add(in_flight, -1);
    if (p.kind == KIND_ENTER) {
        u32 tgid = bpf_get_current_pid_tgid() >> 32;
        if (ret != 0 || proc_state(tgid) >= PROC_ENTERED)
            return 0;
        set_proc_state(tgid, PROC_ENTERED);
        struct event *e = start_event(KIND_ENTER, 0);
        return e ? submit(e, false) : 0;
    }
    if (ret < 0) {
        count(STAT_FAILED);
        return (ret == -ENOENT_VALUE || ret == -ENOTDIR_VALUE) && (p.kind & FILE_KINDS) ? on_missing(&p, ret) : 0;
    }
    struct event *e = start_event(p.kind, p.dirfd);
    if (!e)
        return 0;
    if (p.kind == KIND_FCHDIR) {
        cwd_gen.increment(e->pid);
        return submit(e, false);
    }
    int n = bpf_probe_read_user_str(e->path, PATH_MAX_LEN, p.path);
    if (n <= 0) {
        count(STAT_READ_ERROR);
        return 0;
    }
    if (n == 1)  // empty path with AT_EMPTY_PATH: an fstat of an already-open fd
        return 0;
    e->path_len = n - 1;
    e->ret = ret;
    if (p.kind == KIND_CHDIR) {
        cwd_gen.increment(e->pid);
        return submit(e, false);
    }
    if (p.kind & KIND_OPENDIR)
        return submit(e, false);
    bool dirfd_relative = e->path[0] != '/' && p.dirfd != AT_FDCWD_VALUE;
    return submit(e, !dirfd_relative);
}

// One probe for the exits of all syscalls, instead of one per traced syscall: a raw tracepoint builds
// no record, and all but the stashed calls end at the `inflight` check (bench/agent_cost.py: about what
// the per-syscall exits cost on a loop that closes as often as it opens). The stash says which syscall
// this is; the next exit of its thread is its own.
RAW_TRACEPOINT_PROBE(sys_exit) { return on_exit((long)ctx->args[1]); }

static __always_inline u32 open_kind(u64 flags) {
    // O_WRONLY 01, O_RDWR 02, O_CREAT 0100, O_TRUNC 01000, O_DIRECTORY 0200000
    if (flags & 0200000)
        return KIND_READ | KIND_OPENDIR;
    return (flags & (01 | 02 | 0100 | 01000)) ? KIND_WRITE : KIND_READ;
}

TRACEPOINT_PROBE(syscalls, sys_enter_openat) {
    return on_enter(STAT_OPENAT, open_kind(args->flags), args->dfd, args->filename);
}

#ifdef HAVE_OPENAT2  // Linux 5.6+
TRACEPOINT_PROBE(syscalls, sys_enter_openat2) {
    u64 flags = 0;
    bpf_probe_read_user(&flags, sizeof(flags), args->how);  // struct open_how starts with u64 flags (UAPI)
    return on_enter(STAT_OPENAT2, open_kind(flags), args->dfd, args->filename);
}
#endif

TRACEPOINT_PROBE(syscalls, sys_enter_newfstatat) {
    return on_enter(STAT_NEWFSTATAT, KIND_STAT, args->dfd, args->filename);
}

TRACEPOINT_PROBE(syscalls, sys_enter_statx) {
    return on_enter(STAT_STATX, KIND_STAT, args->dfd, args->filename);
}

TRACEPOINT_PROBE(syscalls, sys_enter_faccessat) {
    return on_enter(STAT_FACCESSAT, KIND_STAT, args->dfd, args->filename);
}

#ifdef HAVE_FACCESSAT2  // Linux 5.8+
TRACEPOINT_PROBE(syscalls, sys_enter_faccessat2) {
    return on_enter(STAT_FACCESSAT2, KIND_STAT, args->dfd, args->filename);
}
#endif

TRACEPOINT_PROBE(syscalls, sys_enter_readlinkat) {
    return on_enter(STAT_READLINKAT, KIND_READLINK, args->dfd, args->pathname);
}

TRACEPOINT_PROBE(syscalls, sys_enter_chdir) {
    return on_enter(STAT_CHDIR, KIND_CHDIR, AT_FDCWD_VALUE, args->filename);
}

TRACEPOINT_PROBE(syscalls, sys_enter_fchdir) {
    return on_enter(STAT_FCHDIR, KIND_FCHDIR, args->fd, 0);
}

// execve/execveat: a successful exec replaces the memory the path pointer points into, so the path is
// taken from sched_process_exec (success only) instead. The enter probes only count.
TRACEPOINT_PROBE(syscalls, sys_enter_execve) {
    if (cgroup_traced(bpf_get_current_cgroup_id()))
        count(STAT_EXECVE);
    return 0;
}
TRACEPOINT_PROBE(syscalls, sys_enter_execveat) {
    if (cgroup_traced(bpf_get_current_cgroup_id()))
        count(STAT_EXECVEAT);
    return 0;
}

// A root change is what a runtime does last before it execs the entrypoint (runc and crun pivot_root,
// runc without pivot chroots, `runc exec` joins the mount namespace with setns).
TRACEPOINT_PROBE(syscalls, sys_enter_pivot_root) { return on_enter(STAT_PIVOT_ROOT, KIND_ENTER, 0, 0); }

TRACEPOINT_PROBE(syscalls, sys_enter_chroot) { return on_enter(STAT_CHROOT, KIND_ENTER, 0, 0); }

TRACEPOINT_PROBE(syscalls, sys_enter_setns) {
    if (args->flags != 0 && args->flags != CLONE_NEWNS_FLAG)  // another namespace: the root stays
        return 0;
    return on_enter(STAT_SETNS, KIND_ENTER, 0, 0);
}

// The handover: an exec after entering makes the process the container's.
TRACEPOINT_PROBE(sched, sched_process_exec) {
    struct cgroup_state *state = traced_cgroup(bpf_get_current_cgroup_id());
    if (!state)
        return 0;
    count(STAT_EXEC_DONE);
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    u8 was = proc_state(tgid);
    if (was == 0) {
        // Not seen entering. `runc exec` joins the container's namespaces before it joins its cgroup, so its
        // setns went unseen: a process outside the host's pid namespace exec-ing here is that exec's, the
        // container's. One in the host's is the runtime exec-ing itself, or a process moved in from outside.
#ifdef HOST_PIDNS_INO
        struct bpf_pidns_info ns = {};
        if (bpf_get_ns_current_pid_tgid(HOST_PIDNS_DEV, HOST_PIDNS_INO, &ns, sizeof(ns)) != 0) {
            set_proc_state(tgid, PROC_CONTAINER);
            was = PROC_CONTAINER;
        }
#endif
        if (was == 0) {
            count(STAT_RUNTIME);
            return 0;
        }
    }
    if (was == PROC_ENTERED)
        set_proc_state(tgid, PROC_CONTAINER);
    state->events++;
    struct event *e = start_event(KIND_EXEC, AT_FDCWD_VALUE);
    return e ? submit_data_loc(e, args, args->data_loc_filename, true) : 0;
}

TRACEPOINT_PROBE(cgroup, cgroup_mkdir) {
    if (args->root != CGROUP2_HIERARCHY)
        return 0;
    struct event *e = start_event(KIND_CGROUP, 0);
    if (!e)
        return 0;
    e->cgroup_id = args->id;
    return submit_data_loc(e, args, args->data_loc_path, false);
}

// A child inherits its parent's standing (threads are tasks too: they get an entry of their own, removed
// when they exit) and its cwd: userspace copies it so that relative paths of short-lived children still
// resolve after they are gone.
TRACEPOINT_PROBE(sched, sched_process_fork) {
    if (!cgroup_traced(bpf_get_current_cgroup_id()))
        return 0;
    u8 parent = proc_state(bpf_get_current_pid_tgid() >> 32);
    if (parent == 0)
        return 0;
    set_proc_state(args->child_pid, parent);
    if (parent != PROC_CONTAINER)
        return 0;
    struct event *e = start_event(KIND_FORK, args->child_pid);
    if (!e)
        return 0;
    // A fresh generation: a reused pid must not inherit the relative paths its predecessor reported.
    u32 child = args->child_pid;
    u32 gen = (u32)e->ts_ns;
    cwd_gen.update(&child, &gen);
    return submit(e, false);
}

TRACEPOINT_PROBE(sched, sched_process_exit) {
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = id, tgid = id >> 32;
#ifdef HAVE_EXIT_GROUP_DEAD  // Linux 6.14+: the leader may exit before its threads
    if (tid != tgid)
        procs.delete(&tid);
    if (args->group_dead)
        procs.delete(&tgid);
#else
    procs.delete(&tid);
#endif
    return 0;
}

#ifdef HAVE_LEGACY_SYSCALLS  // x86_64 keeps the pre-*at syscalls; arm64 has none
TRACEPOINT_PROBE(syscalls, sys_enter_open) {
    return on_enter(STAT_OPEN, open_kind(args->flags), AT_FDCWD_VALUE, args->filename);
}

TRACEPOINT_PROBE(syscalls, sys_enter_creat) {
    return on_enter(STAT_CREAT, KIND_WRITE, AT_FDCWD_VALUE, args->pathname);
}

TRACEPOINT_PROBE(syscalls, sys_enter_newstat) {
    return on_enter(STAT_STAT, KIND_STAT, AT_FDCWD_VALUE, args->filename);
}

TRACEPOINT_PROBE(syscalls, sys_enter_newlstat) {
    return on_enter(STAT_LSTAT, KIND_STAT, AT_FDCWD_VALUE, args->filename);
}

TRACEPOINT_PROBE(syscalls, sys_enter_access) {
    return on_enter(STAT_ACCESS, KIND_STAT, AT_FDCWD_VALUE, args->filename);
}

TRACEPOINT_PROBE(syscalls, sys_enter_readlink) {
    return on_enter(STAT_READLINK, KIND_READLINK, AT_FDCWD_VALUE, args->path);
}
#endif
