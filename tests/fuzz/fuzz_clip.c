/*
 * fuzz_clip.c - the clip reader and crash recovery on hostile files.
 * Input: the clip's 40-byte wrapped key, then the clip file's bytes (the
 * seeds are real clips made with the fixed test master key, so mutations
 * reach the chunk parser past the key check).
 */
#include "fuzz_common.h"

#include "vigil/clipfile.h"
#include "vigil/err.h"
#include "vigil/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[300];
	uint8_t master[VG_MASTER_KEY_LEN], wrapped[VG_WRAPPED_KEY_LEN];
	struct vg_clip_reader *rd = NULL;
	const uint8_t *p;
	size_t len;
	uint64_t chunks, bytes;

	if (path[0] == '\0') {
		snprintf(path, sizeof(path), "%s/clip.vgc", fuzz_dir());
		vg_log_init("fuzz", 0, VG_LOG_ERROR);
	}
	if (size < VG_WRAPPED_KEY_LEN)
		return 0;
	memset(master, FUZZ_MASTER_BYTE, sizeof(master));
	memcpy(wrapped, data, sizeof(wrapped));
	fuzz_write(path, data + VG_WRAPPED_KEY_LEN, size - VG_WRAPPED_KEY_LEN);
	if (vg_clip_reader_open(&rd, path, master, wrapped) == 0) {
		while (vg_clip_reader_next(rd, &p, &len) == 0)
			;
		vg_clip_reader_free(rd);
	}
	vg_clip_header_only(path);
	/* Recovery rewrites the file: then read what it left. */
	if (vg_clip_recover(path, master, wrapped, &chunks, &bytes) == 0 &&
	    vg_clip_reader_open(&rd, path, master, wrapped) == 0) {
		int ret;

		while ((ret = vg_clip_reader_next(rd, &p, &len)) == 0)
			;
		/* A recovered clip reads to its clean end. */
		if (ret != 1)
			abort();
		vg_clip_reader_free(rd);
	}
	return 0;
}
