/*
 * test_confcheck.c - the policy warnings of `vigilctl config check`
 * (confcheck.h), on configs loaded through vg_config_load() from a mkdtemp
 * directory, with an injected "now".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vigil/confcheck.h"
#include "vigil/config.h"
#include "vigil/err.h"

#define SITE "site = { name = \"Elm Court\"; address = \"1 Elm Court\"; " \
	"area_manager = \"Sam Jones\"; contact = \"01234 567890\"; };\n"
/* One area manager who may view, and an auditor who may not. */
#define USERS "users = ( { login = \"sjones\"; role = \"area_manager\"; " \
	"sites = ( \"Elm Court\" ); }, { login = \"audit\"; role = \"auditor\"; } );\n"

struct fixture {
	char dir[64];
	char path[128];
	char err[8192];
	struct vg_config *cfg;
	char got[16384];	/* "LINE: message\n" per warning */
	int n;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/vigil-test-confcheck-XXXXXX");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	snprintf(fx->path, sizeof(fx->path), "%s/vigil.conf", fx->dir);
	/* the box's zone; dates are compared in local time */
	setenv("TZ", "Europe/London", 1);
	tzset();
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	vg_config_free(fx->cfg);
	unlink(fx->path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static void collect(enum vg_confcheck_level level, const char *file, int line,
		    const char *message, void *ud)
{
	struct fixture *fx = ud;
	size_t used = strlen(fx->got);

	assert_int_equal(level, VG_CONFCHECK_WARNING);
	assert_string_equal(file, fx->path);
	snprintf(fx->got + used, sizeof(fx->got) - used, "%d: %s\n", line, message);
	fx->n++;
}

/* UTC microseconds of noon on a date. */
static int64_t noon(int y, int m, int d)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12 };

	return (int64_t)timegm(&tm) * 1000000;
}

/* Load text (which must be valid), run the checks; returns the count. */
static int check(struct fixture *fx, const char *text, int64_t now)
{
	FILE *fp = fopen(fx->path, "w");
	int r;

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	vg_config_free(fx->cfg);
	fx->cfg = NULL;
	r = vg_config_load(fx->path, &fx->cfg, fx->err, sizeof(fx->err));
	if (r != 0)
		print_error("%s", fx->err);
	assert_int_equal(r, 0);
	fx->got[0] = '\0';
	fx->n = 0;
	r = vg_confcheck(fx->cfg, now, collect, fx);
	assert_int_equal(r, fx->n);
	return r;
}

/* A warning at line containing every word (NULL-terminated). */
static void expect_warning(const struct fixture *fx, int line, ...)
{
	char prefix[32];
	const char *p = fx->got;

	snprintf(prefix, sizeof(prefix), "%d: ", line);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char one[1024];
		int all = 1;
		va_list ap;
		const char *w;

		snprintf(one, sizeof(one), "%.*s", (int)len, p);
		if (strncmp(one, prefix, strlen(prefix)) == 0) {
			va_start(ap, line);
			for (w = va_arg(ap, const char *); w != NULL; w = va_arg(ap, const char *))
				if (strstr(one, w) == NULL)
					all = 0;
			va_end(ap);
			if (all)
				return;
		}
		p += len + (nl != NULL);
	}
	print_error("no warning at line %d with the expected words; got:\n%s\n", line,
		    fx->got);
	fail();
}

static void test_clean_config_has_no_warnings(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(check(fx, SITE USERS
		"cameras = ( { name = \"lift\"; device = \"/dev/video0\"; purpose = \"ASB\";\n"
		"  area = \"Lift\"; signage_confirmed = \"2025-01-10\"; } );\n",
		noon(2026, 3, 1)), 0);
	assert_string_equal(fx->got, "");
}

static void test_missing_signage(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(check(fx, SITE USERS			/* 1-2 */
		"cameras = (\n"					/* 3 */
		"  { name = \"lift\"; device = \"/dev/video0\";\n"	/* 4 */
		"    purpose = \"ASB\"; area = \"Lift\"; }\n"	/* 5 */
		");\n", noon(2026, 3, 1)), 1);
	expect_warning(fx, 4, "camera \"lift\"", "no signage_confirmed", "policy 3.5", NULL);
}

