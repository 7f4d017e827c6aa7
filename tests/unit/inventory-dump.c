/*
 * inventory-dump: test helper (not a test) that prints what
 * inventory_write_json() makes of an inventory file, or its diagnostics,
 * so the shell tests can hold it against ansible-inventory --list.
 *   inventory-dump FILE            JSON on stdout; exit 0, or 2 on errors
 *   inventory-dump -l PATTERN FILE matching host names, one a line
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "inventory.h"
#include "json.h"

int
main(int argc, char **argv)
{
	struct diags d = DIAGS_INIT;
	struct inventory *inv = NULL;
	const char *pattern = NULL, *file;
	int rc = 0;

	if (argc == 4 && strcmp(argv[1], "-l") == 0) {
		pattern = argv[2];
		file = argv[3];
	} else if (argc == 2)
		file = argv[1];
	else {
		fprintf(stderr, "usage: inventory-dump [-l PATTERN] FILE\n");
		return 2;
	}
	if (inventory_load(file, &inv, &d) == -1) {
		diag_print(&d, stderr);
		diag_release(&d);
		return 2;
	}
	diag_print(&d, stderr);
	if (pattern != NULL) {
		char err[512];
		size_t *idx, n, i;

		if (inventory_match(inv, pattern, &idx, &n, err,
		    sizeof err) == -1) {
			fprintf(stderr, "inventory-dump: %s\n", err);
			rc = 1;
		} else {
			for (i = 0; i < n; i++)
				printf("%s\n", inv->hosts[idx[i]].name);
			free(idx);
		}
	} else {
		struct buf b = BUF_INIT;
		struct json_writer w;

		json_writer_init(&w, &b, 1);
		inventory_write_json(&w, inv);
		fwrite(b.data, 1, b.len, stdout);
		buf_release(&b);
	}
	inventory_free(inv);
	diag_release(&d);
	return rc;
}
