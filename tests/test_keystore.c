/*
 * test_keystore.c - the master key file: creation, reload and every
 * refusal a field engineer could run into. Keys here are throwaway ones
 * made in a mkdtemp directory that each test removes.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vigil/err.h"
#include "vigil/keystore.h"
#include "vigil/log.h"

struct fx {
	char dir[64];
	char key[128];
	char link[128];
	char target[128];
	char sub[128];
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/vigil-keyXXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->key, sizeof(fx->key), "%s/master.key", fx->dir);
	snprintf(fx->link, sizeof(fx->link), "%s/link.key", fx->dir);
	snprintf(fx->target, sizeof(fx->target), "%s/target.key", fx->dir);
	snprintf(fx->sub, sizeof(fx->sub), "%s/sub", fx->dir);
	vg_log_set_level(VG_LOG_ERROR);	/* refusals log warnings by design */
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	unlink(fx->key);
	unlink(fx->link);
	unlink(fx->target);
	rmdir(fx->sub);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static void write_key_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_create_then_reload(void **state)
{
	struct fx *fx = *state;
	uint8_t k1[VG_MASTER_KEY_LEN], k2[VG_MASTER_KEY_LEN], zero[VG_MASTER_KEY_LEN] = { 0 };
	char why[256];
	int created = -1;
	struct stat st;
	mode_t old = umask(0);	/* a careless umask must not widen the mode */

	assert_int_equal(vg_keystore_load(fx->key, 1, k1, &created, why, sizeof(why)), 0);
	umask(old);
	assert_int_equal(created, 1);
	assert_int_equal(lstat(fx->key, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, VG_MASTER_KEY_LEN);
	assert_int_equal(st.st_uid, geteuid());
	assert_memory_not_equal(k1, zero, sizeof(k1));

	assert_int_equal(vg_keystore_load(fx->key, 1, k2, &created, why, sizeof(why)), 0);
	assert_int_equal(created, 0);
	assert_memory_equal(k1, k2, sizeof(k1));
}

static void test_two_boxes_get_different_keys(void **state)
{
	struct fx *fx = *state;
	uint8_t k1[VG_MASTER_KEY_LEN], k2[VG_MASTER_KEY_LEN];

	assert_int_equal(vg_keystore_load(fx->key, 1, k1, NULL, NULL, 0), 0);
	assert_int_equal(vg_keystore_load(fx->target, 1, k2, NULL, NULL, 0), 0);
	assert_memory_not_equal(k1, k2, sizeof(k1));
}

static void test_missing_without_create(void **state)
{
	struct fx *fx = *state;
	uint8_t k[VG_MASTER_KEY_LEN];
	char why[256];
	struct stat st;

	assert_int_equal(vg_keystore_load(fx->key, 0, k, NULL, why, sizeof(why)), -VG_ENOENT);
	assert_non_null(strstr(why, fx->key));
	assert_int_equal(lstat(fx->key, &st), -1);
}

static void test_refuse_group_or_world_access(void **state)
{
	struct fx *fx = *state;
	uint8_t k[VG_MASTER_KEY_LEN], data[VG_MASTER_KEY_LEN];
	static const mode_t bad[] = { 0644, 0640, 0604, 0620, 0602, 0660 };
	char why[512], want[256];
	size_t i;

	memset(data, 0x5a, sizeof(data));
	snprintf(want, sizeof(want), "chmod 600 %s", fx->key);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_key_file(fx->key, data, sizeof(data), bad[i]);
		memset(k, 0x11, sizeof(k));
		assert_int_equal(vg_keystore_load(fx->key, 1, k, NULL, why, sizeof(why)),
				 -VG_EPERM);
		assert_non_null(strstr(why, want));
		/* Nothing of the refused key is handed out. */
		assert_memory_not_equal(k, data, sizeof(k));
	}
	/* Owner read-only is fine. */
	write_key_file(fx->key, data, sizeof(data), 0400);
	assert_int_equal(vg_keystore_load(fx->key, 1, k, NULL, why, sizeof(why)), 0);
	assert_memory_equal(k, data, sizeof(k));
}