static void test_audio_until_and_past_review(void **state)
{
	struct fixture *fx = *state;
	static const char text[] = SITE USERS			/* 1-2 */
		"cameras = ( { name = \"door\"; device = \"/dev/video0\";\n"	/* 3 */
		"  purpose = \"Safety\"; area = \"Door\"; signage_confirmed = \"2025-01-10\";\n"
		"  audio = true;\n"					/* 5 */
		"  audio_justification = \"Vulnerable resident, case 7\";\n"
		"  audio_review_by = \"2026-06-30\"; } );\n";

	assert_int_equal(check(fx, text, noon(2026, 6, 20)), 1);
	expect_warning(fx, 5, "camera \"door\"", "records sound until 2026-06-30", "10 days",
		       "Vulnerable resident, case 7", NULL);
	assert_int_equal(check(fx, text, noon(2026, 7, 1)), 1);
	expect_warning(fx, 5, "camera \"door\"", "due for review on 2026-06-30",
		       "has stopped", "video continues", NULL);
}

static void test_temporary_near_and_past_remove_by(void **state)
{
	struct fixture *fx = *state;
	static const char text[] = SITE USERS			/* 1-2 */
		"cameras = ( { name = \"tmp\"; device = \"/dev/video0\";\n"	/* 3 */
		"  purpose = \"ASB\"; area = \"Landing\"; signage_confirmed = \"2026-01-02\";\n"
		"  temporary = { equipment = \"Dome kit 3\"; reason = \"ASB at flat 12\";\n"
		"    case_reference = \"ASB-2026-0042\"; installed = \"2026-01-02\";\n"
		"    remove_by = \"2026-04-01\"; }; } );\n";

	/* more than 14 days away: nothing to say */
	assert_int_equal(check(fx, text, noon(2026, 3, 17)), 0);
	assert_int_equal(check(fx, text, noon(2026, 3, 18)), 1);
	expect_warning(fx, 5, "camera \"tmp\"", "ASB-2026-0042", "removed by 2026-04-01",
		       "in 14 days", NULL);
	assert_int_equal(check(fx, text, noon(2026, 3, 31)), 1);
	expect_warning(fx, 5, "in 1 day;", NULL);
	assert_int_equal(check(fx, text, noon(2026, 4, 1)), 1);
	expect_warning(fx, 5, "due for removal on 2026-04-01", "no longer records", NULL);
}

static void test_masks_over_half_the_picture(void **state)
{
	struct fixture *fx = *state;
	static const char fmt[] = SITE USERS			/* 1-2 */
		"cameras = ( { name = \"yard\"; device = \"/dev/video0\"; width = 640;\n"
		"  height = 480; purpose = \"Fly-tipping\"; area = \"Yard\";\n"
		"  signage_confirmed = \"2025-01-10\";\n"		/* 5 */
		"  masks = ( { rect = [0, 0, %d, 480]; },\n"		/* 6 */
		"            { polygon = [0.0, 0.0, 0.2, 0.0, 0.0, 0.2]; } ); } );\n";
	char text[1024];

	snprintf(text, sizeof(text), fmt, 320);	/* half, plus a corner already in it */
	assert_int_equal(check(fx, text, noon(2026, 3, 1)), 0);
	snprintf(text, sizeof(text), fmt, 400);
	assert_int_equal(check(fx, text, noon(2026, 3, 1)), 1);
	expect_warning(fx, 6, "camera \"yard\"", "cover 63% of the picture", "siting", NULL);
}

static void test_retention_beyond_standard(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(check(fx, SITE USERS				/* 1-2 */
		"cameras = ( { name = \"lift\"; device = \"/dev/video0\";\n"	/* 3 */
		"  purpose = \"ASB\"; area = \"Lift\"; signage_confirmed = \"2025-01-10\";\n"
		"  retention_days = 90;\n"					/* 5 */
		"  retention_justification = \"Police request 12/3456\"; } );\n",
		noon(2026, 3, 1)), 1);
	expect_warning(fx, 5, "camera \"lift\"", "kept 90 days", "standard 31",
		       "Police request 12/3456", NULL);
}

static void test_no_users(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(check(fx, SITE
		"cameras = ( { name = \"lift\"; device = \"/dev/video0\"; purpose = \"ASB\";\n"
		"  area = \"Lift\"; signage_confirmed = \"2025-01-10\"; } );\n",
		noon(2026, 3, 1)), 1);
	expect_warning(fx, 0, "no users are configured", "nobody can view", "policy 3.8",
		       NULL);
	/* an empty list is the same */
	assert_int_equal(check(fx, SITE "users = ( );\n", noon(2026, 3, 1)), 1);
	expect_warning(fx, 2, "no users are configured", NULL);
}

static void test_bad_arguments(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(vg_confcheck(NULL, 0, collect, fx), -VG_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clean_config_has_no_warnings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_signage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audio_until_and_past_review, setup, teardown),
		cmocka_unit_test_setup_teardown(test_temporary_near_and_past_remove_by, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_masks_over_half_the_picture, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_beyond_standard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
