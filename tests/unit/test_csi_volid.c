/*
 * test_csi_volid.c - kairos-csi's volume and snapshot ids, the Kairos names
 * it gives CSI names, capabilities and sizes (csi/volid.c, csi/caps.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "caps.h"
#include "volid.h"

#define P63 "abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789abc"

static void round_trip(void **state)
{
    struct csi_volid v = {.kind = KAIROS_SHARE}, back;
    char id[CSI_ID_MAX + 1];

    (void)state;
    strcpy(v.project, "climate");
    strcpy(v.name, "pvc-0b1c");
    csi_volid_format(&v, id);
    assert_string_equal(id, "1sclimate.pvc-0b1c");
    assert_int_equal(csi_volid_parse(id, &back), 0);
    assert_int_equal(back.kind, KAIROS_SHARE);
    assert_string_equal(back.project, "climate");
    assert_string_equal(back.name, "pvc-0b1c");
    assert_string_equal(back.snap, "");
    /* A volume id is no snapshot id, and the other way round. */
    assert_int_equal(csi_snapid_parse(id, &back), -EINVAL);
    v.kind = KAIROS_VOLUME;
    strcpy(v.snap, "snapshot-1");
    csi_snapid_format(&v, id);
    assert_string_equal(id, "1vclimate.pvc-0b1c.snapshot-1");
    assert_int_equal(csi_snapid_parse(id, &back), 0);
    assert_int_equal(back.kind, KAIROS_VOLUME);
    assert_string_equal(back.snap, "snapshot-1");
    assert_int_equal(csi_volid_parse(id, &back), -EINVAL);
    assert_string_equal(csi_kind_path(KAIROS_SHARE), "shares");
    assert_string_equal(csi_kind_path(KAIROS_VOLUME), "volumes");
}

static void bad_ids(void **state)
{
    static const char *bad[] = {
        "",      "1",          "1v",     "1vp",     "1vp.",         "1v.n",
        "2vp.n", "1xp.n",      "1vP.n",  "1vp.N",   "1vp..n",       "1vp.n.",
        "1vp/n", "1vp.n/../x", "1v-p.n", "1vp.n x", "1v" P63 "a.n", /* a project of 64 */
    };
    struct csi_volid v;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (csi_volid_parse(bad[i], &v) == 0)
            fail_msg("'%s' parsed as a volume id", bad[i]);
    assert_int_equal(csi_volid_parse(NULL, &v), -EINVAL);
    assert_int_equal(csi_snapid_parse("1vp.n.", &v), -EINVAL);
    assert_int_equal(csi_snapid_parse("1vp.n.s.t", &v), -EINVAL);
}

/* Names: as given when they fit, else a hash; always the same for the same input. */
static void names(void **state)
{
    char a[KAIROS_NAME_MAX + 1], b[KAIROS_NAME_MAX + 1], id[CSI_ID_MAX + 1];
    struct csi_volid v = {.kind = KAIROS_VOLUME};

    (void)state;
    csi_volume_name("pvc-8e7d1a52-4b3c-4a1e-9f10-0123456789ab", "climate", a);
    assert_string_equal(a, "pvc-8e7d1a52-4b3c-4a1e-9f10-0123456789ab");
    /* Not a Kairos name: hashed, deterministically, per project. */
    csi_volume_name("My_Volume", "climate", a);
    csi_volume_name("My_Volume", "climate", b);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), 36);
    assert_memory_equal(a, "csi-", 4);
    assert_true(kairos_name_valid(a));
    csi_volume_name("My_Volume", "other", b);
    assert_string_not_equal(a, b);
    csi_volume_name("my_volume", "climate", b);
    assert_string_not_equal(a, b);
    /* With the longest project, a CSI name of 40 still fits, with room for snapshots. */
    csi_volume_name("pvc-8e7d1a52-4b3c-4a1e-9f10-0123456789ab", P63, a);
    assert_string_equal(a, "pvc-8e7d1a52-4b3c-4a1e-9f10-0123456789ab");
    csi_volume_name("pvc-8e7d1a52-4b3c-4a1e-9f10-0123456789ab-and-more", P63, a);
    assert_memory_equal(a, "csi-", 4);
    /* And every id stays within CSI's 128 bytes. */
    strcpy(v.project, P63);
    strcpy(v.name, a);
    assert_int_equal(
        csi_snapshot_name("snapshot-8e7d1a52-4b3c-4a1e-9f10-0123456789ab", P63, a, v.snap), 0);
    assert_true(kairos_name_valid(v.snap));
    csi_snapid_format(&v, id);
    assert_true(strlen(id) <= CSI_ID_MAX);
    assert_int_equal(csi_snapid_parse(id, &v), 0);
    /* Short enough: the snapshot keeps its CSI name. */
    assert_int_equal(csi_snapshot_name("snapshot-1", "p", "v", b), 0);
    assert_string_equal(b, "snapshot-1");
    /* A volume name no CSI name gives (too long): no room for snapshots. */
    assert_int_equal(csi_snapshot_name("s", P63, P63, b), -ENAMETOOLONG);
    csi_hash_name("csi-clone-", "p", "v", a);
    assert_int_equal(strlen(a), 42);
    assert_true(kairos_name_valid(a));
}

