/*
 * tmpfile.h - scratch files for unit tests that read config and policy files.
 */
#ifndef KAIROS_TEST_TMPFILE_H
#define KAIROS_TEST_TMPFILE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Write @text to a new file in a fresh temporary directory; returns its path (static). */
static inline const char *tmpfile_with(const char *name, const char *text)
{
    static char path[512];
    char dir[] = "/tmp/kairos-unit.XXXXXX";
    FILE *f;

    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
    return path;
}

/* Remove the file and its directory. */
static inline void tmpfile_remove(const char *path)
{
    char dir[512];
    char *slash;

    snprintf(dir, sizeof(dir), "%s", path);
    unlink(path);
    slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        rmdir(dir);
    }
}

#endif
