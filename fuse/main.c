/*
 * main.c - kairosfs: mount a project's shares and volumes on a compute node.
 *
 *   kairosfs -o creds=FILE MOUNTPOINT                  the bindings in FILE
 *   kairosfs -o conf=kairos.conf,project=P MOUNTPOINT  as the config's admin
 *   ... -o share=NAME or -o volume=NAME                only that share or volume
 *
 * Reads the options, finds the credentials (source.c), connects to the
 * cluster (connect.c), mounts, and serves FUSE requests on several threads
 * until unmounted or sent SIGTERM, SIGINT or SIGHUP; then unmounts and
 * closes the Ceph clients, which writes back what they still hold.
 *
 * Without -f it runs as a daemon, but only once mounted: until then errors
 * go to the terminal and the exit status says whether the mount worked.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fuse_lowlevel.h>
#include <kairos/kairos.h>
#include <kairos/token.h>

#include "fs.h"
#include "broker.h"
#include "log.h"
#include "owed.h"
#include "refresh.h"
#include "restart.h"
#include "source.h"
#include "supervise.h"

#define DEFAULT_CONF       "/etc/kairos/kairos.conf"
#define DEFAULT_TIMEOUT_MS 30000
/*
 * The kernel reads ahead 128 KiB on a FUSE mount; a larger window keeps
 * several 1 MiB reads in flight for a sequential reader. Set through sysfs
 * (as root) once the mount has answered INIT: the kernel lowers the window
 * to what it offered in INIT when that answer arrives.
 */
#define DEFAULT_READAHEAD_KB 4096
/* How often a mount asks for its project's allocations and bindings (refresh.h). */
#define DEFAULT_REFRESH_S 5
#define MIN_REFRESH_S     0.1
#define MAX_REFRESH_S     86400.0

struct cli {
    char *creds;
    char *conf;
    char *project;
    char *url;        /* kairosd, to fetch credentials with a token */
    char *token_file; /* the project token for @url */
    char *cacert;     /* CAs that sign @url's certificate; NULL: $KAIROS_CACERT, the system's */
    char *share;      /* mount this share alone (kairos-csi stages a share so) */
    char *volume;     /* or this volume alone */
    double timeout;   /* seconds; < 0: the config's, or the default */
    double attr_timeout;
    double entry_timeout;
    double negative_timeout;
    int readahead_kb; /* < 0: the default */
    double refresh;   /* seconds between refreshes (refresh.h); 0: never */
    int writeback;
    int no_keep_cache;
    int supervise; /* hold the connection in a supervisor; restart the daemon (restart.h) */
    int noresend;  /* after a restart, fail what the dead daemon owed (EIO), as before Linux 6.9 */
};

#define CLI_OPT(t, field, value)                                                                   \
    {                                                                                              \
        t, offsetof(struct cli, field), value                                                      \
    }

static const struct fuse_opt cli_opts[] = {
    CLI_OPT("creds=%s", creds, 0),
    CLI_OPT("--creds=%s", creds, 0),
    CLI_OPT("--creds %s", creds, 0),
    CLI_OPT("conf=%s", conf, 0),
    CLI_OPT("--conf=%s", conf, 0),
    CLI_OPT("--conf %s", conf, 0),
    CLI_OPT("url=%s", url, 0),
    CLI_OPT("--url=%s", url, 0),
    CLI_OPT("--url %s", url, 0),
    CLI_OPT("token_file=%s", token_file, 0),
    CLI_OPT("--token-file=%s", token_file, 0),
    CLI_OPT("--token-file %s", token_file, 0),
    CLI_OPT("cacert=%s", cacert, 0),
    CLI_OPT("--cacert=%s", cacert, 0),
    CLI_OPT("--cacert %s", cacert, 0),
    CLI_OPT("project=%s", project, 0),
    CLI_OPT("--project=%s", project, 0),
    CLI_OPT("--project %s", project, 0),
    CLI_OPT("share=%s", share, 0),
    CLI_OPT("--share=%s", share, 0),
    CLI_OPT("--share %s", share, 0),
    CLI_OPT("volume=%s", volume, 0),
    CLI_OPT("--volume=%s", volume, 0),
    CLI_OPT("--volume %s", volume, 0),
    CLI_OPT("timeout=%lf", timeout, 0),
    CLI_OPT("attr_timeout=%lf", attr_timeout, 0),
    CLI_OPT("entry_timeout=%lf", entry_timeout, 0),
    CLI_OPT("negative_timeout=%lf", negative_timeout, 0),
    CLI_OPT("readahead_kb=%d", readahead_kb, 0),
    CLI_OPT("refresh=%lf", refresh, 0),
    CLI_OPT("--refresh=%lf", refresh, 0),
    CLI_OPT("--refresh %lf", refresh, 0),
    /* Its name before it also followed new and deleted allocations. */
    CLI_OPT("recheck=%lf", refresh, 0),
    CLI_OPT("writeback", writeback, 1),
    CLI_OPT("no_keep_cache", no_keep_cache, 1),
    CLI_OPT("supervise", supervise, 1),
    CLI_OPT("--supervise", supervise, 1),
    CLI_OPT("noresend", noresend, 1),
    FUSE_OPT_END,
};

