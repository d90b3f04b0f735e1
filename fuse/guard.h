/*
 * guard.h - no request waits on a lost cluster for ever.
 *
 * librados and librbd give up on monitor and OSD operations after
 * rados_mon_op_timeout / rados_osd_op_timeout, but a libcephfs metadata
 * request waits for an active MDS without any limit. So every FUSE request
 * that goes to Ceph is a "call" with a deadline, and a watchdog thread
 * answers ETIMEDOUT for one that passes it: the application's system call
 * returns, though the worker thread stays inside Ceph until Ceph returns.
 *
 * A deadline that passes also marks the call's health domain (one Ceph
 * client) down. While it is down, new requests on it are answered
 * ETIMEDOUT at once instead of tying up one more worker thread each; a
 * prober thread asks the cluster again every second and marks the domain
 * up as soon as it answers.
 *
 *   struct kfs_call c;
 *   if (!kfs_call_begin(g, &c, req, health, 1))
 *       return;                   // answered already: the domain is down
 *   rc = ceph_ll_...(...);
 *   if (!kfs_call_end(g, &c, rc)) {
 *       release what the call made; // answered ETIMEDOUT meanwhile
 *       return;
 *   }
 *   reply with rc
 *
 * Thread-safe. A struct kfs_call lives until kfs_call_end() (on the stack
 * of a synchronous handler, in the heap for an asynchronous one).
 */
#ifndef KFS_GUARD_H
#define KFS_GUARD_H

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* One Ceph client whose requests fail together when the cluster is lost. */
struct kfs_health {
    char name[128]; /* for messages: "CephFS /kairos/p", "RBD rbd/p" */
    /* Ask the cluster something small; 0 when it answered. May block. */
    int (*probe)(void *arg);
    void *probe_arg;
    atomic_bool down;
    bool probing; /* a prober thread runs; guarded by the guard's lock */
};

/*
 * One share or volume, which the mount may have to let go of while it
 * runs (refresh.h): its binding revoked, or the allocation deleted. Every
 * use of its Ceph handles is between kfs_gate_enter() and kfs_gate_leave()
 * (a call of the guard does both), so that once it is cut and idle no
 * thread uses them any more and they can be closed.
 */
struct kfs_gate {
    atomic_int cut;    /* 0, or the negative errno every request gets from now on */
    atomic_uint users; /* uses in progress */
};

/* kfs_gate_enter() - start a use of @g. Return: 0, or the errno it was cut with (no use begun). */
int kfs_gate_enter(struct kfs_gate *g);
/* kfs_gate_leave() - end a use begun by kfs_gate_enter(). */
void kfs_gate_leave(struct kfs_gate *g);
/* kfs_gate_cut() - refuse every later use with @rc (negative); the first cut's errno stays. */
void kfs_gate_cut(struct kfs_gate *g, int rc);
/* kfs_gate_idle() - cut, and no use in progress: nothing touches its handles again. */
bool kfs_gate_idle(struct kfs_gate *g);

struct kfs_call {
    fuse_req_t req;
    struct kfs_health *health;
    struct kfs_gate *gate; /* left at kfs_call_end(); NULL for none */
    uint64_t deadline_ms;
    bool answered; /* guarded by the guard's lock */
    struct kfs_call *prev, *next;
};

struct kfs_guard {
    uint64_t timeout_ms; /* 0: no deadlines */
    struct fuse_session *se;
    /*
     * Set before requests flow, or NULL: called (from any thread, Ceph's
     * own included) when Ceph says a client is blocklisted (ESHUTDOWN),
     * as the broker does on unbind, so that the mount asks at once
     * whether a binding was revoked (refresh.h).
     */
    void (*blocklisted)(void *arg);
    void *blocklisted_arg;

    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct kfs_call calls; /* list head of calls in flight */
    unsigned probers;      /* prober threads running */
    bool stop;
    bool running;
    pthread_t watchdog;
    uint64_t exit_seen_ms; /* when the session was first seen exiting */
};

/*
 * kfs_guard_start() - start the watchdog.
 * @timeout_ms: the deadline of a call of weight 1; 0 turns deadlines off.
 * @se:         the session; when it starts to exit and the process has not
 *              finished within twice the deadline (workers stuck in a lost
 *              cluster), the watchdog unmounts and ends the process.
 * Return: 0 or a negative errno from pthread_create().
 */
int kfs_guard_start(struct kfs_guard *g, uint64_t timeout_ms, struct fuse_session *se);

/*
 * kfs_guard_stop() - stop the watchdog and wait up to the deadline for
 * prober threads to leave Ceph.
 * Return: true when no thread of the guard is inside Ceph any more (Ceph
 * handles may be torn down), false otherwise.
 */
bool kfs_guard_stop(struct kfs_guard *g);

/*
 * kfs_call_begin() - start a call on @health with a deadline of @weight
 * times the timeout (fsync, which may flush a lot, weighs more).
 * Return: true to go ahead; false when @health is down, in which case @req
 * has been answered with ETIMEDOUT.
 */
bool kfs_call_begin(struct kfs_guard *g, struct kfs_call *c, fuse_req_t req,
                    struct kfs_health *health, unsigned weight);

/*
 * kfs_call_begin_on() - kfs_call_begin() of a call that uses the handles
 * of @gate's share or volume: refused with the gate's errno once it is cut.
 */
bool kfs_call_begin_on(struct kfs_guard *g, struct kfs_call *c, fuse_req_t req,
                       struct kfs_health *health, struct kfs_gate *gate, unsigned weight);

/*
 * kfs_call_end() - the call returned @rc from Ceph; -ETIMEDOUT (Ceph's
 * own timeout) marks the domain down as a passed deadline does.
 * Return: true when the caller must reply to the request; false when the
 * watchdog answered it already (the caller then releases what the call
 * made and does not touch the request).
 */
bool kfs_call_end(struct kfs_guard *g, struct kfs_call *c, int rc);

/* kfs_now_ms() - CLOCK_MONOTONIC in milliseconds. */
uint64_t kfs_now_ms(void);

#endif
