/*
 * test_config.c - the shared config file: values, defaults and errors with
 * file and line.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <kairos/config.h>

#include "tmpfile.h"

/* Load @text; expect @rc, and on error a message containing @needle. */
static struct kairos_config *load(const char *text, int want_rc, const char *needle)
{
    const char *path = tmpfile_with("kairos.conf", text);
    struct kairos_config *cfg = NULL;
    struct kairos_error err = {0};
    int rc = kairos_config_load(path, &cfg, &err);

    if (rc != want_rc || (needle && !strstr(err.msg, needle)))
        fail_msg("load: rc %d (want %d), message '%s' (want '%s')", rc, want_rc, err.msg,
                 needle ? needle : "");
    if (rc < 0)
        assert_null(cfg);
    tmpfile_remove(path);
    return cfg;
}

static void full_config(void **state)
{
    struct kairos_config *cfg = load("# a comment\n"
                                     "[ceph]\n"
                                     "conf = /etc/ceph/ceph.conf\n"
                                     "client = client.kairos\n"
                                     "keyring = keys/kairos.keyring\n"
                                     "timeout = 10s\n"
                                     "[pools]\n"
                                     "metadata = meta\n"
                                     "block = volumes\n"
                                     "cephfs_data = fsdata\n"
                                     "cephfs_name = hpcfs\n"
                                     "share_root = /projects/kairos\n"
                                     "[rgw]\n"
                                     "endpoint = https://rgw.example.org:8443\n"
                                     "access_key = AK\n"
                                     "secret_key = SK\n"
                                     "[server]\n"
                                     "listen = 0.0.0.0:9443\n"
                                     "tls_cert = tls/cert.pem\n"
                                     "tls_key = /etc/kairos/key.pem\n"
                                     "tokens = tokens\n"
                                     "max_body = 64K\n"
                                     "threads = 16\n"
                                     "request_timeout = 45s\n"
                                     "[reconcile]\n"
                                     "lease = 2m\n"
                                     "interval = 30s\n",
                                     0, NULL);
    (void)state;
    assert_string_equal(cfg->ceph.conf, "/etc/ceph/ceph.conf");
    assert_string_equal(cfg->ceph.client, "client.kairos");
    /* Relative paths are relative to the config file's directory. */
    assert_non_null(strstr(cfg->ceph.keyring, "/keys/kairos.keyring"));
    assert_true(cfg->ceph.keyring[0] == '/');
    assert_true(cfg->ceph.timeout_ms == 10000);
    assert_string_equal(cfg->pools.metadata, "meta");
    assert_string_equal(cfg->pools.share_root, "/projects/kairos");
    assert_string_equal(cfg->rgw.endpoint, "https://rgw.example.org:8443");
    assert_string_equal(cfg->rgw.region, "default");
    assert_string_equal(cfg->server.listen, "0.0.0.0:9443");
    assert_true(cfg->server.max_body == 65536);
    assert_true(cfg->server.threads == 16);
    assert_true(cfg->server.request_timeout_ms == 45000);
    assert_true(cfg->reconcile.lease_ms == 120000);
    assert_true(cfg->reconcile.interval_ms == 30000);
    kairos_config_free(cfg);
}

static void defaults(void **state)
{
    struct kairos_config *cfg = load("[ceph]\nconf = /etc/ceph/ceph.conf\n", 0, NULL);

    (void)state;
    assert_string_equal(cfg->ceph.client, "client.admin");
    assert_null(cfg->ceph.keyring);
    assert_string_equal(cfg->pools.metadata, "kairos_meta");
    assert_string_equal(cfg->pools.block, "rbd");
    assert_string_equal(cfg->pools.share_root, "/kairos");
    assert_null(cfg->rgw.endpoint);
    assert_string_equal(cfg->server.listen, "127.0.0.1:8080");
    assert_true(cfg->server.max_body == 1024 * 1024);
    assert_true(cfg->server.request_timeout_ms == 30000);
    assert_string_equal(cfg->client.url, "http://127.0.0.1:8080");
    assert_null(cfg->policy.capacity);
    assert_string_equal(cfg->log.format, "text");
    kairos_config_free(cfg);
    cfg = load("[ceph]\nconf = /c\n[log]\nformat = json\n", 0, NULL);
    assert_string_equal(cfg->log.format, "json");
    kairos_config_free(cfg);
}

