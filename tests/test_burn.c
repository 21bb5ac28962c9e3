/*
 * test_burn.c - burning an ISO image onto a "stdio:" file target (what an
 * optical drive would receive), reading it back, and the refusals and
 * failures a user would meet. The image is a real ISO 9660 image made by
 * xorriso from a temp folder of random bytes (no footage).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "vigil/burn.h"
#include "vigil/crypto.h"
#include "vigil/err.h"

extern char **environ;

struct fx {
	char dir[64];
	char iso[128];
	char disc[128];
	size_t iso_len;
	uint8_t *iso_bytes;	/* the whole image, read back by the test */
};

static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY);
	size_t got = 0;

	if (fd < 0)
		return NULL;
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		assert_true(n > 0);
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return buf;
}

static void write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static int run(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	assert_true(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char src[128], path[160];
	uint8_t buf[200000];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-test-burn.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(src, sizeof(src), "%s/src", f->dir);
	assert_int_equal(mkdir(src, 0700), 0);
	assert_int_equal(vg_crypto_random(buf, sizeof(buf)), 0);
	snprintf(path, sizeof(path), "%s/a.bin", src);
	write_file(path, buf, sizeof(buf));
	snprintf(path, sizeof(path), "%s/README.txt", src);
	write_file(path, "a test image\n", 13);
	snprintf(f->iso, sizeof(f->iso), "%s/image.iso", f->dir);
	snprintf(f->disc, sizeof(f->disc), "%s/disc.img", f->dir);
	{
		char *argv[] = { "xorriso", "-no_rc", "-outdev", f->iso, "-map", src, "/",
				 "-commit", NULL };

		if (run(argv) != 0) {
			fprintf(stderr, "cannot make an ISO image with xorriso\n");
			return -1;
		}
	}
	f->iso_bytes = slurp(f->iso, &f->iso_len);
	assert_non_null(f->iso_bytes);
	assert_true(f->iso_len > sizeof(buf));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char *argv[] = { "rm", "-rf", f->dir, NULL };

	run(argv);
	free(f->iso_bytes);
	free(f);
	vg_crypto_cleanup();
	return 0;
}

struct seen {
	uint64_t last_done, total;
	int calls;
};

static void progress(uint64_t done, uint64_t total, void *ud)
{
	struct seen *s = ud;

	assert_true(done >= s->last_done);
	s->last_done = done;
	s->total = total;
	s->calls++;
}

/* The target's first iso_len bytes are the image. */
static void assert_disc_holds_image(struct fx *f)
{
	size_t len;
	uint8_t *disc = slurp(f->disc, &len);

	assert_non_null(disc);
	assert_true(len >= f->iso_len);
	assert_memory_equal(disc, f->iso_bytes, f->iso_len);
	free(disc);
}

static void test_burn_to_new_file(void **state)
{
	struct fx *f = *state;
	struct seen s = { 0 };
	struct vg_burn_request q = {
		.image = f->iso, .device = f->disc, .allow_file = 1, .progress = progress,
		.progress_ud = &s,
	};
	struct vg_burn_result res;
	uint8_t d[VG_SHA256_DIGEST_LEN];
	char want[65];

	assert_int_equal(vg_burn_image(&q, &res), 0);
	assert_string_equal(res.why, "");
	assert_int_equal(res.bytes, f->iso_len);
	assert_disc_holds_image(f);
	/* The hash reported (and audited) is the image's. */
	assert_int_equal(vg_sha256(f->iso_bytes, f->iso_len, d), 0);
	for (int i = 0; i < VG_SHA256_DIGEST_LEN; i++)
		snprintf(want + 2 * i, 3, "%02x", d[i]);
	assert_string_equal(res.image_sha256, want);
	/* The read-back reported its progress up to the whole image. */
	assert_true(s.calls > 0);
	assert_int_equal(s.last_done, f->iso_len);
	assert_int_equal(s.total, f->iso_len);
	assert_true(res.write_seconds > 0);
	assert_true(res.verify_seconds >= 0);
}

/* Given descriptors (vigild's way): the image and a file "disc" are used
 * through the descriptors the requester's vigilctl opened, not their
 * paths (the names only label messages); a FIFO as the device is refused
 * at once instead of blocking. */
static void test_given_descriptors(void **state)
{
	struct fx *f = *state;
	struct vg_burn_request q = {
		.image = "/nonexistent/label.iso", .device = "/nonexistent/label.img",
		.allow_file = 1, .given = 1,
	};
	struct vg_burn_result res;
	char fifo[300];

	alarm(60);
	q.image_fd = open(f->iso, O_RDONLY | O_CLOEXEC);
	q.device_fd = open(f->disc, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	assert_true(q.image_fd >= 0 && q.device_fd >= 0);
	assert_int_equal(vg_burn_image(&q, &res), 0);
	assert_disc_holds_image(f);
	close(q.device_fd);
	snprintf(fifo, sizeof(fifo), "%s.fifo", f->disc);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	q.device_fd = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	assert_true(q.device_fd >= 0);
	assert_int_equal(vg_burn_image(&q, &res), -VG_EINVAL);
	assert_non_null(strstr(res.why, "not a DVD writer"));
	close(q.device_fd);
	/* a regular file needs allow_file */
	q.allow_file = 0;
	q.device_fd = open(f->disc, O_RDWR | O_CLOEXEC);
	assert_int_equal(vg_burn_image(&q, &res), -VG_EINVAL);
	close(q.device_fd);
	close(q.image_fd);
	unlink(fifo);
	alarm(0);
}

/* A used "disc" (a file full of other bytes, larger than the image) is
 * written over from the start. */
static void test_burn_over_old_file(void **state)
{
	struct fx *f = *state;
	size_t n = f->iso_len * 2;
	uint8_t *junk = malloc(n);
	struct vg_burn_request q = { .image = f->iso, .device = f->disc, .allow_file = 1 };
	struct vg_burn_result res;

	assert_non_null(junk);
	memset(junk, 0xA5, n);
	write_file(f->disc, junk, n);
	free(junk);
	assert_int_equal(vg_burn_image(&q, &res), 0);
	assert_disc_holds_image(f);
}

static void test_missing_image(void **state)
{
	struct fx *f = *state;
	char missing[160];
	struct vg_burn_request q = { .image = missing, .device = f->disc, .allow_file = 1 };
	struct vg_burn_result res;
	struct stat st;

	snprintf(missing, sizeof(missing), "%s/no-such.iso", f->dir);
	assert_int_equal(vg_burn_image(&q, &res), -VG_ENOENT);
	assert_non_null(strstr(res.why, missing));
	assert_int_equal(stat(f->disc, &st), -1);	/* nothing written */
}

static void test_image_is_a_folder(void **state)
{
	struct fx *f = *state;
	struct vg_burn_request q = { .image = f->dir, .device = f->disc, .allow_file = 1 };
	struct vg_burn_result res;

	assert_int_equal(vg_burn_image(&q, &res), -VG_EINVAL);
	assert_non_null(strstr(res.why, "not an image file"));
}

/* A regular file is a disc only when the caller allows it. */
static void test_file_device_needs_allow_file(void **state)
{
	struct fx *f = *state;
	struct vg_burn_request q = { .image = f->iso, .device = f->disc, .allow_file = 0 };
	struct vg_burn_result res;
	size_t len;
	uint8_t *after;

	write_file(f->disc, "old contents", 12);
	assert_int_equal(vg_burn_image(&q, &res), -VG_EINVAL);
	assert_non_null(strstr(res.why, "not a DVD writer"));
	after = slurp(f->disc, &len);
	assert_int_equal(len, 12);
	assert_memory_equal(after, "old contents", 12);
	free(after);
	/* ...and a new path is no drive either. */
	q.device = "/tmp/vigil-test-burn-no-such-drive";
	assert_int_equal(vg_burn_image(&q, &res), -VG_ENODEV);
	assert_non_null(strstr(res.why, "no drive"));
}

/* Neither a drive nor a file: a character device, a folder. */
static void test_other_devices_refused(void **state)
{
	struct fx *f = *state;
	struct vg_burn_request q = { .image = f->iso, .device = "/dev/null", .allow_file = 1 };
	struct vg_burn_result res;
	char missing_dir[160];

	assert_int_equal(vg_burn_image(&q, &res), -VG_EINVAL);
	q.device = f->dir;
	assert_int_equal(vg_burn_image(&q, &res), -VG_EINVAL);
	snprintf(missing_dir, sizeof(missing_dir), "%s/gone/disc.img", f->dir);
	q.device = missing_dir;
	assert_int_equal(vg_burn_image(&q, &res), -VG_ENOENT);
	assert_non_null(strstr(res.why, "does not exist"));
}

/* A bad disc: one byte differs after writing. */
static int flip_byte(const char *device, void *ud)
{
	const size_t *off = ud;
	uint8_t b;
	int fd = open(device, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, (off_t)*off), 1);
	b ^= 0x01;
	assert_int_equal(pwrite(fd, &b, 1, (off_t)*off), 1);
	close(fd);
	return 0;
}

static void test_damaged_disc(void **state)
{
	struct fx *f = *state;
	size_t off = f->iso_len / 2;
	struct vg_burn_request q = {
		.image = f->iso, .device = f->disc, .allow_file = 1, .fault = flip_byte,
		.fault_ud = &off,
	};
	struct vg_burn_result res;

	assert_int_equal(vg_burn_image(&q, &res), -VG_EAUTH);
	assert_non_null(strstr(res.why, f->disc));
	assert_non_null(strstr(res.why, "different"));
}

/* A byte past the image (the padding xorriso adds) is not part of it. */
static void test_damage_after_image_ignored(void **state)
{
	struct fx *f = *state;
	size_t off = f->iso_len;	/* first byte after the image */
	struct vg_burn_request q = {
		.image = f->iso, .device = f->disc, .allow_file = 1, .fault = flip_byte,
		.fault_ud = &off,
	};
	struct vg_burn_result res;

	assert_int_equal(vg_burn_image(&q, &res), 0);
}

static int cut_short(const char *device, void *ud)
{
	const size_t *len = ud;

	assert_int_equal(truncate(device, (off_t)*len), 0);
	return 0;
}

static void test_short_disc(void **state)
{
	struct fx *f = *state;
	size_t len = f->iso_len - 2048;
	struct vg_burn_request q = {
		.image = f->iso, .device = f->disc, .allow_file = 1, .fault = cut_short,
		.fault_ud = &len,
	};
	struct vg_burn_result res;

	assert_int_equal(vg_burn_image(&q, &res), -VG_EIO);
	assert_non_null(strstr(res.why, "shorter"));
}

static int write_error(const char *device, void *ud)
{
	(void)device;
	(void)ud;
	return -1;
}

static void test_write_error(void **state)
{
	struct fx *f = *state;
	struct vg_burn_request q = {
		.image = f->iso, .device = f->disc, .allow_file = 1, .fault = write_error,
	};
	struct vg_burn_result res;

	assert_int_equal(vg_burn_image(&q, &res), -VG_EIO);
	assert_non_null(strstr(res.why, "another blank disc"));
}

/* With PATH pointing at folder holding XORRISO (or nothing), run a burn. */
static int burn_with_path(struct fx *f, const char *script, struct vg_burn_result *res)
{
	char bin[128], path[160], *old = getenv("PATH");
	char saved[4096];
	struct vg_burn_request q = { .image = f->iso, .device = f->disc, .allow_file = 1 };
	int ret;

	snprintf(saved, sizeof(saved), "%s", old ? old : "/usr/bin:/bin");
	snprintf(bin, sizeof(bin), "%s/bin", f->dir);
	assert_int_equal(mkdir(bin, 0700), 0);
	if (script) {
		snprintf(path, sizeof(path), "%s/xorriso", bin);
		write_file(path, script, strlen(script));
		assert_int_equal(chmod(path, 0700), 0);
	}
	setenv("PATH", bin, 1);
	ret = vg_burn_image(&q, res);
	setenv("PATH", saved, 1);
	return ret;
}

static void test_no_xorriso(void **state)
{
	struct vg_burn_result res;

	assert_int_equal(burn_with_path(*state, NULL, &res), -VG_ENOENT);
	assert_non_null(strstr(res.why, "apt-get install xorriso"));
}

/* xorriso's own reason, turned into what to do. */
static void test_no_disc_explained(void **state)
{
	struct fx *f = *state;
	struct vg_burn_result res;
	static const char script[] =
		"#!/bin/sh\n"
		"echo 'xorriso 1.5.4 : RockRidge filesystem manipulator' >&2\n"
		"echo 'libburn : SORRY : No media detected in drive' >&2\n"
		"echo 'xorriso : FAILURE : -as cdrecord: Job could not be performed properly.' >&2\n"
		"echo \"xorriso : aborting : -abort_on 'FAILURE' encountered 'FAILURE'\" >&2\n"
		"exit 5\n";

	assert_int_equal(burn_with_path(f, script, &res), -VG_ENODEV);
	assert_non_null(strstr(res.why, "no disc in"));
	assert_non_null(strstr(res.why, f->disc));
}

static void test_too_small_explained(void **state)
{
	struct fx *f = *state;
	struct vg_burn_result res;
	static const char script[] =
		"#!/bin/sh\n"
		"echo 'xorriso : FAILURE : Image size 2294000s exceeds free space on media "
		"2295104s' >&2\n"
		"exit 5\n";

	assert_int_equal(burn_with_path(f, script, &res), -VG_ENOSPC);
	assert_non_null(strstr(res.why, "too small"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_burn_to_new_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_given_descriptors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_burn_over_old_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_image_is_a_folder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_device_needs_allow_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_devices_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_disc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damage_after_image_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_disc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_xorriso, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_disc_explained, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_small_explained, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
