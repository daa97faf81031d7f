/* lazylib.h - a shared library loaded on first use, its functions into a table
 *
 * libgit2 (core/git.c) and libcurl (github/api.c) are loaded only by the
 * commands that need them: linked, their chains of dependencies cost every
 * memgate command milliseconds of dynamic loading.
 */
#ifndef MEMGATE_UTIL_LAZYLIB_H
#define MEMGATE_UTIL_LAZYLIB_H

#include <stddef.h>

struct mg_error;

struct mg_lazy_sym {
	const char *name;           /* the symbol */
	void **slot;                /* where its address goes (a function pointer's storage) */
};

/*
 * Loads `soname` once (RTLD_NOW | RTLD_LOCAL) into *lib and fills every slot;
 * MG_OK at once when *lib is set.  MG_ERROR when it cannot be loaded
 * ("cannot load <what>: <why>": `what` names the library and its package) or
 * lacks a symbol (nothing is kept loaded then).
 */
int mg_lazy_load(void **lib, const char *soname, const char *what,
		 const struct mg_lazy_sym *syms, size_t n, struct mg_error *err);

#endif