static void errors_name_file_and_line(void **state)
{
    (void)state;
    load("[ceph]\nconf = /c\nfoo = 1\n", -EINVAL, "kairos.conf:3: unknown key 'foo' in [ceph]");
    load("[ceph]\nconf = /c\n\n[cepf]\nconf = /c\n", -EINVAL, ":5: unknown section [cepf]");
    load("conf = /c\n", -EINVAL, ":1: key 'conf' is outside any [section]");
    load("[ceph]\nconf = /c\ntimeout = soon\n", -EINVAL,
         ":3: [ceph] timeout: 'soon' is not a positive duration");
    load("[ceph]\nconf = /c\ntimeout = 0s\n", -EINVAL, ":3: [ceph] timeout");
    load("[ceph]\nconf = /c\n[server]\nmax_body = -1\n", -EINVAL, ":4: [server] max_body");
    load("[ceph]\nconf = /c\n[server]\nthreads = 0\n", -EINVAL, ":4: [server] threads");
    load("[ceph]\nconf = /c\n[server]\nthreads = 1K\n", -EINVAL, ":4: [server] threads");
    load("[ceph]\nconf = /c\n[server]\nlisten = localhost\n", -EINVAL, ":4: [server] listen");
    load("[ceph]\nconf = /c\n[server]\nlisten = :80\n", -EINVAL, ":4: [server] listen");
    load("[ceph]\nconf = /c\n[server]\nlisten = h:99999\n", -EINVAL, ":4: [server] listen");
    load("[ceph]\nconf = /c\n[rgw]\nendpoint = ftp://x\n", -EINVAL, ":4: [rgw] endpoint");
    load("[ceph]\nconf = /c\nclient = admin\n", -EINVAL, ":3: [ceph] client");
    load("[ceph]\nconf = /c\n[pools]\nshare_root = kairos\n", -EINVAL, ":4: [pools] share_root");
    load("[ceph]\nconf = /c\n[pools]\nshare_root = /a/../b\n", -EINVAL, ":4:");
    load("[ceph]\nconf = /c\n[pools]\nshare_root = /a/\n", -EINVAL, ":4:");
    load("[ceph]\nconf = /c\n[pools]\nblock = a b\n", -EINVAL, ":4: [pools] block");
    load("[ceph]\nconf = /c\nconf = /d\n", -EINVAL,
         ":3: [ceph] conf is set twice (first on line 2)");
    load("[ceph]\nconf =\n", -EINVAL, ":2: [ceph] conf: empty value");
    load("[ceph\nconf = /c\n", -EINVAL, ":1: syntax error");
    load("[ceph]\nconf = /c\n[pools]\n[ceph]\n", -EINVAL,
         ":4: section [ceph] appears twice (first on line 1)");
    load("[ceph]\nconf /c\n", -EINVAL, ":2: syntax error");
}

static void whole_file_rules(void **state)
{
    (void)state;
    load("[pools]\nblock = rbd\n", -EINVAL, "kairos.conf: [ceph] conf is required");
    load("[ceph]\nconf = /c\n[server]\ntls_cert = /x\n", -EINVAL,
         "tls_cert and tls_key go together");
    load("[ceph]\nconf = /c\n[server]\nbroker_user = u\n", -EINVAL,
         "broker_user and broker_password");
    load("[ceph]\nconf = /c\n[rgw]\nendpoint = http://h:1\n", -EINVAL, "needs access_key");
    load("[ceph]\nconf = /c\n[log]\nformat = xml\n", -EINVAL,
         "[log] format must be text or json, not 'xml'");
}

static void long_line(void **state)
{
    char text[1024];

    (void)state;
    snprintf(text, sizeof(text), "[ceph]\nconf = /c\nkeyring = /%0400d\n", 0);
    load(text, -EINVAL, ":3: line longer than");
}

static void unreadable(void **state)
{
    struct kairos_config *cfg = NULL;
    struct kairos_error err = {0};

    (void)state;
    assert_int_equal(kairos_config_load("/nonexistent/kairos.conf", &cfg, &err), -ENOENT);
    assert_null(cfg);
    assert_non_null(strstr(err.msg, "/nonexistent/kairos.conf: cannot read"));
    kairos_config_free(NULL);
}

/* The config the kairosd package installs as /etc/kairos/kairos.conf loads as it is. */
static void shipped_config(void **state)
{
    struct kairos_config *cfg = NULL;
    struct kairos_error err = {0};

    (void)state;
    if (kairos_config_load(KAIROS_SOURCE_DIR "/deploy/kairos.conf", &cfg, &err) < 0)
        fail_msg("deploy/kairos.conf: %s", err.msg);
    assert_string_equal(cfg->ceph.conf, "/etc/ceph/ceph.conf");
    assert_string_equal(cfg->ceph.client, "client.kairos");
    assert_string_equal(cfg->server.tokens, "/etc/kairos/tokens");
    assert_string_equal(cfg->policy.plans, "/etc/kairos/plans.ini");
    assert_null(cfg->rgw.endpoint);
    kairos_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_config),
        cmocka_unit_test(defaults),
        cmocka_unit_test(errors_name_file_and_line),
        cmocka_unit_test(whole_file_rules),
        cmocka_unit_test(long_line),
        cmocka_unit_test(unreadable),
        cmocka_unit_test(shipped_config),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
