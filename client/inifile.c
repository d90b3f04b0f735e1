/*
 * inifile.c - inih driven one line at a time, so errors carry line numbers.
 */
#include "inifile.h"

#include <errno.h>
#include <ini.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct section_seen {
    char name[64];
    unsigned line;
};

struct ini_state {
    FILE *file;
    struct section_seen *sections; /* every [section] header so far */
    size_t nsections;
    unsigned line; /* line the parser is on, 1-based */
    bool at_line_start;
    kairos_ini_handler handler;
    void *user;
    /* The first error seen by the reader or a handler. */
    int rc;
    unsigned err_line;
    char msg[KAIROS_ERROR_MSG_MAX / 2];
};

static void fail(struct ini_state *st, int rc)
{
    if (st->rc == 0) {
        st->rc = rc;
        st->err_line = st->line;
    }
}

/* inih does not report headers to handlers, so a repeated [section] is caught here. */
static void note_section(struct ini_state *st, const char *line)
{
    const char *p = line + strspn(line, " \t");
    const char *end;
    struct section_seen *grown;
    size_t len;

    if (*p != '[' || !(end = strchr(p, ']')))
        return;
    len = (size_t)(end - p - 1);
    if (len >= sizeof(st->sections[0].name))
        return;
    for (size_t i = 0; i < st->nsections; i++) {
        if (strlen(st->sections[i].name) == len && strncmp(st->sections[i].name, p + 1, len) == 0) {
            snprintf(st->msg, sizeof(st->msg), "section [%.*s] appears twice (first on line %u)",
                     (int)len, p + 1, st->sections[i].line);
            fail(st, -EINVAL);
            return;
        }
    }
    grown = realloc(st->sections, (st->nsections + 1) * sizeof(*grown));
    if (!grown) {
        snprintf(st->msg, sizeof(st->msg), "out of memory");
        fail(st, -ENOMEM);
        return;
    }
    st->sections = grown;
    memcpy(grown[st->nsections].name, p + 1, len);
    grown[st->nsections].name[len] = '\0';
    grown[st->nsections++].line = st->line;
}

static char *reader(char *str, int num, void *stream)
{
    struct ini_state *st = stream;
    char *s = fgets(str, num, st->file);
    size_t len;

    if (!s)
        return NULL;
    if (st->at_line_start) {
        st->line++;
        if (st->rc == 0)
            note_section(st, s);
    }
    len = strlen(s);
    st->at_line_start = len > 0 && s[len - 1] == '\n';
    /* A partial line means inih would read its rest as a line of its own. */
    if (!st->at_line_start && !feof(st->file) && st->rc == 0) {
        snprintf(st->msg, sizeof(st->msg), "line longer than %d characters", num - 3);
        fail(st, -EINVAL);
    }
    return s;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct ini_state *st = user;
    int rc;

    if (st->rc < 0)
        return 1;
    rc = st->handler(st->user, section, name, value, st->line, st->msg, sizeof(st->msg));
    if (rc < 0)
        fail(st, rc);
    return 1;
}

int kairos_ini_parse(const char *path, kairos_ini_handler cb, void *user, struct kairos_error *err)
{
    struct ini_state st = {.at_line_start = true, .handler = cb, .user = user};
    int syntax_line;

    st.file = fopen(path, "r");
    if (!st.file)
        return kairos_error_set(err, -errno, "%s: cannot read: %s", path, strerror(errno));
    /* Handlers always return success, so inih's answer is its first syntax error. */
    syntax_line = ini_parse_stream(reader, &st, handler, &st);
    fclose(st.file);
    free(st.sections);
    if (syntax_line < 0)
        return kairos_error_set(err, -ENOMEM, "%s: out of memory while parsing", path);
    if (syntax_line > 0 && (st.rc == 0 || (unsigned)syntax_line < st.err_line))
        return kairos_error_set(err, -EINVAL,
                                "%s:%d: syntax error (expected [section] or key = value)", path,
                                syntax_line);
    if (st.rc < 0)
        return kairos_error_set(err, st.rc, "%s:%u: %s", path, st.err_line, st.msg);
    return 0;
}

char *kairos_path_resolve(const char *base_file, const char *value)
{
    const char *slash;
    char *out;
    size_t dir_len;

    if (value[0] == '/' || !(slash = strrchr(base_file, '/')))
        return strdup(value);
    dir_len = (size_t)(slash - base_file);
    out = malloc(dir_len + 1 + strlen(value) + 1);
    if (out)
        sprintf(out, "%.*s/%s", (int)dir_len, base_file, value);
    return out;
}
