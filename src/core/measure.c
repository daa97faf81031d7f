/* measure.c - run one command under the tracer and build its profile */
#define _GNU_SOURCE
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/error.h"
#include "../util/fs.h"
#include "measure.h"
#include "profile.h"

int mg_measure(struct mg_measurement *m, const struct mg_measure_opts *o, struct mg_error *err)
{
	char *path = NULL, *preload = NULL, *dir = NULL, cwd[PATH_MAX];
	int ret;

	memset(m, 0, sizeof(*m));
	if ((ret = mg_check_traceable(&path, o->argv[0], err)) != MG_OK ||
	    (ret = mg_find_preload(&preload, err)) != MG_OK ||
	    (ret = mg_mkdtemp(&dir, "memgate", err)) != MG_OK)
		goto done;

	struct mg_spawn_opts so = {
		.argv = o->argv, .path = path, .cwd = o->cwd, .env = o->env, .preload = preload,
		.trace_dir = dir, .depth = o->depth, .unwind_fp = o->unwind_fp, .timeout_s = o->timeout_s,
		.grace_s = o->grace_s, .own_pgrp = o->own_pgrp, .root_only = o->root_only,
		.log_fd = o->log_fd, .dfl = o->dfl,
	};
	if ((ret = mg_spawn_traced(&m->sr, &so, err)) != MG_OK)
		goto done;
	if ((ret = mg_trace_load(&m->trace, dir, err)) != MG_OK ||
	    (ret = mg_trace_resolve(m->trace, m->sr.reaped, m->sr.n_reaped, err)) != MG_OK)
		goto done;
	if (!mg_trace_find(m->trace, m->sr.root_pid)) {
		ret = mg_error_set(err, MG_EUNTRACEABLE, "cannot trace '%s': it did not load the "
				   "tracer (it may clear LD_PRELOAD, or run a static or setuid "
				   "program)", o->argv[0]);
		goto done;
	}
	struct mg_run_info ri = {
		.name = o->name, .argv = o->argv,
		.cwd = o->cwd ? o->cwd : getcwd(cwd, sizeof(cwd)), .root_pid = m->sr.root_pid,
		.timed_out = m->sr.timed_out, .duration_ms = m->sr.duration_ms,
		.commit = o->commit, .dirty = o->commit ? o->dirty : -1, .symbolizer = o->sym,
		.whole_stacks = o->whole_stacks, .list_frames = o->list_frames,
	};
	m->doc = mg_profile_build(m->trace, &ri);
	ret = m->doc ? MG_OK : mg_error_set(err, MG_ERROR, "out of memory");
done:
	if (dir) {
		if (o->keep_raw) {
			m->raw_dir = dir;
			dir = NULL;
		} else {
			mg_rmtree(dir);
		}
	}
	free(dir);
	free(path);
	free(preload);
	return ret;
}

void mg_measurement_release(struct mg_measurement *m)
{
	cJSON_Delete(m->doc);
	mg_trace_free(m->trace);
	mg_spawn_result_release(&m->sr);
	free(m->raw_dir);
	memset(m, 0, sizeof(*m));
}

int mg_profile_write(const char *path, const cJSON *doc, struct mg_error *err)
{
	char *json = mg_profile_print(doc);
	int ret;
	if (!json)
		return mg_error_set(err, MG_ERROR, "out of memory");
	size_t len = strlen(json);
	json[len] = '\n';                         /* replaces the NUL: write len + 1 bytes */
	ret = mg_write_file_atomic(path, json, len + 1, err);
	cJSON_free(json);
	return ret;
}