static void usage(const char *prog)
{
    printf("usage: %s [options] MOUNTPOINT\n"
           "\n"
           "Mount a Kairos project's storage: /shares/<share> (CephFS) and\n"
           "/volumes/<volume> (RBD images as files).\n"
           "\n"
           "Where the credentials come from (one of):\n"
           "    -o creds=FILE, --creds FILE    bindings' credentials (JSON, see README)\n"
           "    -o project=NAME, --project NAME\n"
           "                                   the project's storage, reached with the\n"
           "                                   [ceph] identity of the config\n"
           "    -o conf=FILE, --conf FILE      that config (default " DEFAULT_CONF ")\n"
           "    -o project=NAME,url=URL,token_file=FILE\n"
           "                                   bind the project's shares and volumes\n"
           "                                   through kairosd with a project token\n"
           "                                   (or $KAIROS_TOKEN), as this node\n"
           "    -o cacert=FILE                 CAs to trust for an https:// URL\n"
           "                                   (default $KAIROS_CACERT, the system's)\n"
           "    -o share=NAME, -o volume=NAME  that share or volume alone (with kairosd,\n"
           "                                   only that one is bound)\n"
           "    -o refresh=SECONDS, --refresh SECONDS\n"
           "                                   with project=: ask kairosd (or the ledger)\n"
           "                                   this often for the project's shares and\n"
           "                                   volumes: new ones appear, deleted ones\n"
           "                                   vanish (ESTALE for files still open), and\n"
           "                                   one whose binding is revoked (unbind, token\n"
           "                                   refused, project deleted) answers EACCES\n"
           "                                   from then on; kairosd unreachable changes\n"
           "                                   nothing (default 5; 0: never; recheck= is\n"
           "                                   the old name)\n"
           "\n"
           "Users: a mount made by root is for every user of the node (allow_other),\n"
           "and the kernel checks each one's permissions (default_permissions); the\n"
           "top of a share is mode 1777 unless made otherwise, so that no user removes\n"
           "another's files there. A mount made by another user is that user's alone.\n"
           "\n"
           "kairosfs options:\n"
           "    -o timeout=SECONDS             give up on a request to Ceph after this\n"
           "                                   (ETIMEDOUT); default: the config's [ceph]\n"
           "                                   timeout, or 30; 0 waits for ever\n"
           "    -o attr_timeout=SECONDS        kernel attribute cache (default 1)\n"
           "    -o entry_timeout=SECONDS       kernel name cache (default 1)\n"
           "    -o negative_timeout=SECONDS    kernel cache of missing names (default 0)\n"
           "    -o readahead_kb=KB             kernel read-ahead for sequential reads\n"
           "                                   (default 4096; 0 keeps the kernel's)\n"
           "    -o writeback                   kernel writeback cache (faster small\n"
           "                                   writes; errors show at fsync/close)\n"
           "    -o no_keep_cache               drop cached file data at every open\n"
           "\n"
           "Surviving a restart of the daemon (the mount stays, processes using it\n"
           "wait and go on):\n"
           "    --supervise, -o supervise      a small supervisor holds the mount and\n"
           "                                   starts the daemon again when it dies;\n"
           "                                   SIGUSR1 to the supervisor restarts the\n"
           "                                   daemon from the binary on disk (upgrade);\n"
           "                                   SIGTERM unmounts\n"
           "    -o noresend                    after a restart, fail what the dead\n"
           "                                   daemon had not answered (EIO), as on\n"
           "                                   kernels before 6.9, instead of having\n"
           "                                   the kernel send it again\n"
           "    under systemd (Type=notify, FileDescriptorStoreMax=2 or more) the\n"
           "    daemon keeps the mount in the service's file descriptor store and\n"
           "    takes it back when systemd starts it again after a crash\n"
           "\n",
           prog);
}

