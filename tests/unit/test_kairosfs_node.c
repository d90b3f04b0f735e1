/*
 * test_kairosfs_node.c - kairosfs's inode table: one node per libcephfs
 * Inode, lookup counts that the kernel's forgets bring to zero, the index
 * by inode number that cache invalidations use, growth, and node ids that
 * a process started again understands: decoded, revived, and share slots
 * that do not depend on order (fuse/node.c).
 * The table never looks inside an Inode, so plain addresses stand in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node.h"

#define MANY 20000

static char inodes[MANY]; /* distinct addresses for fake Inodes */
static char client_a, client_b;

#define HEAD ((uint64_t)-2) /* libcephfs's CEPH_NOSNAP */

static struct Inode *inode(size_t i)
{
    return (struct Inode *)(void *)&inodes[i];
}

static unsigned puts_seen;

static void count_put(struct kfs_node *n)
{
    (void)n;
    puts_seen++;
}

static void lookups_and_forgets(void **state)
{
    struct kfs_nodes t;
    struct kfs_node *n, *again;
    bool dup;

    (void)state;
    assert_int_equal(kfs_nodes_init(&t), 0);
    n = kfs_node_get(&t, NULL, &client_a, inode(1), 100, 1, HEAD, &dup);
    assert_non_null(n);
    assert_false(dup);
    assert_int_equal(n->kind, KFS_NODE_CEPH);
    /* The same Inode again (a second name, a second lookup): the same node. */
    again = kfs_node_get(&t, NULL, &client_a, inode(1), 100, 1, HEAD, &dup);
    assert_ptr_equal(again, n);
    assert_true(dup);
    kfs_node_ref(&t, n);
    assert_int_equal(n->nlookup, 3);
    assert_false(kfs_node_forget(&t, n, 2));
    assert_true(kfs_node_forget(&t, n, 1));
    kfs_node_free(n);
    /* Gone: a new lookup makes a new node. */
    n = kfs_node_get(&t, NULL, &client_a, inode(1), 100, 1, HEAD, &dup);
    assert_false(dup);
    /* Forgetting more than was looked up forgets all. */
    assert_true(kfs_node_forget(&t, n, 5));
    kfs_node_free(n);
    puts_seen = 0;
    kfs_nodes_destroy(&t, count_put);
    assert_int_equal(puts_seen, 0);
}

static void inode_number_index(void **state)
{
    struct kfs_nodes t;
    uint64_t found[4];
    bool dup;

    (void)state;
    assert_int_equal(kfs_nodes_init(&t), 0);
    /* A file and its snapshot: two Inodes, one number. Another client's 7 apart. */
    struct kfs_node *head = kfs_node_get(&t, NULL, &client_a, inode(1), 7, 1, HEAD, &dup);
    struct kfs_node *snap = kfs_node_get(&t, NULL, &client_a, inode(2), 7, 1, 3, &dup);
    kfs_node_get(&t, NULL, &client_b, inode(3), 7, 1, HEAD, &dup);
    assert_int_equal(kfs_nodes_find_ino(&t, &client_a, 7, found, 4), 2);
    assert_true((found[0] == head->id && found[1] == snap->id) ||
                (found[1] == head->id && found[0] == snap->id));
    assert_int_not_equal(head->id, snap->id);
    assert_int_equal(kfs_nodes_find_ino(&t, &client_a, 7, found, 1), 1);
    assert_int_equal(kfs_nodes_find_ino(&t, &client_b, 8, found, 4), 0);
    puts_seen = 0;
    kfs_nodes_destroy(&t, count_put);
    assert_int_equal(puts_seen, 3);
}

