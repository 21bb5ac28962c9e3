/*
 * fuzz_common.h - what the libFuzzer harnesses share (tests/fuzz/README).
 * Header-only: each harness is one C file linked with libvigil.
 */
#ifndef VIGIL_FUZZ_COMMON_H
#define VIGIL_FUZZ_COMMON_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The master key the seed generator (make_seeds.c) encrypted its clips
 * with: a fixed test key, never a box's. */
#define FUZZ_MASTER_BYTE 0x42

/* A scratch folder of this process (made once, under $TMPDIR or /tmp). */
static inline const char *fuzz_dir(void)
{
	static char dir[256];

	if (dir[0] == '\0') {
		const char *t = getenv("TMPDIR");

		snprintf(dir, sizeof(dir), "%s/vigil-fuzz.XXXXXX", t && t[0] ? t : "/tmp");
		if (mkdtemp(dir) == NULL)
			abort();
	}
	return dir;
}

/* Write len bytes to path (replacing it); aborts on failure, which is the
 * harness's, not the code under test's. */
static inline void fuzz_write(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		abort();
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n <= 0)
			abort();
		data += n;
		len -= (size_t)n;
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
