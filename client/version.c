/*
 * version.c - kairos_version(): the version this libkairos-client was built as,
 * for programs that must tell it from the headers they were compiled with.
 */
#include <kairos/version.h>

const char *kairos_version(void)
{
    return KAIROS_VERSION_STRING;
}