static void test_refuse_wrong_size(void **state)
{
	struct fx *fx = *state;
	uint8_t k[VG_MASTER_KEY_LEN], data[VG_MASTER_KEY_LEN + 1];
	char why[512];

	memset(data, 0x33, sizeof(data));
	write_key_file(fx->key, data, VG_MASTER_KEY_LEN - 1, 0600);
	assert_int_equal(vg_keystore_load(fx->key, 1, k, NULL, why, sizeof(why)), -VG_EFORMAT);
	assert_non_null(strstr(why, "31 bytes"));
	write_key_file(fx->key, data, VG_MASTER_KEY_LEN + 1, 0600);
	assert_int_equal(vg_keystore_load(fx->key, 1, k, NULL, why, sizeof(why)), -VG_EFORMAT);
	write_key_file(fx->key, data, 0, 0600);
	assert_int_equal(vg_keystore_load(fx->key, 1, k, NULL, why, sizeof(why)), -VG_EFORMAT);
	/* A damaged key file is never replaced by a fresh key. */
	{
		struct stat st;

		assert_int_equal(stat(fx->key, &st), 0);
		assert_int_equal(st.st_size, 0);
	}
}

static void test_refuse_symlink(void **state)
{
	struct fx *fx = *state;
	uint8_t k[VG_MASTER_KEY_LEN], data[VG_MASTER_KEY_LEN];
	char why[512];
	struct stat st;

	memset(data, 0x77, sizeof(data));
	write_key_file(fx->target, data, sizeof(data), 0600);
	assert_int_equal(symlink(fx->target, fx->link), 0);
	assert_int_equal(vg_keystore_load(fx->link, 1, k, NULL, why, sizeof(why)), -VG_EPERM);
	assert_non_null(strstr(why, "symbolic link"));

	/* A dangling link is not followed to create a key somewhere else. */
	unlink(fx->link);
	unlink(fx->target);
	assert_int_equal(symlink(fx->target, fx->link), 0);
	assert_int_equal(vg_keystore_load(fx->link, 1, k, NULL, why, sizeof(why)), -VG_EPERM);
	assert_int_equal(lstat(fx->target, &st), -1);
}

static void test_refuse_not_regular(void **state)
{
	struct fx *fx = *state;
	uint8_t k[VG_MASTER_KEY_LEN];
	char why[512];

	assert_int_equal(mkdir(fx->sub, 0700), 0);
	assert_int_equal(vg_keystore_load(fx->sub, 1, k, NULL, why, sizeof(why)), -VG_EPERM);
	assert_non_null(strstr(why, "not a regular file"));
}

static void test_refuse_other_owner(void **state)
{
	struct fx *fx = *state;
	uint8_t k[VG_MASTER_KEY_LEN], data[VG_MASTER_KEY_LEN];
	char why[512];

	if (geteuid() != 0)
		skip();	/* only root can give a file away */
	memset(data, 0x44, sizeof(data));
	write_key_file(fx->key, data, sizeof(data), 0600);
	assert_int_equal(chown(fx->key, 65534, 65534), 0);
	assert_int_equal(vg_keystore_load(fx->key, 1, k, NULL, why, sizeof(why)), -VG_EPERM);
	assert_non_null(strstr(why, "chown"));
}

static void test_fingerprint(void **state)
{
	uint8_t zero[VG_MASTER_KEY_LEN] = { 0 };
	char fp[17];

	/* SHA-256 of 32 zero bytes is 66687aad f862bd77 6c8fc18b ... */
	vg_keystore_fingerprint(zero, fp);
	assert_string_equal(fp, "66687aadf862bd77");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_then_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_boxes_get_different_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_without_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_group_or_world_access, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_wrong_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_not_regular, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_other_owner, setup, teardown),
		cmocka_unit_test(test_fingerprint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