/* ---- running as a daemon ---- */

/*
 * Fork before any Ceph thread exists. The parent waits for the child's
 * word on the pipe and exits 0 once the child is mounted, 1 if it failed.
 */
static int daemon_start(int *notify)
{
    int p[2];
    pid_t pid;
    char ok;

    if (pipe(p) < 0)
        return -errno;
    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid > 0) {
        close(p[1]);
        if (read(p[0], &ok, 1) == 1 && ok == 0)
            _exit(0);
        waitpid(pid, NULL, 0);
        _exit(1);
    }
    close(p[0]);
    setsid();
    *notify = p[1];
    return 0;
}

static void daemon_ready(int notify)
{
    int null = open("/dev/null", O_RDWR);
    bool keep_stderr = kfs_log_daemon();
    char ok = 0;

    if (chdir("/") < 0)
        kfs_log(LOG_WARNING, "cannot leave the working directory: %s", strerror(errno));
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        /* Without syslog or a journal, stderr is where the messages go. */
        if (!keep_stderr)
            dup2(null, 2);
        if (null > 2)
            close(null);
    }
    if (notify < 0)
        return;
    if (write(notify, &ok, 1) != 1)
        kfs_log(LOG_WARNING, "cannot tell the starting process that the mount is up");
    close(notify);
}

/* ---- surviving a restart (restart.h) ---- */

static int add_mount_options(struct fuse_args *args, const struct kfs_source *src);

/* Set in the daemons of a supervisor that runs as a daemon: they log as it does. */
#define ENV_DAEMON "KAIROSFS_DAEMON"

static void supervisor_ready(void *arg)
{
    int *notify = arg;

    if (*notify >= 0) {
        daemon_ready(*notify);
        *notify = -1;
    }
    kfs_notify_ready();
}

/* The supervisor: mount, then run daemons on the connection (supervise.h). */
static int run_supervisor(struct fuse_args *args, const struct cli *cli, const char *mountpoint,
                          char *argv[], bool foreground)
{
    static const struct fuse_lowlevel_ops none;
    struct kfs_source named = {.project = cli->project ? cli->project : ""};
    struct kfs_source *src = NULL;
    struct kairos_error err = {0};
    struct fuse_session *se;
    int notify = -1, rc = 1;

    if (!foreground) {
        if (daemon_start(&notify) < 0) {
            kfs_log(LOG_ERR, "cannot start a daemon: %s", strerror(errno));
            return 1;
        }
        setenv(ENV_DAEMON, "1", 1);
    }
    /* A credentials file names its project: the mount's fsname says it. */
    if (cli->creds && kfs_source_from_file(cli->creds, &src, &err) < 0) {
        kfs_log(LOG_ERR, "%s", kairos_error_msg(&err, -EINVAL));
        return 1;
    }
    if (add_mount_options(args, src ? src : &named) < 0)
        goto out;
    se = fuse_session_new(args, &none, sizeof(none), NULL);
    if (!se)
        goto out;
    if (fuse_session_mount(se, mountpoint) == 0)
        rc = kfs_supervise(se, argv, supervisor_ready, &notify);
    fuse_session_destroy(se);
out:
    kfs_source_free(src);
    return rc;
}

/*
 * Note the requests this daemon reads until it answers them (owed.h), in
 * the mount's state @state_fd. Return: how many the daemon before left
 * unanswered, their ids in @left.
 */
static size_t track_owed(struct fuse_session *se, int state_fd, uint64_t *left)
{
    struct kfs_owed *o;
    size_t n = 0;
    int rc = kfs_owed_open(state_fd, &o);

    if (rc == 0) {
        n = kfs_owed_take(o, left, KFS_OWED_SLOTS);
        rc = kfs_owed_attach(se, o);
    }
    if (rc < 0)
        kfs_log(LOG_WARNING,
                "cannot note the requests in hand in the mount's state: %s; after a crash, "
                "on a kernel before 6.9, those wait for ever",
                strerror(-rc));
    return n;
}

/*
 * The requests the daemon before did not answer (@left, @n): the kernel
 * sends them again (Linux 6.9), or, where it cannot or @resend is off,
 * they fail with EIO; either way no caller waits for ever.
 */