static void grows(void **state)
{
    struct kfs_nodes t;
    struct kfs_node **nodes = calloc(MANY, sizeof(*nodes));
    uint64_t found;
    bool dup;

    (void)state;
    assert_non_null(nodes);
    assert_int_equal(kfs_nodes_init(&t), 0);
    for (size_t i = 0; i < MANY; i++)
        nodes[i] = kfs_node_get(&t, NULL, &client_a, inode(i), 1000 + i, 1, HEAD, &dup);
    assert_true(t.nbuckets > 4096);
    for (size_t i = 0; i < MANY; i++) {
        assert_ptr_equal(kfs_node_get(&t, NULL, &client_a, inode(i), 1000 + i, 1, HEAD, &dup),
                         nodes[i]);
        assert_true(dup);
        assert_int_equal(kfs_nodes_find_ino(&t, &client_a, 1000 + i, &found, 1), 1);
        assert_int_equal(found, nodes[i]->id);
    }
    for (size_t i = 0; i < MANY; i += 2) {
        assert_true(kfs_node_forget(&t, nodes[i], 2));
        kfs_node_free(nodes[i]);
    }
    assert_int_equal(t.count, MANY / 2);
    puts_seen = 0;
    kfs_nodes_destroy(&t, count_put);
    assert_int_equal(puts_seen, MANY / 2);
    free(nodes);
}

/* What an id says without the table: a new process finds the inode again from it. */
static void ids_outlive_the_process(void **state)
{
    struct kfs_nodes t;
    struct kfs_node *head, *snap, *snapdir, *big, *n;
    uint64_t snapid, ino, id;
    unsigned slot;
    bool dup;

    (void)state;
    assert_int_equal(kfs_nodes_init(&t), 0);
    head = kfs_node_get(&t, NULL, &client_a, inode(1), 0x10000000123ULL, 17, HEAD, &dup);
    snap = kfs_node_get(&t, NULL, &client_a, inode(2), 0x10000000123ULL, 17, 5, &dup);
    snapdir = kfs_node_get(&t, NULL, &client_a, inode(3), 0x10000000123ULL, 17, (uint64_t)-1, &dup);
    /* A snapshot id past what the id holds: a counter, not found again after a restart. */
    big = kfs_node_get(&t, NULL, &client_a, inode(4), 0x10000000123ULL, 17, 1000, &dup);
    assert_true(kfs_id_decode(head->id, &slot, &snapid, &ino));
    assert_int_equal(slot, 17);
    assert_int_equal(snapid, HEAD);
    assert_int_equal(ino, 0x10000000123ULL);
    assert_true(kfs_id_decode(snap->id, &slot, &snapid, &ino));
    assert_int_equal(snapid, 5);
    assert_true(kfs_id_decode(snapdir->id, &slot, &snapid, &ino));
    assert_int_equal(snapid, (uint64_t)-1);
    assert_false(kfs_id_decode(big->id, &slot, &snapid, &ino));
    /* Fixed nodes (slot 0) are not share inodes. */
    assert_false(kfs_id_decode(1, &slot, &snapid, &ino));
    assert_ptr_equal(kfs_node_find(&t, snap->id), snap);
    assert_null(kfs_node_find(&t, head->id + 1));
    id = snap->id;
    kfs_nodes_destroy(&t, count_put);

    /* A new table (a new process): the id comes back as the same node for any lookup. */
    assert_int_equal(kfs_nodes_init(&t), 0);
    n = kfs_node_revive(&t, NULL, &client_a, inode(9), 0x10000000123ULL, id, &dup);
    assert_non_null(n);
    assert_false(dup);
    assert_int_equal(n->id, id);
    assert_ptr_equal(kfs_node_find(&t, id), n);
    /* The kernel's count died with the process before: no forget frees it. */
    assert_false(kfs_node_forget(&t, n, 1000000));
    assert_ptr_equal(kfs_node_get(&t, NULL, &client_a, inode(9), 0x10000000123ULL, 17, 5, &dup), n);
    assert_true(dup);
    puts_seen = 0;
    kfs_nodes_destroy(&t, count_put);
    assert_int_equal(puts_seen, 1);
}

/* On a new mount slots depend on the names only: the same set in another order, the same slots. */
static void slots_are_stable(void **state)
{
    char a[4][16] = {"home", "data", "scratch", "x"};
    char b[4][16] = {"x", "scratch", "home", "data"};
    struct kfs_slot_map *ma = calloc(1, sizeof(*ma)), *mb = calloc(1, sizeof(*mb));
    unsigned sa[4], sb[4];

    (void)state;
    kfs_slots_assign(ma, a[0], sizeof(a[0]), 4, sa);
    kfs_slots_assign(mb, b[0], sizeof(b[0]), 4, sb);
    assert_int_equal(sa[0], sb[2]);
    assert_int_equal(sa[1], sb[3]);
    assert_int_equal(sa[2], sb[1]);
    assert_int_equal(sa[3], sb[0]);
    for (int i = 0; i < 4; i++) {
        assert_in_range(sa[i], 1, KFS_ID_SLOTS);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(sa[i], sa[j]);
    }
    free(ma);
    free(mb);
}

