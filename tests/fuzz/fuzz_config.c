/*
 * fuzz_config.c - the configuration loader (libconfig syntax, then every
 * check vigild and `vigilctl config check` make) on hostile files. Seeds:
 * config/vigil.conf and tests/data/config/.
 */
#include "fuzz_common.h"

#include "vigil/config.h"
#include "vigil/err.h"
#include "vigil/log.h"

static void count_error(const char *file, int line, const char *text, void *ud)
{
	(void)file;
	(void)line;
	/* Every error says something. */
	if (text == NULL || text[0] == '\0')
		abort();
	(*(int *)ud)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[300];
	struct vg_config *cfg = NULL;
	char err[4096];
	int n = 0, ret;

	if (path[0] == '\0') {
		snprintf(path, sizeof(path), "%s/vigil.conf", fuzz_dir());
		vg_log_init("fuzz", 0, VG_LOG_ERROR);
	}
	if (size > 64 * 1024)
		return 0;
	fuzz_write(path, data, size);
	ret = vg_config_read(path, &cfg, count_error, &n);
	/* An error return has said why; success has said nothing. */
	if ((ret == 0) != (n == 0) && ret != -VG_ENOMEM)
		abort();
	vg_config_free(cfg);
	cfg = NULL;
	if (vg_config_load(path, &cfg, err, sizeof(err)) == 0)
		vg_config_free(cfg);
	return 0;
}
