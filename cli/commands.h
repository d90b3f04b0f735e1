/*
 * commands.h - kairosctl's commands, each a REST call or a few, printed as
 * a table or, with --json, as the server's JSON.
 */
#ifndef KAIROSCTL_COMMANDS_H
#define KAIROSCTL_COMMANDS_H

#include <stdbool.h>

#include "ctl.h"

/* Run the command in @argv (its name first). Return: an exit code (ctl.h). */
int commands_run(struct ctl *c, int argc, char **argv);

/* Does @argv ask for a command's --help (no server needed)? */
bool commands_wants_help(int argc, char **argv);

#endif