/* A name added while mounted gets the slot a new mount would give it, and keeps it. */
static void slot_of_an_added_name(void **state)
{
    char name[1][16] = {"late"};
    struct kfs_slot_map *fresh = calloc(1, sizeof(*fresh)), *m = calloc(1, sizeof(*m));
    unsigned alone;

    (void)state;
    kfs_slots_assign(fresh, name[0], sizeof(name[0]), 1, &alone);
    assert_int_equal(kfs_slot_pick(m, "late"), alone);
    assert_int_equal(kfs_slot_pick(m, "late"), alone);
    /* Every slot taken by other names: none left. */
    memset(m, 0xa5, sizeof(*m));
    assert_int_equal(kfs_slot_pick(m, "late"), 0);
    free(fresh);
    free(m);
}

/* Where a name would go on a new mount: its home slot. */
static unsigned home_of(const char *name)
{
    struct kfs_slot_map *m = calloc(1, sizeof(*m));
    char one[1][16];
    unsigned s;

    snprintf(one[0], sizeof(one[0]), "%s", name);
    kfs_slots_assign(m, one[0], sizeof(one[0]), 1, &s);
    free(m);
    return s;
}

/*
 * Two names that share a home slot: the second is pushed to the next. When
 * the first is deleted and the daemon starts again, the second keeps its
 * slot (the kernel holds node ids in it), and a third name of the same
 * home takes neither.
 */
static void slots_outlive_what_came_and_went(void **state)
{
    static unsigned home[KFS_ID_SLOTS + 1][2];
    char pair[2][16] = {"", ""}, third[16] = "";
    struct kfs_slot_map *m = calloc(1, sizeof(*m));
    unsigned s[2], again, t;

    (void)state;
    /* Pigeonholes: among KFS_ID_SLOTS + 1 names two share a home. */
    for (unsigned i = 0; i <= KFS_ID_SLOTS + 1 && !pair[1][0]; i++) {
        char n[16];
        snprintf(n, sizeof(n), "n%u", i);
        unsigned h = home_of(n);
        if (home[h][0] && !pair[0][0]) {
            snprintf(pair[0], sizeof(pair[0]), "n%u", home[h][0] - 1);
            snprintf(pair[1], sizeof(pair[1]), "%s", n);
        } else if (!home[h][0]) {
            home[h][0] = i + 1;
        }
    }
    assert_true(pair[1][0]);
    kfs_slots_assign(m, pair[0], sizeof(pair[0]), 2, s);
    assert_int_not_equal(s[0], s[1]);
    /* Which one was pushed off the home slot depends on name order. */
    int pushed = s[0] == home_of(pair[0]) ? 1 : 0;
    assert_int_equal(s[1 - pushed], home_of(pair[0]));

    /* A restart after the one at home was deleted: the other keeps its slot. */
    kfs_slots_assign(m, pair[pushed], sizeof(pair[pushed]), 1, &again);
    assert_int_equal(again, s[pushed]);

    /* A third name of the same home takes neither slot. */
    for (unsigned i = KFS_ID_SLOTS + 2; !third[0]; i++) {
        char n[16];
        snprintf(n, sizeof(n), "n%u", i);
        if (home_of(n) == home_of(pair[0]))
            snprintf(third, sizeof(third), "%s", n);
    }
    t = kfs_slot_pick(m, third);
    assert_in_range(t, 1, KFS_ID_SLOTS);
    assert_int_not_equal(t, s[0]);
    assert_int_not_equal(t, s[1]);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lookups_and_forgets),
        cmocka_unit_test(inode_number_index),
        cmocka_unit_test(grows),
        cmocka_unit_test(ids_outlive_the_process),
        cmocka_unit_test(slots_are_stable),
        cmocka_unit_test(slot_of_an_added_name),
        cmocka_unit_test(slots_outlive_what_came_and_went),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
