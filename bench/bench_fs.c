/*
 * bench_fs.c - the helper of bench/bench_fs.sh: provisions the share the
 * benchmark runs on, and runs its workloads either directly on libcephfs
 * (the baseline kairosfs and ceph-fuse are compared with) or with plain
 * system calls on a mounted directory: the same loop on every target, so
 * that the loop's own cost (fio's is large for metadata) is the same.
 *
 *   bench_fs provision CONF PROJECT SHARE BYTES
 *       make PROJECT (share quota BYTES) and its share SHARE through
 *       libkairos; print the share's path in the file system
 *   bench_fs delete CONF PROJECT
 *       delete PROJECT and everything in it
 *   bench_fs direct CONF PATH WORKLOAD ARGS...
 *       mount PATH with the config's identity; run WORKLOAD on libcephfs
 *   bench_fs posix DIR WORKLOAD ARGS...
 *       run WORKLOAD with system calls, paths relative to DIR
 *
 * Workloads, as the fio jobs of bench_fs.sh do them:
 *   seqwrite FILE SIZE BS        write FILE from the start, then fsync
 *   seqread FILE BS              read FILE from the start to the end
 *   bufread FILE BS              the same without O_DIRECT: through the
 *                                kernel's page cache and read-ahead (or
 *                                libcephfs's cache and read-ahead)
 *   randread DIR SIZE BS SECS JOBS
 *                                JOBS threads, each reading random blocks of
 *                                its own file DIR/rand.J.0 of SIZE/JOBS bytes
 *                                (written first if missing, not timed)
 *   randwrite DIR SIZE BS SECS JOBS
 *                                the same, writing
 *   create DIR NFILES            create (open O_CREAT, close) DIR/meta.0.N
 *   stat DIR NFILES SECS         stat them in turn for SECS seconds
 * Other data workloads open with O_DIRECT, as the fio jobs use direct=1. Prints
 * one JSON object: {"ops": N, "seconds": S, "iops": ..., "bw_bytes": ...}.
 * File names follow fio's ($jobname.$jobnum.$filenum).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cephfs/libcephfs.h>
#include <kairos/kairos.h>

/* fio's name for the metadata job; bench_fs.sh uses the same. */
#define META_JOB "meta"
#define MiB      ((uint64_t)1 << 20)

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_fs: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
    exit(1);
}

static uint64_t parse_size(const char *s)
{
    uint64_t v;

    if (kairos_size_parse(s, &v) < 0) {
        fprintf(stderr, "bench_fs: bad size '%s'\n", s);
        exit(2);
    }
    return v;
}

/* ---- provisioning, through libkairos ---- */

static struct kairos *open_kairos(const char *conf, struct kairos_config **cfg)
{
    struct kairos_error err = {0};
    struct kairos *k;

    if (kairos_config_load(conf, cfg, &err) < 0 || kairos_open(*cfg, &k, &err) < 0) {
        fprintf(stderr, "bench_fs: %s\n", err.msg);
        exit(1);
    }
    return k;
}

static int provision(const char *conf, const char *project, const char *share, uint64_t bytes)
{
    struct kairos_config *cfg;
    struct kairos *k = open_kairos(conf, &cfg);
    struct kairos_error err = {0};
    struct kairos_share_info info;
    struct kairos_quota q;

    kairos_quota_unlimited(&q);
    q.kind[KAIROS_SHARE].bytes = bytes;
    if (kairos_project_create(k, project, NULL, &q, &err) < 0 ||
        kairos_share_create(k, project, share, bytes, 0, &err) < 0 ||
        kairos_share_info(k, project, share, &info, &err) < 0) {
        fprintf(stderr, "bench_fs: %s\n", err.msg);
        return 1;
    }
    printf("%s\n", info.path);
    kairos_close(k);
    kairos_config_free(cfg);
    return 0;
}