static void settle_owed(int fd, const uint64_t *left, size_t n, bool resend)
{
    int rc = resend ? kfs_resend(fd) : -EOPNOTSUPP;

    if (rc == 0)
        return;
    if (resend)
        kfs_log(LOG_WARNING,
                "the kernel cannot send again what the daemon before did not answer "
                "(FUSE_NOTIFY_RESEND, Linux 6.9): %s",
                strerror(-rc));
    if (n)
        kfs_log(LOG_WARNING, "%zu of %zu request(s) the daemon before did not answer fail with EIO",
                kfs_owed_fail(fd, left, n, EIO), n);
}

/*
 * The names' slots (node.h): in the mount's state when there is one, so
 * that a daemon started again gives each name the slot it had; until the
 * state exists (a fresh mount under systemd), this process's own.
 */
static struct kfs_state_slots own_slots;

static void use_slot_maps(struct kfs *fs, const struct kfs_handover *h)
{
    struct kfs_state_slots *m = h->fuse_fd >= 0 ? kfs_state_slots(h->state_fd) : NULL;

    if (h->fuse_fd >= 0 && !m)
        kfs_log(LOG_WARNING,
                "cannot keep the names' slots in the mount's state: %s; after a restart "
                "names that collide may trade node ids",
                strerror(errno));
    if (!m)
        m = &own_slots;
    fs->slots[0] = &m->kind[0];
    fs->slots[1] = &m->kind[1];
}

/* The slots given so far move into the new state @state_fd (before any refresh runs). */
static void keep_slot_maps(struct kfs *fs, int state_fd)
{
    struct kfs_state_slots *m = kfs_state_slots(state_fd);

    if (!m) {
        kfs_log(LOG_WARNING, "cannot keep the names' slots in the mount's state: %s",
                strerror(errno));
        return;
    }
    m->kind[0] = *fs->slots[0];
    m->kind[1] = *fs->slots[1];
    fs->slots[0] = &m->kind[0];
    fs->slots[1] = &m->kind[1];
}

/*
 * Mount, or take the connection a daemon before left (@h), and make the
 * session ready to serve: INIT answered (or replayed), the requests the
 * dead daemon owed settled (settle_owed()), the descriptor kept where the
 * next daemon finds it.
 */
static int attach_connection(struct kfs *fs, struct fuse_session *se, const char *mountpoint,
                             struct kfs_handover *h, bool resend)
{
    static uint64_t left[KFS_OWED_SLOTS];
    unsigned char init[KFS_INIT_MAX];
    char path[32];
    size_t nleft;
    int len, state_fd;

    if (h->fuse_fd < 0) {
        if (fuse_session_mount(se, mountpoint) < 0)
            return -EIO; /* libfuse said why */
        /* Under systemd, the store keeps the connection for a daemon started after a crash. */
        if (!getenv("NOTIFY_SOCKET"))
            return 0;
        len = kfs_init_receive(se, init, sizeof(init));
        if (len < 0) {
            kfs_log(LOG_ERR, "no INIT from the kernel: %s", strerror(-len));
            return len;
        }
        state_fd = kfs_state_new(&h->state, init, (size_t)len);
        if (state_fd >= 0) {
            track_owed(se, state_fd, left);
            keep_slot_maps(fs, state_fd);
        }
        kfs_init_process(se, init, (size_t)len);
        if (state_fd < 0)
            return 0;
        h->state.starts = 1;
        if (kfs_state_write(state_fd, &h->state) < 0 ||
            !kfs_fdstore_put(fuse_session_fd(se), state_fd))
            kfs_log(LOG_WARNING, "systemd keeps no descriptor of this mount "
                                 "(FileDescriptorStoreMax=): a crash unmounts it");
        close(state_fd);
        return 0;
    }
    snprintf(path, sizeof(path), "/dev/fd/%d", h->fuse_fd);
    if (fuse_session_mount(se, path) < 0)
        return -EIO;
    nleft = track_owed(se, h->state_fd, left);
    kfs_init_process(se, h->state.init, h->state.init_len);
    if (h->state.starts++ > 0) {
        settle_owed(h->fuse_fd, left, nleft, resend);
        kfs_log(LOG_INFO, "took over the mount on %s (daemon %u on it)", mountpoint,
                h->state.starts);
    }
    if (kfs_state_write(h->state_fd, &h->state) < 0)
        kfs_log(LOG_WARNING, "cannot record this start in the mount's state");
    return 0;
}

/*
 * Unmount a mount this daemon took from systemd's store: libfuse, which
 * did not mount it, does not know where it is.
 */
