/* lazylib.c - a shared library loaded on first use (lazylib.h) */
#include <dlfcn.h>

#include "error.h"
#include "lazylib.h"

int mg_lazy_load(void **lib, const char *soname, const char *what,
		 const struct mg_lazy_sym *syms, size_t n, struct mg_error *err)
{
	void *h;

	if (*lib)
		return MG_OK;
	if (!(h = dlopen(soname, RTLD_NOW | RTLD_LOCAL)))
		return mg_error_set(err, MG_ERROR, "cannot load %s: %s", what, dlerror());
	for (size_t i = 0; i < n; i++)
		if (!(*syms[i].slot = dlsym(h, syms[i].name))) {
			dlclose(h);
			return mg_error_set(err, MG_ERROR, "%s has no %s", soname, syms[i].name);
		}
	*lib = h;
	return MG_OK;
}
