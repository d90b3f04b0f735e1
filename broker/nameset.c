/*
 * nameset.c - a sorted array of names under a mutex (see nameset.h).
 */
#include "nameset.h"

#include <stdlib.h>
#include <string.h>

void kairos_nameset_init(struct kairos_nameset *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
}

void kairos_nameset_destroy(struct kairos_nameset *s)
{
    for (size_t i = 0; i < s->count; i++)
        free(s->names[i]);
    free(s->names);
    pthread_mutex_destroy(&s->lock);
}

/* The index of @name, or where it would go; *@found says which. */
static size_t find(const struct kairos_nameset *s, const char *name, bool *found)
{
    size_t lo = 0, hi = s->count;

    *found = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->names[mid], name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool kairos_nameset_has(struct kairos_nameset *s, const char *name)
{
    bool found;

    pthread_mutex_lock(&s->lock);
    find(s, name, &found);
    pthread_mutex_unlock(&s->lock);
    return found;
}

void kairos_nameset_add(struct kairos_nameset *s, const char *name)
{
    char *copy = NULL;
    size_t at;
    bool found;

    pthread_mutex_lock(&s->lock);
    at = find(s, name, &found);
    if (found)
        goto out;
    if (s->count == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        char **grown = realloc(s->names, cap * sizeof(*grown));
        if (!grown)
            goto out;
        s->names = grown;
        s->cap = cap;
    }
    copy = strdup(name);
    if (!copy)
        goto out;
    memmove(&s->names[at + 1], &s->names[at], (s->count - at) * sizeof(*s->names));
    s->names[at] = copy;
    s->count++;
out:
    pthread_mutex_unlock(&s->lock);
}

void kairos_nameset_remove(struct kairos_nameset *s, const char *name)
{
    size_t at;
    bool found;

    pthread_mutex_lock(&s->lock);
    at = find(s, name, &found);
    if (found) {
        free(s->names[at]);
        memmove(&s->names[at], &s->names[at + 1], (s->count - at - 1) * sizeof(*s->names));
        s->count--;
    }
    pthread_mutex_unlock(&s->lock);
}