static void unmount_taken(const char *mountpoint)
{
    pid_t pid;

    if (umount2(mountpoint, MNT_DETACH) == 0)
        return;
    pid = fork();
    if (pid == 0) {
        execlp("fusermount3", "fusermount3", "-u", "-z", "--", mountpoint, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

/*
 * The volumes' locks that the daemons before held go at once; this
 * daemon's clients join the list the next one reads.
 */
static void remember_clients(struct kfs_handover *h, struct kfs_backends *b)
{
    char mine[KFS_ADDRS][KFS_ADDR_SIZE];
    size_t n = kfs_connect_addrs(b, mine[0], KFS_ADDR_SIZE, KFS_ADDRS), keep;

    if (h->fuse_fd >= 0)
        kfs_connect_break_locks(b, h->state.addrs[0], KFS_ADDR_SIZE, KFS_ADDRS);
    /* Newest first; the oldest fall off. */
    keep = KFS_ADDRS - n;
    memmove(h->state.addrs[n], h->state.addrs[0], keep * KFS_ADDR_SIZE);
    memcpy(h->state.addrs[0], mine[0], n * KFS_ADDR_SIZE);
}

/* Tell whoever waits that the mount serves. */
static void announce_ready(const struct kfs_handover *h, int *notify)
{
    char ok = 0;

    if (*notify >= 0) {
        daemon_ready(*notify);
        *notify = -1;
    } else if (getenv(ENV_DAEMON)) {
        daemon_ready(-1);
    }
    if (h->ready_fd >= 0) {
        if (write(h->ready_fd, &ok, 1) != 1)
            kfs_log(LOG_WARNING, "cannot tell the supervisor that the mount is up");
        close(h->ready_fd);
    }
    /* A supervisor under systemd says so itself. */
    if (h->fuse_fd < 0 || h->systemd)
        kfs_notify_ready();
}

/* ---- the mount ---- */

/* Bind the project's shares and volumes through kairosd, as this node. */
static int source_from_broker(const struct cli *cli, struct kfs_source **src,
                              struct kairos_error *err)
{
    char token[512] = "";
    const char *env = getenv("KAIROS_TOKEN"), *cacert = cli->cacert;
    json_t *root = NULL;
    int rc = 0;

    if (!cli->project)
        return kairos_error_set(err, -EINVAL, "-o url= needs -o project=NAME");
    if (cli->token_file)
        rc = kairos_token_read(cli->token_file, token, sizeof(token), err);
    else if (env && *env)
        snprintf(token, sizeof(token), "%s", env);
    else
        rc = kairos_error_set(err, -EINVAL, "-o url= needs -o token_file=FILE or KAIROS_TOKEN");
    if (!cacert)
        cacert = getenv("KAIROS_CACERT");
    if (!cacert || !*cacert)
        cacert = NULL;
    if (rc == 0 && (cli->share || cli->volume))
        rc = kfs_broker_fetch_one(cli->url, token, cacert, cli->project,
                                  cli->share ? "shares" : "volumes",
                                  cli->share ? cli->share : cli->volume, &root, err);
    else if (rc == 0)
        rc = kfs_broker_fetch(cli->url, token, cacert, cli->project, &root, err);
    explicit_bzero(token, sizeof(token));
    if (rc == 0)
        rc = kfs_source_from_json(cli->url, root, src, err);
    json_decref(root);
    return rc;
}

/* The CAs of kairosd's certificate: -o cacert=, else $KAIROS_CACERT, else the system's (NULL). */
static const char *refresh_cacert(const struct cli *cli)
{
    const char *env = getenv("KAIROS_CACERT");

    return cli->cacert ? cli->cacert : env && *env ? env : NULL;
}

static int load_source(const struct cli *cli, struct kfs_source **src)
{
    struct kairos_error err = {0};
    int rc;

    if (cli->creds)
        rc = kfs_source_from_file(cli->creds, src, &err);
    else if (cli->url)
        rc = source_from_broker(cli, src, &err);
    else
        rc = kfs_source_from_config(cli->conf ? cli->conf : DEFAULT_CONF, cli->project, src, &err);
    /* kairosd bound the one asked for alone; the other sources have them all. */
    if (rc == 0 && (cli->creds || !cli->url) && (cli->share || cli->volume))
        rc = kfs_source_select(*src, cli->share, cli->volume, &err);
    if (rc < 0)
        kfs_log(LOG_ERR, "%s", kairos_error_msg(&err, rc));
    return rc;
}

/* Mount options every kairosfs mount has; the user's, given later, win. */
static int add_mount_options(struct fuse_args *args, const struct kfs_source *src)
{
    char fsname[128];

    snprintf(fsname, sizeof(fsname), "-ofsname=kairos:%s",
             src->project[0] ? src->project : "bindings");
    /*
     * The kernel checks permissions itself, with the caller's groups (see
     * connect.h). A root mount is for every user of the node: allow_other.
     */
    if ((getuid() == 0 && fuse_opt_insert_arg(args, 1, "-oallow_other") < 0) ||
        fuse_opt_insert_arg(args, 1, "-odefault_permissions") < 0 ||
        fuse_opt_insert_arg(args, 1, "-omax_read=1048576") < 0 ||
        fuse_opt_insert_arg(args, 1, fsname) < 0)
        return -ENOMEM;
    return 0;
}

/*
 * Set the read-ahead of the mount at @dir: its backing device is in
 * /proc/self/mountinfo (reading it asks the mount nothing, which could not
 * answer yet). A failure costs speed only.
 */
static void set_readahead(const char *dir, int kb)
{
    char line[4096], dev[64], mnt[4096], path[128];
    FILE *f = fopen("/proc/self/mountinfo", "r");
    bool found = false;

    if (!f)
        return;
    /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT ...": the last match is the newest mount. */
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%*s %*s %63s %*s %4095s", dev, mnt) == 2 && strcmp(mnt, dir) == 0) {
            snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
            found = true;
        }
    }
    fclose(f);
    if (!found || !(f = fopen(path, "w"))) {
        kfs_log(LOG_INFO, "read-ahead left as it was (%s)", found ? strerror(errno) : "no device");
        return;
    }
    fprintf(f, "%d\n", kb);
    if (fclose(f) != 0)
        kfs_log(LOG_INFO, "read-ahead left as it was: %s", strerror(errno));
}

struct readahead {
    char *dir;
    int kb;
};

/* Waits for the mount to answer (a stat() of its root waits for INIT), then sets the window. */
static void *readahead_main(void *arg)
{
    struct readahead *ra = arg;
    struct stat st;

    if (stat(ra->dir, &st) == 0)
        set_readahead(ra->dir, ra->kb);
    free(ra->dir);
    free(ra);
    return NULL;
}

/* Set the read-ahead of the mount at @dir once the loop has answered INIT. */
static void start_readahead(const char *dir, int kb)
{
    struct readahead *ra = malloc(sizeof(*ra));
    pthread_attr_t attr;
    pthread_t t;

    if (!ra || !(ra->dir = strdup(dir))) {
        free(ra);
        return;
    }
    ra->kb = kb;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, readahead_main, ra) != 0) {
        kfs_log(LOG_INFO, "read-ahead left as it was (no thread)");
        free(ra->dir);
        free(ra);
    }
    pthread_attr_destroy(&attr);
}

