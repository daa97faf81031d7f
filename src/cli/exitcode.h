/* exitcode.h - memgate's exit codes, the same for every command (docs/cli.md) */
#ifndef MEMGATE_CLI_EXITCODE_H
#define MEMGATE_CLI_EXITCODE_H

enum mg_exit {
	MG_EXIT_PASS = 0,        /* measured, and the gate passed */
	MG_EXIT_REGRESSION = 1,  /* the gate failed */
	MG_EXIT_USAGE = 2,       /* usage or configuration error */
	MG_EXIT_ERROR = 3        /* could not measure (untraceable, crash, timeout) or I/O error */
};

#endif
