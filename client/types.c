/*
 * types.c - names of kinds and the unlimited quota (see kairos/types.h).
 */
#include <kairos/types.h>

#include <errno.h>
#include <string.h>

static const char *const kind_names[KAIROS_KIND_COUNT] = {
    [KAIROS_VOLUME] = "volume",
    [KAIROS_SHARE] = "share",
    [KAIROS_BUCKET] = "bucket",
    [KAIROS_SNAPSHOT] = "snapshot",
};

const char *kairos_kind_name(enum kairos_kind kind)
{
    if ((unsigned)kind >= KAIROS_KIND_COUNT)
        return "?";
    return kind_names[kind];
}

int kairos_kind_parse(const char *s, enum kairos_kind *out)
{
    for (int k = 0; s && k < KAIROS_KIND_COUNT; k++) {
        if (strcmp(kind_names[k], s) == 0) {
            *out = (enum kairos_kind)k;
            return 0;
        }
    }
    return -EINVAL;
}

void kairos_quota_unlimited(struct kairos_quota *q)
{
    for (int k = 0; k < KAIROS_KIND_COUNT; k++) {
        q->kind[k].bytes = KAIROS_UNLIMITED;
        q->kind[k].count = KAIROS_UNLIMITED;
    }
    q->total_bytes = KAIROS_UNLIMITED;
}