static Csi__V1__VolumeCapability cap_of(bool block, const char *fs, int mode)
{
    static Csi__V1__VolumeCapability__MountVolume mount;
    static Csi__V1__VolumeCapability__BlockVolume blk;
    static Csi__V1__VolumeCapability__AccessMode am;
    Csi__V1__VolumeCapability c;

    csi__v1__volume_capability__init(&c);
    csi__v1__volume_capability__mount_volume__init(&mount);
    csi__v1__volume_capability__block_volume__init(&blk);
    csi__v1__volume_capability__access_mode__init(&am);
    mount.fs_type = (char *)fs;
    am.mode = mode;
    c.access_mode = &am;
    if (block) {
        c.access_type_case = CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_BLOCK;
        c.block = &blk;
    } else {
        c.access_type_case = CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_MOUNT;
        c.mount = &mount;
    }
    return c;
}

static void capabilities(void **state)
{
    Csi__V1__VolumeCapability c;

    (void)state;
    c = cap_of(false, "", 5); /* RWX file system */
    assert_null(csi_cap_check(KAIROS_SHARE, &c));
    assert_non_null(csi_cap_check(KAIROS_VOLUME, &c));
    assert_true(csi_cap_multi_writer(&c));
    c = cap_of(false, "ext4", 1);
    assert_null(csi_cap_check(KAIROS_VOLUME, &c));
    assert_non_null(csi_cap_check(KAIROS_SHARE, &c)); /* a share takes no fsType */
    assert_string_equal(csi_cap_fs_type(&c), "ext4");
    c = cap_of(false, "", 1);
    assert_string_equal(csi_cap_fs_type(&c), CSI_FS_DEFAULT);
    c = cap_of(false, "xfs", 2);
    assert_null(csi_cap_check(KAIROS_VOLUME, &c));
    assert_true(csi_cap_read_only(&c));
    c = cap_of(false, "btrfs", 1);
    assert_non_null(csi_cap_check(KAIROS_VOLUME, &c));
    c = cap_of(true, "", 5); /* RWX block: for VMs that migrate */
    assert_null(csi_cap_check(KAIROS_VOLUME, &c));
    assert_non_null(csi_cap_check(KAIROS_SHARE, &c));
    c = cap_of(true, "", 0);
    assert_non_null(csi_cap_check(KAIROS_VOLUME, &c));
    c = cap_of(true, "", 8);
    assert_non_null(csi_cap_check(KAIROS_VOLUME, &c));
    c = cap_of(true, "", 1);
    c.access_type_case = CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE__NOT_SET;
    c.block = NULL;
    assert_non_null(csi_cap_check(KAIROS_VOLUME, &c));
}

static uint64_t pick(int64_t req, int64_t lim, int want_rc)
{
    Csi__V1__CapacityRange r = CSI__V1__CAPACITY_RANGE__INIT;
    const char *why = NULL;
    uint64_t out = 0;

    r.required_bytes = req;
    r.limit_bytes = lim;
    if (csi_size_pick(&r, &out, &why) != want_rc)
        fail_msg("pick(%lld, %lld): not %d", (long long)req, (long long)lim, want_rc);
    if (want_rc)
        assert_non_null(why);
    return out;
}

static void sizes(void **state)
{
    const char *why;
    uint64_t out;

    (void)state;
    assert_int_equal(csi_size_pick(NULL, &out, &why), 0);
    assert_int_equal(out, CSI_SIZE_DEFAULT);
    assert_int_equal(pick(1, 0, 0), 1 << 20); /* whole MiB */
    assert_int_equal(pick(5 << 20, 0, 0), 5 << 20);
    assert_int_equal(pick(1000, 8192, 0), 4096);    /* whole 4 KiB under a limit */
    assert_int_equal(pick(1000, 1000, -ERANGE), 0); /* no sector fits */
    assert_int_equal(pick(1000, 1024, 0), 1024);    /* sectors */
    assert_int_equal(pick(0, 100 << 20, 0), 100 << 20);
    assert_int_equal(pick(0, (1LL << 40), 0), CSI_SIZE_DEFAULT);
    assert_int_equal(pick(0, 3 << 20 | 5, 0), 3 << 20);
    pick(2 << 20, 1 << 20, -ERANGE);
    pick(-1, 0, -ERANGE);
    pick(0, -1, -ERANGE);
    Csi__V1__CapacityRange r = CSI__V1__CAPACITY_RANGE__INIT;
    r.required_bytes = 10;
    r.limit_bytes = 20;
    assert_true(csi_size_fits(&r, 15));
    assert_false(csi_size_fits(&r, 21));
    assert_false(csi_size_fits(&r, 9));
    r.limit_bytes = 0;
    assert_true(csi_size_fits(&r, 1ULL << 50));
    assert_true(csi_size_fits(NULL, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),   cmocka_unit_test(bad_ids), cmocka_unit_test(names),
        cmocka_unit_test(capabilities), cmocka_unit_test(sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
