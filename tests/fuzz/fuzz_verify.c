/*
 * fuzz_verify.c - the export verifier (what `vigilctl verify` runs for an
 * agency) on a hostile export folder. Input: a packed folder, a sequence
 * of entries  [1 byte name length][name][4 bytes big-endian size][bytes]
 * (names of one path component; anything else ends the unpacking); seeds
 * are real exports packed by make_seeds. Built with -DFUZZ_ISO it takes an
 * ISO image instead (the input is the image; seeds: real export images).
 */
#include "fuzz_common.h"

#include <dirent.h>
#include <sys/stat.h>

#include "vigil/log.h"
#include "vigil/verify.h"

#ifndef FUZZ_ISO
static void empty_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[600];

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || strcmp(e->d_name, "..") == 0))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d != NULL)
		closedir(d);
}

static void unpack(const char *dir, const uint8_t *p, size_t n)
{
	char name[256], path[600];

	while (n > 0) {
		size_t nl = p[0], len;

		if (nl == 0 || n < 1 + nl + 4)
			return;
		memcpy(name, p + 1, nl);
		name[nl] = '\0';
		if (strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
		    strlen(name) != nl)
			return;
		p += 1 + nl;
		n -= 1 + nl;
		len = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
		p += 4;
		n -= 4;
		if (len > n)
			len = n;
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		fuzz_write(path, p, len);
		p += len;
		n -= len;
	}
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[300];
	struct vg_verify_result res;

	if (path[0] == '\0') {
#ifdef FUZZ_ISO
		snprintf(path, sizeof(path), "%s/export.iso", fuzz_dir());
#else
		snprintf(path, sizeof(path), "%s/export", fuzz_dir());
		mkdir(path, 0700);
#endif
		vg_log_init("fuzz", 0, VG_LOG_ERROR);
	}
	if (size > 4 * 1024 * 1024)
		return 0;
#ifdef FUZZ_ISO
	fuzz_write(path, data, size);
#else
	empty_dir(path);
	unpack(path, data, size);
#endif
	memset(&res, 0, sizeof(res));
	if (vg_verify_export(path, NULL, NULL, &res) == 0 && res.problems != 0)
		abort();	/* "intact" with problems found */
	return 0;
}