static int delete_project(const char *conf, const char *project)
{
    struct kairos_config *cfg;
    struct kairos *k = open_kairos(conf, &cfg);
    struct kairos_error err = {0};
    int rc = kairos_project_delete(k, project, KAIROS_DELETE_FORCE, &err);

    if (rc < 0)
        fprintf(stderr, "bench_fs: %s\n", err.msg);
    kairos_close(k);
    kairos_config_free(cfg);
    return rc < 0;
}

/* ---- two ways to reach the files ---- */

/* File operations with 0-or-negative-errno returns, on libcephfs or on the kernel. */
struct fsops {
    int (*open)(void *ctx, const char *path, int flags, mode_t mode);
    int (*close)(void *ctx, int fd);
    long (*pread)(void *ctx, int fd, void *buf, size_t n, uint64_t off);
    long (*pwrite)(void *ctx, int fd, const void *buf, size_t n, uint64_t off);
    int (*fsync)(void *ctx, int fd);
    int (*size)(void *ctx, const char *path, uint64_t *size);
    int (*stat)(void *ctx, const char *path);
    int (*mkdir)(void *ctx, const char *path);
};

struct fs {
    const struct fsops *ops;
    void *ctx;        /* the ceph_mount_info, or NULL */
    const char *base; /* POSIX: the directory paths are relative to */
};

static int c_open(void *ctx, const char *path, int flags, mode_t mode)
{
    return ceph_open(ctx, path, flags, mode);
}

static int c_close(void *ctx, int fd)
{
    return ceph_close(ctx, fd);
}

static long c_pread(void *ctx, int fd, void *buf, size_t n, uint64_t off)
{
    return ceph_read(ctx, fd, buf, (int64_t)n, (int64_t)off);
}

static long c_pwrite(void *ctx, int fd, const void *buf, size_t n, uint64_t off)
{
    return ceph_write(ctx, fd, buf, (int64_t)n, (int64_t)off);
}

static int c_fsync(void *ctx, int fd)
{
    return ceph_fsync(ctx, fd, 0);
}

static int c_size(void *ctx, const char *path, uint64_t *size)
{
    struct ceph_statx stx;
    int rc = ceph_statx(ctx, path, &stx, CEPH_STATX_SIZE, 0);

    *size = rc == 0 ? stx.stx_size : 0;
    return rc;
}

static int c_stat(void *ctx, const char *path)
{
    struct ceph_statx stx;

    return ceph_statx(ctx, path, &stx, CEPH_STATX_BASIC_STATS, 0);
}

static int c_mkdir(void *ctx, const char *path)
{
    int rc = ceph_mkdirs(ctx, path, 0755);

    return rc == -EEXIST ? 0 : rc;
}

static const struct fsops cephfs_ops = {c_open,  c_close, c_pread, c_pwrite,
                                        c_fsync, c_size,  c_stat,  c_mkdir};

static int neg(long rc)
{
    return rc < 0 ? -errno : (int)rc;
}

static int p_open(void *ctx, const char *path, int flags, mode_t mode)
{
    (void)ctx;
    return neg(open(path, flags, mode));
}

static int p_close(void *ctx, int fd)
{
    (void)ctx;
    return neg(close(fd));
}

static long p_pread(void *ctx, int fd, void *buf, size_t n, uint64_t off)
{
    ssize_t r = pread(fd, buf, n, (off_t)off);

    (void)ctx;
    return r < 0 ? -errno : r;
}

static long p_pwrite(void *ctx, int fd, const void *buf, size_t n, uint64_t off)
{
    ssize_t r = pwrite(fd, buf, n, (off_t)off);

    (void)ctx;
    return r < 0 ? -errno : r;
}

static int p_fsync(void *ctx, int fd)
{
    (void)ctx;
    return neg(fsync(fd));
}

static int p_size(void *ctx, const char *path, uint64_t *size)
{
    struct stat st;
    int rc = neg(stat(path, &st));

    (void)ctx;
    *size = rc == 0 ? (uint64_t)st.st_size : 0;
    return rc;
}

