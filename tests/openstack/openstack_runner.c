/*
 * openstack_runner.c - run one Python test of the OpenStack drivers
 * (contrib/openstack) against a kairosd of its own on the fixture's cluster.
 *
 *   openstack_runner test_cinder.py
 *
 * Starts kairosd as the gateway tests do (kd.c: a free port, the test's
 * admin token), writes the token to a file the drivers read, runs the test
 * module with Debian's python3 and the real cinder/manila packages, then
 * stops kairosd with SIGTERM. Fails when the Python test fails or kairosd
 * does not stop cleanly. The Python side finds everything in its
 * environment: KAIROS_URL, KAIROS_TOKEN_FILE and the cluster's KAIROS_CONF.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kd.h"

static void die(const char *what)
{
    fprintf(stderr, "FATAL: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Run @module with python3 in TESTS_DIR; Return: its exit status. */
static int run_python(const char *module)
{
    int status;
    pid_t pid = fork();

    if (pid < 0)
        die("fork");
    if (pid == 0) {
        if (chdir(TESTS_DIR) != 0)
            die("chdir " TESTS_DIR);
        execl(PYTHON, PYTHON, "-m", "unittest", "-v", module, (char *)NULL);
        die("exec " PYTHON);
    }
    if (waitpid(pid, &status, 0) != pid)
        die("waitpid");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/kairos-openstack.XXXXXX", token[64], url[64], module[128];
    struct kd kd;
    FILE *f;
    int rc, stop;

    if (argc != 2 || strlen(argv[1]) >= sizeof(module) || !strstr(argv[1], ".py")) {
        fprintf(stderr, "usage: %s test_MODULE.py\n", argv[0]);
        return 2;
    }
    /* "test_cinder.py" as the module unittest imports. */
    snprintf(module, sizeof(module), "%.*s", (int)(strlen(argv[1]) - 3), argv[1]);
    kd_start(&kd, KAIROSD_BINARY);
    if (!mkdtemp(dir))
        die("mkdtemp");
    snprintf(token, sizeof(token), "%s/token", dir);
    f = fopen(token, "w");
    if (!f)
        die(token);
    fprintf(f, "%s\n", KD_ADMIN_TOKEN);
    fclose(f);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", kd.port);
    setenv("KAIROS_URL", url, 1);
    setenv("KAIROS_TOKEN_FILE", token, 1);
    setenv("PYTHONPATH", DRIVERS_DIR ":" TESTS_DIR, 1);
    /* The source tree stays clean: no __pycache__ next to the drivers. */
    setenv("PYTHONDONTWRITEBYTECODE", "1", 1);
    /* Zed on Python 3.11 warns at every import; the test's own output matters. */
    setenv("PYTHONWARNINGS", "ignore::DeprecationWarning", 1);
    rc = run_python(module);
    stop = kd_stop(&kd);
    unlink(token);
    rmdir(dir);
    if (rc != 0)
        fprintf(stderr, "FAIL: %s exited %d\n", argv[1], rc);
    if (stop != 0)
        fprintf(stderr, "FAIL: kairosd exited %d after SIGTERM\n", stop);
    return rc != 0 || stop != 0;
}
