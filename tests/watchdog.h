/*
 * watchdog.h - the report of a hung test (see watchdog.c), for use on a
 * process the test started.
 */
#ifndef KAIROS_TEST_WATCHDOG_H
#define KAIROS_TEST_WATCHDOG_H

#include <sys/types.h>

/*
 * kt_watchdog_report() - print to stderr the cluster's side
 * ($KAIROS_TEST_WATCHDOG_REPORT with @pid: its Ceph clients' requests
 * included) and the stack of every thread of process @pid. Takes up to a
 * minute or two; the caller goes on afterwards.
 */
void kt_watchdog_report(pid_t pid);

#endif