static int p_stat(void *ctx, const char *path)
{
    struct stat st;

    (void)ctx;
    return neg(stat(path, &st));
}

static int p_mkdir(void *ctx, const char *path)
{
    int rc = neg(mkdir(path, 0755));

    (void)ctx;
    return rc == -EEXIST ? 0 : rc;
}

static const struct fsops posix_ops = {p_open,  p_close, p_pread, p_pwrite,
                                       p_fsync, p_size,  p_stat,  p_mkdir};

/* @rel under the target: absolute on libcephfs's mount, under the base directory for POSIX. */
static void path_of(const struct fs *fs, char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void path_of(const struct fs *fs, char *buf, size_t len, const char *fmt, ...)
{
    size_t n = (size_t)snprintf(buf, len, "%s", fs->base ? fs->base : "");
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf + n, len - n, fmt, ap);
    va_end(ap);
}

static struct ceph_mount_info *mount_path(const char *conf, const char *path)
{
    static const char *const quiet[] = {
        "debug_client", "debug_objectcacher", "debug_objecter", "debug_rados",
        "debug_monc",   "debug_journaler",    "debug_auth",     "debug_ms"};
    struct kairos_config *cfg;
    struct kairos_error err = {0};
    struct ceph_mount_info *cm;
    int rc;

    if (kairos_config_load(conf, &cfg, &err) < 0) {
        fprintf(stderr, "bench_fs: %s\n", err.msg);
        exit(1);
    }
    rc = ceph_create(&cm, cfg->ceph.client + strlen("client."));
    if (rc == 0)
        rc = ceph_conf_read_file(cm, cfg->ceph.conf);
    if (rc == 0 && cfg->ceph.keyring)
        rc = ceph_conf_set(cm, "keyring", cfg->ceph.keyring);
    /* kairosfs's client settings (fuse/connect.c): the same client, without FUSE. */
    for (size_t i = 0; rc == 0 && i < sizeof(quiet) / sizeof(quiet[0]); i++)
        rc = ceph_conf_set(cm, quiet[i], "0/0");
    if (rc == 0)
        rc = ceph_select_filesystem(cm, cfg->pools.cephfs_name);
    if (rc == 0)
        rc = ceph_mount(cm, path);
    if (rc < 0)
        die("mount", rc);
    kairos_config_free(cfg);
    return cm;
}

/* ---- the workloads ---- */

static void report(uint64_t ops, uint64_t bytes, double seconds)
{
    printf("{\"ops\": %" PRIu64 ", \"seconds\": %.3f, \"iops\": %.1f, \"bw_bytes\": %.0f}\n", ops,
           seconds, (double)ops / seconds, (double)bytes / seconds);
}

static char *io_buf(size_t len, char fill)
{
    /* O_DIRECT wants aligned memory. */
    char *buf = aligned_alloc(4096, (len + 4095) / 4096 * 4096);

    if (!buf)
        die("memory", ENOMEM);
    memset(buf, fill, len);
    return buf;
}

/* @direct: O_DIRECT, as fio's direct=1; else through the caches and their read-ahead. */
static int sequential(const struct fs *fs, const char *file, uint64_t size, uint64_t bs, bool write,
                      bool direct)
{
    char path[4096], *buf = io_buf(bs, 'w');
    uint64_t done = 0, ops = 0;
    long n = 0;
    double t0;
    int fd;

    path_of(fs, path, sizeof(path), "%s", file);
    if (!write && (n = fs->ops->size(fs->ctx, path, &size)) < 0)
        die(path, (int)n);
    fd = fs->ops->open(fs->ctx, path,
                       (write ? O_WRONLY | O_CREAT | O_TRUNC : O_RDONLY) | (direct ? O_DIRECT : 0),
                       0644);
    if (fd < 0)
        die(path, fd);
    t0 = now_s();
    while (done < size) {
        n = write ? fs->ops->pwrite(fs->ctx, fd, buf, bs, done)
                  : fs->ops->pread(fs->ctx, fd, buf, bs, done);
        if (n <= 0)
            break;
        done += (uint64_t)n;
        ops++;
    }
    /* fio's end_fsync=1: the time includes making the data durable. */
    if (n > 0 && write)
        n = fs->ops->fsync(fs->ctx, fd);
    if (n < 0)
        die(write ? "write" : "read", (int)n);
    report(ops, done, now_s() - t0);
    fs->ops->close(fs->ctx, fd);
    free(buf);
    return 0;
}

