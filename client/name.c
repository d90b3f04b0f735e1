/*
 * name.c - validation of project, allocation and owner names (see kairos/name.h).
 */
#include <kairos/name.h>

#include <errno.h>
#include <string.h>

/* What every message about a bad name says: the pattern of docs/openapi.json. */
#define NAME_RULE "names match [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"

static bool name_char(char c, bool first)
{
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return true;
    return !first && c == '-';
}

bool kairos_name_valid(const char *name)
{
    size_t i;

    if (!name || !name[0])
        return false;
    for (i = 0; name[i]; i++) {
        if (i >= KAIROS_NAME_MAX || !name_char(name[i], i == 0))
            return false;
    }
    return name[i - 1] != '-';
}

int kairos_name_check(const char *name, const char *what, struct kairos_error *err)
{
    size_t i;

    if (!name || !name[0])
        return kairos_error_set(err, -EINVAL, "%s name is empty", what);
    for (i = 0; name[i]; i++) {
        if (i >= KAIROS_NAME_MAX)
            return kairos_error_set(err, -EINVAL, "%s name is longer than %d characters", what,
                                    KAIROS_NAME_MAX);
        if (!name_char(name[i], i == 0))
            return kairos_error_set(err, -EINVAL,
                                    "%s name has a bad character at position %zu: " NAME_RULE, what,
                                    i + 1);
    }
    if (name[i - 1] == '-')
        return kairos_error_set(err, -EINVAL, "%s name ends in '-': " NAME_RULE, what);
    return 0;
}

bool kairos_owner_id_valid(const char *id)
{
    size_t i;

    if (!id || !id[0])
        return false;
    for (i = 0; id[i]; i++) {
        char c = id[i];
        if (i >= KAIROS_OWNER_ID_MAX)
            return false;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("._:/-", c)))
            return false;
    }
    return true;
}