static int serve(struct fuse_session *se, const struct fuse_cmdline_opts *opts)
{
    struct fuse_loop_config *loop;
    int rc;

    if (opts->singlethread)
        return fuse_session_loop(se);
    loop = fuse_loop_cfg_create();
    if (!loop)
        return -ENOMEM;
    fuse_loop_cfg_set_clone_fd(loop, opts->clone_fd);
    /* UINT_MAX: not given on the command line; libfuse's defaults hold. */
    if (opts->max_idle_threads != UINT_MAX)
        fuse_loop_cfg_set_idle_threads(loop, opts->max_idle_threads);
    if (opts->max_threads != UINT_MAX)
        fuse_loop_cfg_set_max_threads(loop, opts->max_threads);
    rc = fuse_session_loop_mt(se, loop);
    fuse_loop_cfg_destroy(loop);
    return rc;
}

static char connect_late_msg[256];

static void connect_late(int sig)
{
    ssize_t n = write(STDERR_FILENO, connect_late_msg, strlen(connect_late_msg));

    (void)sig;
    (void)n;
    _exit(1);
}

/*
 * ceph_mount() waits for the MDS map forever, whatever client_mount_timeout
 * says, when the key may not read it (a volume's key given as a share's):
 * bound the whole connect instead, one timeout per connection and one spare.
 */
static void connect_deadline(const struct kfs_source *src, uint64_t timeout_ms)
{
    unsigned secs = (unsigned)((timeout_ms + 999) / 1000 * (src->nshares + src->nvolumes + 1));

    snprintf(connect_late_msg, sizeof(connect_late_msg),
             "kairosfs: no answer from Ceph in %u s while connecting; do the credentials' "
             "caps reach what they name?\n",
             secs);
    signal(SIGALRM, connect_late);
    alarm(secs);
}