struct job {
    const struct fs *fs;
    char path[4096];
    uint64_t size, bs;
    double seconds;
    bool write;
    unsigned seed;
    uint64_t ops;
    int rc;
};

/* Give @j's file its size, as fio lays files out before a job; not timed. */
static int layout(struct job *j)
{
    const struct fs *fs = j->fs;
    char *buf;
    uint64_t size;
    int fd, rc = 0;

    if (fs->ops->size(fs->ctx, j->path, &size) == 0 && size >= j->size)
        return 0;
    fd = fs->ops->open(fs->ctx, j->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return fd;
    buf = io_buf(MiB, 'l');
    for (uint64_t off = 0; rc >= 0 && off < j->size; off += MiB)
        rc = (int)fs->ops->pwrite(fs->ctx, fd, buf, MiB, off);
    if (rc >= 0)
        rc = fs->ops->fsync(fs->ctx, fd);
    fs->ops->close(fs->ctx, fd);
    free(buf);
    return rc < 0 ? rc : 0;
}

/* Random blocks of @bs over the job's file for @seconds, as fio's randread/randwrite. */
static void *random_io(void *arg)
{
    struct job *j = arg;
    const struct fs *fs = j->fs;
    uint64_t blocks = j->size / j->bs;
    char *buf = io_buf(j->bs, 'r');
    double end = now_s() + j->seconds;
    int fd = fs->ops->open(fs->ctx, j->path, (j->write ? O_WRONLY : O_RDONLY) | O_DIRECT, 0);

    if (fd < 0) {
        j->rc = fd;
        free(buf);
        return NULL;
    }
    while (now_s() < end) {
        uint64_t off = (uint64_t)rand_r(&j->seed) % blocks * j->bs;
        long n = j->write ? fs->ops->pwrite(fs->ctx, fd, buf, j->bs, off)
                          : fs->ops->pread(fs->ctx, fd, buf, j->bs, off);
        if (n < 0) {
            j->rc = (int)n;
            break;
        }
        j->ops++;
    }
    fs->ops->close(fs->ctx, fd);
    free(buf);
    return NULL;
}

static int random_jobs(const struct fs *fs, const char *dir, uint64_t size, uint64_t bs,
                       double seconds, unsigned njobs, bool write)
{
    struct job *jobs = calloc(njobs, sizeof(*jobs));
    pthread_t *threads = calloc(njobs, sizeof(*threads));
    uint64_t ops = 0;
    double t0;
    int rc;

    if (!jobs || !threads || !njobs)
        die("jobs", ENOMEM);
    for (unsigned i = 0; i < njobs; i++) {
        jobs[i] = (struct job){.fs = fs,
                               .size = size / njobs / bs * bs,
                               .bs = bs,
                               .seconds = seconds,
                               .write = write,
                               .seed = 1234 + i};
        path_of(fs, jobs[i].path, sizeof(jobs[i].path), "%s/rand.%u.0", dir, i);
        rc = layout(&jobs[i]);
        if (rc < 0)
            die(jobs[i].path, rc);
    }
    t0 = now_s();
    for (unsigned i = 0; i < njobs; i++)
        pthread_create(&threads[i], NULL, random_io, &jobs[i]);
    for (unsigned i = 0; i < njobs; i++) {
        pthread_join(threads[i], NULL);
        if (jobs[i].rc < 0)
            die(write ? "random write" : "random read", jobs[i].rc);
        ops += jobs[i].ops;
    }
    report(ops, ops * bs, now_s() - t0);
    free(jobs);
    free(threads);
    return 0;
}

static int create_files(const struct fs *fs, const char *dir, unsigned nfiles)
{
    char path[4096];
    double t0;
    int rc;

    path_of(fs, path, sizeof(path), "%s", dir);
    rc = fs->ops->mkdir(fs->ctx, path);
    if (rc < 0)
        die(path, rc);
    t0 = now_s();
    for (unsigned i = 0; i < nfiles; i++) {
        path_of(fs, path, sizeof(path), "%s/" META_JOB ".0.%u", dir, i);
        int fd = fs->ops->open(fs->ctx, path, O_WRONLY | O_CREAT, 0644);
        if (fd < 0)
            die(path, fd);
        fs->ops->close(fs->ctx, fd);
    }
    report(nfiles, 0, now_s() - t0);
    return 0;
}

static int stat_files(const struct fs *fs, const char *dir, unsigned nfiles, double seconds)
{
    char path[4096];
    uint64_t ops = 0;
    double t0 = now_s(), end = t0 + seconds;

    while (now_s() < end) {
        path_of(fs, path, sizeof(path), "%s/" META_JOB ".0.%u", dir, (unsigned)(ops % nfiles));
        int rc = fs->ops->stat(fs->ctx, path);
        if (rc < 0)
            die(path, rc);
        ops++;
    }
    report(ops, 0, now_s() - t0);
    return 0;
}

/* argv: WORKLOAD ARGS... */
static int workload(const struct fs *fs, int argc, char **argv)
{
    const char *w = argv[0];

    if (strcmp(w, "seqwrite") == 0 && argc == 4)
        return sequential(fs, argv[1], parse_size(argv[2]), parse_size(argv[3]), true, true);
    if (strcmp(w, "seqread") == 0 && argc == 3)
        return sequential(fs, argv[1], 0, parse_size(argv[2]), false, true);
    if (strcmp(w, "bufread") == 0 && argc == 3)
        return sequential(fs, argv[1], 0, parse_size(argv[2]), false, false);
    if ((strcmp(w, "randread") == 0 || strcmp(w, "randwrite") == 0) && argc == 6)
        return random_jobs(fs, argv[1], parse_size(argv[2]), parse_size(argv[3]), atof(argv[4]),
                           (unsigned)atoi(argv[5]), strcmp(w, "randwrite") == 0);
    if (strcmp(w, "create") == 0 && argc == 3)
        return create_files(fs, argv[1], (unsigned)atoi(argv[2]));
    if (strcmp(w, "stat") == 0 && argc == 4)
        return stat_files(fs, argv[1], (unsigned)atoi(argv[2]), atof(argv[3]));
    fprintf(stderr, "bench_fs: bad workload (see bench/bench_fs.c)\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct fs fs = {0};
    int rc;

    if (argc == 6 && strcmp(argv[1], "provision") == 0)
        return provision(argv[2], argv[3], argv[4], parse_size(argv[5]));
    if (argc == 4 && strcmp(argv[1], "delete") == 0)
        return delete_project(argv[2], argv[3]);
    if (argc >= 5 && strcmp(argv[1], "direct") == 0) {
        fs.ops = &cephfs_ops;
        fs.ctx = mount_path(argv[2], argv[3]);
        rc = workload(&fs, argc - 4, argv + 4);
        ceph_unmount(fs.ctx);
        ceph_release(fs.ctx);
        return rc;
    }
    if (argc >= 4 && strcmp(argv[1], "posix") == 0) {
        fs.ops = &posix_ops;
        fs.base = argv[2];
        return workload(&fs, argc - 3, argv + 3);
    }
    fprintf(stderr, "usage: bench_fs provision CONF PROJECT SHARE BYTES\n"
                    "       bench_fs delete CONF PROJECT\n"
                    "       bench_fs direct CONF PATH WORKLOAD ARGS...\n"
                    "       bench_fs posix DIR WORKLOAD ARGS...   (see bench/bench_fs.c)\n");
    return 2;
}
