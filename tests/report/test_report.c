/* test_report.c - the renderers give the same bytes for a profile read from a file and
 * for the document mg_profile_build leaves in memory, whose "stacks" is a raw JSON node
 *
 * usage: test_report PROFILE.json
 *
 * `memgate run` renders the page from the in-memory document; the CLI from
 * the file.  Both must agree: the page and every export are compared.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/baseline.h"
#include "../../src/report/report.h"
#include "../../src/util/error.h"
#include "../../src/util/fs.h"

#include "../harness.h"

static void same(const char *what, char *a, size_t alen, char *b, size_t blen)
{
	if (alen != blen || memcmp(a, b, alen)) {
		fprintf(stderr, "FAIL: %s differs (%zu vs %zu bytes)\n", what, alen, blen);
		failures++;
	}
	free(a);
	free(b);
}

int main(int argc, char **argv)
{
	struct mg_error err = { 0 };
	char *text, *a, *b;
	size_t len, alen, blen;
	cJSON *doc, *raw, *p;

	if (argc != 2 || mg_read_file(&text, &len, argv[1], 1u << 30, &err) != MG_OK ||
	    mg_json_load_doc(&doc, text, len, argv[1], "profile", &err) != MG_OK ||
	    mg_json_load_doc(&raw, text, len, argv[1], "profile", &err) != MG_OK) {
		fprintf(stderr, "usage: test_report PROFILE.json (%s)\n", err.msg);
		return 2;
	}
	free(text);
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(raw, "processes")) {
		char *s = cJSON_PrintUnformatted(cJSON_GetObjectItem(p, "stacks"));
		cJSON_ReplaceItemInObject(p, "stacks", cJSON_CreateRaw(s));
		cJSON_free(s);
	}
	if (mg_report_html(&a, &alen, doc, NULL, &err) != MG_OK ||
	    mg_report_html(&b, &blen, raw, NULL, &err) != MG_OK) {
		fprintf(stderr, "FAIL: html: %s\n", err.msg);
		return 1;
	}
	same("html", a, alen, b, blen);
	for (int f = 0; mg_report_format_names[f]; f++)
		for (int w = 0; w < MG_WEIGHT_COUNT; w++) {
			const cJSON *one[] = { doc }, *other[] = { raw };
			if (mg_report_export(&a, &alen, f, one, 1, w, &err) != MG_OK ||
			    mg_report_export(&b, &blen, f, other, 1, w, &err) != MG_OK) {
				fprintf(stderr, "FAIL: %s: %s\n", mg_report_format_names[f], err.msg);
				return 1;
			}
			same(mg_report_format_names[f], a, alen, b, blen);
		}
	cJSON_Delete(doc);
	cJSON_Delete(raw);
	return failures != 0;
}
