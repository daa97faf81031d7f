/* md_render.c - prints the markdown of a check result: md_render FILE [MAX_BYTES [CONFIG]]
 * (the golden tests diff its output with golden/NAME.md) */
#include <stdio.h>
#include <stdlib.h>

#include "../../src/report/markdown.h"
#include "../../src/util/error.h"
#include "../../src/util/fs.h"

int main(int argc, char **argv)
{
	struct mg_error err = { 0 };
	struct mg_md_options opt = { 0 };
	char *text = NULL, *md = NULL, marker[4096];
	size_t len, mdlen;
	cJSON *doc = NULL;
	int ret = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: md_render FILE [MAX_BYTES [CONFIG]]\n");
		return 2;
	}
	if (argc > 2)
		opt.max_bytes = strtoul(argv[2], NULL, 10);
	if (argc > 3) {
		mg_md_marker(marker, sizeof(marker), argv[3]);
		opt.marker = marker;
	}
	if (mg_read_file(&text, &len, argv[1], 64u << 20, &err) != MG_OK)
		goto done;
	if (!(doc = cJSON_ParseWithLength(text, len))) {
		fprintf(stderr, "md_render: %s: not JSON\n", argv[1]);
		goto done;
	}
	if (mg_markdown_render(&md, &mdlen, NULL, doc, &opt, &err) != MG_OK)
		goto done;
	fwrite(md, 1, mdlen, stdout);
	ret = 0;
done:
	if (ret && err.msg[0])
		fprintf(stderr, "md_render: %s\n", err.msg);
	free(text);
	free(md);
	cJSON_Delete(doc);
	return ret;
}
