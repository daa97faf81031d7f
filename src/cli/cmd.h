/* cmd.h - the subcommands; each parses its options, calls core, returns an mg_exit */
#ifndef MEMGATE_CLI_CMD_H
#define MEMGATE_CLI_CMD_H

int cmd_accept(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_trace(int argc, char **argv);

/* prints "memgate: <msg>" on stderr */
void mg_die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