static uint64_t timeout_ms(const struct cli *cli, const struct kfs_source *src)
{
    if (cli->timeout >= 0)
        return (uint64_t)(cli->timeout * 1000);
    return src->timeout_ms ? src->timeout_ms : DEFAULT_TIMEOUT_MS;
}

int main(int argc, char *argv[])
{
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    struct cli cli = {.timeout = -1,
                      .attr_timeout = 1.0,
                      .entry_timeout = 1.0,
                      .readahead_kb = -1,
                      .refresh = DEFAULT_REFRESH_S};
    struct kfs_refresh refresh = {0};
    struct fuse_cmdline_opts opts = {0};
    struct kairos_error err = {0};
    struct kfs_source *src = NULL;
    struct fuse_session *se = NULL;
    struct kfs fs = {0};
    struct kfs_handover handover = {.fuse_fd = -1, .state_fd = -1, .ready_fd = -1};
    bool connected = false, initialized = false, mounted = false, handlers = false;
    int notify = -1, rc = 1;

    /* Before anything opens a file or a socket (see kairos_std_fds_open()). */
    if (kairos_std_fds_open() < 0)
        return 1;

    if (fuse_opt_parse(&args, &cli, cli_opts, NULL) < 0 || fuse_parse_cmdline(&args, &opts) < 0)
        goto out;
    if (opts.show_help) {
        usage(argv[0]);
        fuse_cmdline_help();
        fuse_lowlevel_help();
        rc = 0;
        goto out;
    }
    if (opts.show_version) {
        printf("kairosfs %s (libkairos %s, libfuse %s)\n", KAIROS_VERSION_STRING, kairos_version(),
               fuse_pkgversion());
        rc = 0;
        goto out;
    }
    if (!opts.mountpoint || (!cli.creds && !cli.project) || (cli.creds && cli.project) ||
        (cli.share && cli.volume)) {
        fprintf(stderr,
                "usage: %s (-o creds=FILE | -o project=NAME[,conf=FILE|,url=URL,token_file=F])"
                " [-o share=NAME | -o volume=NAME] [options] "
                "MOUNTPOINT\n       %s --help for all options\n",
                argv[0], argv[0]);
        rc = 2;
        goto out;
    }
    if (cli.refresh != 0 && !(cli.refresh >= MIN_REFRESH_S && cli.refresh <= MAX_REFRESH_S)) {
        fprintf(stderr, "%s: refresh must be 0 (never) or %g to %g seconds\n", argv[0],
                MIN_REFRESH_S, MAX_REFRESH_S);
        rc = 2;
        goto out;
    }
    /* A daemon before this one may have left a live connection (restart.h). */
    if (kfs_handover_find(&handover) < 0) {
        kfs_log(LOG_ERR, "the connection handed over is not usable");
        goto out;
    }
    if (cli.supervise && handover.fuse_fd < 0) {
        rc = run_supervisor(&args, &cli, opts.mountpoint, argv, opts.foreground);
        goto out;
    }
    /* A daemon started on a handed-over connection: its keeper runs in the background. */
    if (handover.fuse_fd >= 0)
        opts.foreground = 1;
    if (!opts.foreground && daemon_start(&notify) < 0) {
        kfs_log(LOG_ERR, "cannot start a daemon: %s", strerror(errno));
        goto out;
    }
    if (load_source(&cli, &src) < 0)
        goto out;

    fs.opt = (struct kfs_options){.attr_timeout = cli.attr_timeout,
                                  .entry_timeout = cli.entry_timeout,
                                  .negative_timeout = cli.negative_timeout,
                                  .writeback = cli.writeback,
                                  .keep_cache = !cli.no_keep_cache,
                                  .timeout_ms = timeout_ms(&cli, src)};
    if (handover.fuse_fd >= 0) {
        fs.b.uuid = handover.state.uuid;
        fs.b.reclaim = handover.state.starts > 0;
    } else if (getenv("NOTIFY_SOCKET") && kfs_state_uuid(&handover.state) == 0) {
        fs.b.uuid = handover.state.uuid;
    }
    connect_deadline(src, fs.opt.timeout_ms);
    rc = kfs_connect(src, fs.opt.timeout_ms, &fs.b, &err);
    alarm(0);
    signal(SIGALRM, SIG_DFL);
    if (rc < 0) {
        kfs_log(LOG_ERR, "%s", kairos_error_msg(&err, rc));
        rc = 1;
        goto out;
    }
    connected = true;
    rc = 1;
    remember_clients(&handover, &fs.b);
    use_slot_maps(&fs, &handover);
    if (kfs_fs_init(&fs) < 0) {
        kfs_log(LOG_ERR, "out of memory");
        goto out;
    }
    initialized = true;
    if (add_mount_options(&args, src) < 0) {
        kfs_log(LOG_ERR, "out of memory");
        goto out;
    }
    se = fuse_session_new(&args, &kfs_ops, sizeof(kfs_ops), &fs);
    if (!se)
        goto out; /* libfuse said why */
    if (fuse_set_signal_handlers(se) < 0)
        goto out;
    handlers = true;
    if (attach_connection(&fs, se, opts.mountpoint, &handover, !cli.noresend) < 0)
        goto out;
    mounted = true;
    kfs_fs_attach(&fs, se);
    /* Set once, by the daemon that mounted: the kernel keeps it. */
    if (cli.readahead_kb != 0 && handover.fuse_fd < 0)
        start_readahead(opts.mountpoint,
                        cli.readahead_kb < 0 ? DEFAULT_READAHEAD_KB : cli.readahead_kb);
    if (kfs_guard_start(&fs.guard, fs.opt.timeout_ms, se) < 0) {
        kfs_log(LOG_ERR, "cannot start the request watchdog");
        goto out;
    }
    /* A project's mount follows it: new and deleted allocations, revoked bindings. */
    refresh = (struct kfs_refresh){.fs = &fs,
                                   .interval_ms = (uint64_t)(cli.refresh * 1000),
                                   .project = cli.project,
                                   .url = cli.url,
                                   .token_file = cli.token_file,
                                   .cacert = refresh_cacert(&cli),
                                   .conf = cli.conf ? cli.conf : DEFAULT_CONF,
                                   .share = cli.share,
                                   .volume = cli.volume};
    if (cli.project && refresh.interval_ms > 0) {
        if (kfs_refresh_start(&refresh) < 0) {
            kfs_log(LOG_ERR, "cannot start refreshing the mount");
            goto out;
        }
        /* The broker blocklists a client it unbinds: ask kairosd at once. */
        if (cli.url) {
            fs.guard.blocklisted_arg = &refresh;
            fs.guard.blocklisted = kfs_refresh_kick;
        }
    }
    kfs_log(LOG_INFO, "project %s mounted on %s: %zu share(s), %zu volume(s)",
            src->project[0] ? src->project : "(bindings)", opts.mountpoint, fs.b.nshares,
            fs.b.nvolumes);
    announce_ready(&handover, &notify);
    /* A positive value is the signal that ended the loop: a clean exit. */
    rc = serve(se, &opts) < 0 ? 1 : 0;
    kfs_refresh_stop(&refresh);
    /* The watchdog goes first: from here on only this thread unmounts. */
    if (!kfs_guard_stop(&fs.guard)) {
        kfs_log(LOG_ERR, "the cluster does not answer: unmounting and leaving without closing "
                         "its sessions");
        fuse_session_unmount(se);
        _exit(1);
    }
    if (handover.fuse_fd < 0 || handover.systemd) {
        kfs_log(LOG_INFO, "unmounting %s", opts.mountpoint);
        /* A clean stop: a daemon started later mounts afresh. */
        kfs_fdstore_drop();
    }
out:
    kfs_refresh_stop(&refresh);
    if (mounted && handover.systemd)
        unmount_taken(opts.mountpoint);
    else if (mounted)
        fuse_session_unmount(se);
    /*
     * Closing the Ceph clients first ends their invalidation callbacks,
     * which use the node table and the session, and drops every reference
     * the kernel had not forgotten.
     */
    if (connected)
        kfs_disconnect(&fs.b);
    kfs_refresh_free(&refresh);
    if (initialized)
        kfs_fs_destroy(&fs);
    if (handlers)
        fuse_remove_signal_handlers(se);
    if (se)
        fuse_session_destroy(se);
    kfs_source_free(src);
    free(opts.mountpoint);
    fuse_opt_free_args(&args);
    free(cli.creds);
    free(cli.conf);
    free(cli.project);
    free(cli.url);
    free(cli.token_file);
    free(cli.cacert);
    free(cli.share);
    free(cli.volume);
    return rc;
}
