/*
 * fault.h - named points where a crash or stall test stops or kills the
 * broker on purpose.
 *
 * The steps of an operation that a crash must not break (between a Ceph
 * call and the ledger write that follows it, say) are marked with
 * kairos_fault("volume.clone.made"). In a build with fault points
 * (KAIROS_FAULT_POINTS, on in test builds) a process whose environment has
 *
 *   KAIROS_FAULT=<point>=<action>[,<point>=<action>...]
 *
 * acts at the first of those points it reaches: "kill" (SIGKILL to itself)
 * or "stop" (SIGSTOP, for a test that resumes it with SIGCONT later; the
 * resumed process then runs on past every point). "trace" only reports
 * each point it names; "fail" makes a point marked with kairos_fault_error()
 * fail its step with -EIO, every time. "hold:<path>" (a path without
 * ',') holds the thread that reaches the point, and only it, while the
 * file <path> exists (looked for every 5 ms, for 120 s at most), every
 * time: without the file the point costs a stat(). So a test starts a
 * server with the variable set, creates the file to keep a request in
 * flight there, stops a Ceph daemon, then removes the file to let the
 * request run on into the outage. A point ending in '*' matches every
 * point it prefixes.
 * With KAIROS_FAULT_FD=<fd>, each point that acts (or holds) is first
 * written there as one line, so the test knows where its child died. Without the
 * variable, and in other builds, a point costs nothing.
 *
 * Thread safety: safe from any thread; the environment is read at each
 * point, so a test may set it between operations.
 */
#ifndef KAIROS_FAULT_H
#define KAIROS_FAULT_H

#ifdef KAIROS_FAULT_POINTS
void kairos_fault(const char *point);
/* kairos_fault(), and -EIO when the action for @point is "fail" (every time). */
int kairos_fault_error(const char *point);
#else
static inline void kairos_fault(const char *point)
{
    (void)point;
}
static inline int kairos_fault_error(const char *point)
{
    (void)point;
    return 0;
}
#endif

#endif
