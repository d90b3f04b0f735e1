/*
 * test_kairosfs_node.c - kairosfs's inode table: one node per libcephfs
 * Inode, lookup counts that the kernel's forgets bring to zero, the index
 * by inode number that cache invalidations use, and growth (fuse/node.c).
 * The table never looks inside an Inode, so plain addresses stand in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "node.h"

#define MANY 20000

static char inodes[MANY]; /* distinct addresses for fake Inodes */
static char client_a, client_b;

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
    n = kfs_node_get(&t, NULL, &client_a, inode(1), 100, &dup);
    assert_non_null(n);
    assert_false(dup);
    assert_int_equal(n->kind, KFS_NODE_CEPH);
    /* The same Inode again (a second name, a second lookup): the same node. */
    again = kfs_node_get(&t, NULL, &client_a, inode(1), 100, &dup);
    assert_ptr_equal(again, n);
    assert_true(dup);
    kfs_node_ref(&t, n);
    assert_int_equal(n->nlookup, 3);
    assert_false(kfs_node_forget(&t, n, 2));
    assert_true(kfs_node_forget(&t, n, 1));
    kfs_node_free(n);
    /* Gone: a new lookup makes a new node. */
    n = kfs_node_get(&t, NULL, &client_a, inode(1), 100, &dup);
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
    struct kfs_node *head = kfs_node_get(&t, NULL, &client_a, inode(1), 7, &dup);
    struct kfs_node *snap = kfs_node_get(&t, NULL, &client_a, inode(2), 7, &dup);
    kfs_node_get(&t, NULL, &client_b, inode(3), 7, &dup);
    assert_int_equal(kfs_nodes_find_ino(&t, &client_a, 7, found, 4), 2);
    assert_true((found[0] == (uintptr_t)head && found[1] == (uintptr_t)snap) ||
                (found[1] == (uintptr_t)head && found[0] == (uintptr_t)snap));
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
        nodes[i] = kfs_node_get(&t, NULL, &client_a, inode(i), 1000 + i, &dup);
    assert_true(t.nbuckets > 4096);
    for (size_t i = 0; i < MANY; i++) {
        assert_ptr_equal(kfs_node_get(&t, NULL, &client_a, inode(i), 1000 + i, &dup), nodes[i]);
        assert_true(dup);
        assert_int_equal(kfs_nodes_find_ino(&t, &client_a, 1000 + i, &found, 1), 1);
        assert_int_equal(found, (uintptr_t)nodes[i]);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lookups_and_forgets),
        cmocka_unit_test(inode_number_index),
        cmocka_unit_test(grows),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
