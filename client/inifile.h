/*
 * inifile.h - inih with line numbers, for the config and policy files.
 *
 * inih reports only the line of the first error and does not tell a handler
 * which line it is on. This wrapper feeds inih line by line, so every
 * handler knows its line and every error reads "FILE:LINE: message".
 */
#ifndef KAIROS_INI_H
#define KAIROS_INI_H

#include <stddef.h>

#include <kairos/error.h>

/*
 * Called for each key. Return 0 to go on, or a negative errno after
 * writing a message (without file and line) into @msg.
 */
typedef int (*kairos_ini_handler)(void *user, const char *section, const char *key,
                                  const char *value, unsigned line, char *msg, size_t msg_len);

/*
 * kairos_ini_parse() - parse @path, calling @handler for each key.
 *
 * Return: 0; -ENOENT/-EACCES if @path cannot be read; -EINVAL for a syntax
 * error, a line longer than the parser takes, or a handler error. @err gets
 * "PATH:LINE: message" for the first error.
 */
int kairos_ini_parse(const char *path, kairos_ini_handler handler, void *user,
                     struct kairos_error *err);

/*
 * kairos_path_resolve() - @value made absolute against the directory of
 * @base_file when it is relative. Return: a malloc'ed string, or NULL.
 */
char *kairos_path_resolve(const char *base_file, const char *value);

#endif
