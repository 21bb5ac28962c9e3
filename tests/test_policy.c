/* test_policy.c - the whole role x action x site matrix, and the user list checks. */
#include <stdio.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vigil/err.h"
#include "vigil/policy.h"

static char *oak[] = { "Oak Court" };
static char *elm[] = { "Elm House" };
static char *birch[] = { "Birch Row" };

static struct vg_user staff[] = {
	{ "jsmith", "Jo Smith", "area_manager", oak, 1, "mbrown" },
	{ "akhan", "Aisha Khan", "area_manager", elm, 1, "mbrown" },
	{ "pjones", "Pat Jones", "area_manager", birch, 1, "lgreen" },
	{ "mbrown", "Mo Brown", "line_manager", NULL, 0, NULL },
	{ "lgreen", "Lee Green", "line_manager", NULL, 0, NULL },
	{ "nolines", "No Reports", "line_manager", NULL, 0, NULL },
	{ "enf", "Enforcement Officer", "enforcement", NULL, 0, NULL },
	{ "dpo", "Data Protection Officer", "dpo", NULL, 0, NULL },
	{ "inst", "Installer", "installer", NULL, 0, NULL },
	{ "aud", "Auditor", "auditor", NULL, 0, NULL },
};

static const struct vg_policy pol = { staff, sizeof(staff) / sizeof(staff[0]) };

enum { N = 0, Y = 1 };

/* One line per role x action: the outcome at a site the user is
 * responsible for (Oak Court for jsmith and mbrown) and at one they are
 * not (Birch Row), and a word every refusal must contain. Written from
 * docs/access-policy.md, not from the code. */
static const struct row {
	const char *login;
	enum vg_action act;
	const char *ref;
	int at_own, at_other;
	const char *deny_word;
} matrix[] = {
	{ "jsmith", VG_ACT_CLIP_LIST, "ASB-1042", Y, N, "area manager for Oak Court" },
	{ "jsmith", VG_ACT_CLIP_VIEW, "ASB-1042", Y, N, "not for Birch Row" },
	{ "jsmith", VG_ACT_SNAPSHOT, "CASE-88", Y, N, "not for Birch Row" },
	{ "jsmith", VG_ACT_HOLD_PLACE, "CRIME-5/2024", Y, N, "not for Birch Row" },
	{ "jsmith", VG_ACT_HOLD_RELEASE, "DSAR-17", Y, N, "not for Birch Row" },
	{ "jsmith", VG_ACT_EXPORT, "CRIME-5", N, N, "3.9" },
	{ "jsmith", VG_ACT_AUDIT_READ, NULL, N, N, "read the audit log" },
	{ "jsmith", VG_ACT_REPORT, NULL, N, N, "run reports" },
	{ "jsmith", VG_ACT_CONFIG_CHECK, NULL, N, N, "area managers may not" },
	{ "jsmith", VG_ACT_DISCLOSURE_LIST, NULL, N, N, "list disclosures" },
	{ "jsmith", VG_ACT_HOLD_LIST, NULL, Y, N, "not for Birch Row" },
	{ "jsmith", VG_ACT_CLOCK_ACCEPT, NULL, N, N, "data protection officer" },
	{ "jsmith", VG_ACT_AUDIT_ACK, NULL, N, N, "data protection officer" },

	{ "mbrown", VG_ACT_CLIP_LIST, "ASB-1042", Y, N, "line manager for Oak Court and Elm House" },
	{ "mbrown", VG_ACT_CLIP_VIEW, "ASB-1042", Y, N, "not for Birch Row" },
	{ "mbrown", VG_ACT_SNAPSHOT, "ASB-1042", Y, N, "not for Birch Row" },
	{ "mbrown", VG_ACT_HOLD_PLACE, "ASB-1042", Y, N, "not for Birch Row" },
	{ "mbrown", VG_ACT_HOLD_RELEASE, "ASB-1042", Y, N, "not for Birch Row" },
	{ "mbrown", VG_ACT_EXPORT, "CRIME-5", N, N, "data protection officer" },
	{ "mbrown", VG_ACT_AUDIT_READ, NULL, N, N, "line managers may not" },
	{ "mbrown", VG_ACT_REPORT, NULL, N, N, "line managers may not" },
	{ "mbrown", VG_ACT_CONFIG_CHECK, NULL, N, N, "line managers may not" },
	{ "mbrown", VG_ACT_DISCLOSURE_LIST, NULL, N, N, "line managers may not" },
	{ "mbrown", VG_ACT_HOLD_LIST, NULL, Y, N, "not for Birch Row" },
	{ "mbrown", VG_ACT_CLOCK_ACCEPT, NULL, N, N, "line managers may not" },
	{ "mbrown", VG_ACT_AUDIT_ACK, NULL, N, N, "line managers may not" },

	{ "enf", VG_ACT_CLIP_LIST, "ASB-1042", Y, Y, NULL },
	{ "enf", VG_ACT_CLIP_VIEW, "CASE-77", Y, Y, NULL },
	{ "enf", VG_ACT_SNAPSHOT, "CRIME-12", Y, Y, NULL },
	{ "enf", VG_ACT_HOLD_PLACE, "ASB-1042", Y, Y, NULL },
	{ "enf", VG_ACT_HOLD_RELEASE, "ASB-1042", Y, Y, NULL },
	{ "enf", VG_ACT_EXPORT, "ASB-1042", Y, Y, NULL },
	{ "enf", VG_ACT_AUDIT_READ, NULL, N, N, "enforcement team may not" },
	{ "enf", VG_ACT_REPORT, NULL, N, N, "enforcement team may not" },
	{ "enf", VG_ACT_CONFIG_CHECK, NULL, N, N, "enforcement team may not" },
	{ "enf", VG_ACT_DISCLOSURE_LIST, NULL, N, N, "enforcement team may not" },
	{ "enf", VG_ACT_HOLD_LIST, NULL, Y, Y, NULL },
	{ "enf", VG_ACT_CLOCK_ACCEPT, NULL, N, N, "enforcement team may not" },
	{ "enf", VG_ACT_AUDIT_ACK, NULL, N, N, "enforcement team may not" },

	{ "dpo", VG_ACT_CLIP_LIST, "DSAR-17", Y, Y, NULL },
	{ "dpo", VG_ACT_CLIP_VIEW, "DSAR-17", Y, Y, NULL },
	{ "dpo", VG_ACT_SNAPSHOT, "DSAR-17", N, N, "live" },
	{ "dpo", VG_ACT_HOLD_PLACE, "DISC-3", Y, Y, NULL },
	{ "dpo", VG_ACT_HOLD_RELEASE, "DISC-3", Y, Y, NULL },
	{ "dpo", VG_ACT_EXPORT, "DISC-3", Y, Y, NULL },
	{ "dpo", VG_ACT_AUDIT_READ, NULL, Y, Y, NULL },
	{ "dpo", VG_ACT_REPORT, NULL, Y, Y, NULL },
	{ "dpo", VG_ACT_CONFIG_CHECK, NULL, N, N, "may not check" },
	{ "dpo", VG_ACT_DISCLOSURE_LIST, NULL, Y, Y, NULL },
	{ "dpo", VG_ACT_HOLD_LIST, NULL, Y, Y, NULL },
	{ "dpo", VG_ACT_CLOCK_ACCEPT, NULL, Y, Y, NULL },
	{ "dpo", VG_ACT_AUDIT_ACK, NULL, Y, Y, NULL },

	{ "inst", VG_ACT_CLIP_LIST, "JOB-553", N, N, "no recorded footage" },
	{ "inst", VG_ACT_CLIP_VIEW, "JOB-553", N, N, "no recorded footage" },
	{ "inst", VG_ACT_SNAPSHOT, "JOB-553", Y, Y, NULL },
	{ "inst", VG_ACT_HOLD_PLACE, "JOB-553", N, N, "installers may not" },
	{ "inst", VG_ACT_HOLD_RELEASE, "JOB-553", N, N, "installers may not" },
	{ "inst", VG_ACT_EXPORT, "JOB-553", N, N, "installers may not export" },
	{ "inst", VG_ACT_AUDIT_READ, NULL, N, N, "installers may not" },
	{ "inst", VG_ACT_REPORT, NULL, N, N, "installers may not" },
	{ "inst", VG_ACT_CONFIG_CHECK, NULL, Y, Y, NULL },
	{ "inst", VG_ACT_DISCLOSURE_LIST, NULL, N, N, "installers may not" },
	{ "inst", VG_ACT_HOLD_LIST, NULL, N, N, "installers may not" },
	{ "inst", VG_ACT_CLOCK_ACCEPT, NULL, N, N, "installers may not" },
	{ "inst", VG_ACT_AUDIT_ACK, NULL, N, N, "installers may not" },

	{ "aud", VG_ACT_CLIP_LIST, "ASB-1042", N, N, "auditors see no footage" },
	{ "aud", VG_ACT_CLIP_VIEW, "ASB-1042", N, N, "auditors see no footage" },
	{ "aud", VG_ACT_SNAPSHOT, "ASB-1042", N, N, "auditors see no footage" },
	{ "aud", VG_ACT_HOLD_PLACE, "ASB-1042", N, N, "auditors may not" },
	{ "aud", VG_ACT_HOLD_RELEASE, "ASB-1042", N, N, "auditors may not" },
	{ "aud", VG_ACT_EXPORT, "ASB-1042", N, N, "auditors may not" },
	{ "aud", VG_ACT_AUDIT_READ, NULL, Y, Y, NULL },
	{ "aud", VG_ACT_REPORT, NULL, Y, Y, NULL },
	{ "aud", VG_ACT_CONFIG_CHECK, NULL, N, N, "auditors may not" },
	{ "aud", VG_ACT_DISCLOSURE_LIST, NULL, Y, Y, NULL },
	{ "aud", VG_ACT_HOLD_LIST, NULL, N, N, "auditors may not" },
	{ "aud", VG_ACT_CLOCK_ACCEPT, NULL, N, N, "auditors may not" },
	{ "aud", VG_ACT_AUDIT_ACK, NULL, N, N, "auditors may not" },
};

static int check(const char *login, enum vg_action act, const char *site, const char *purpose,
		 const char *ref, struct vg_policy_decision *d)
{
	struct vg_policy_request r = { login, act, site, purpose, ref };
	int rc = vg_policy_check(&pol, &r, d);

	/* The return code and the decision always agree, and say so first. */
	assert_int_equal(rc == 0, d->allowed);
	assert_true(strncmp(d->reason, d->allowed ? "allowed: " : "refused: ", 9) == 0);
	assert_true(rc == 0 || rc == -VG_EDENIED);
	return rc;
}

static void test_whole_matrix(void **state)
{
	static const char *const sites[2] = { "Oak Court", "Birch Row" };
	struct vg_policy_decision d;
	size_t i;
	int s, seen[VG_ROLE_COUNT][VG_ACT_COUNT] = { { 0 } };

	for (i = 0; i < sizeof(matrix) / sizeof(matrix[0]); i++) {
		const struct row *m = &matrix[i];

		for (s = 0; s < 2; s++) {
			int want = s == 0 ? m->at_own : m->at_other;

			check(m->login, m->act, sites[s], "investigating damage", m->ref, &d);
			print_message("    %-7s %-15s %-9s -> %s\n", m->login,
				      vg_action_name(m->act), sites[s], d.reason);
			assert_int_equal(d.allowed, want);
			assert_non_null(strstr(d.reason, m->login));
			if (!want && m->deny_word != NULL)
				assert_non_null(strstr(d.reason, m->deny_word));
			assert_true(d.role >= 0);
			seen[d.role][m->act] = 1;
		}
	}
	/* The matrix covers every role x action pair. */
	for (s = 0; s < VG_ROLE_COUNT; s++) {
		for (i = 0; i < VG_ACT_COUNT; i++)
			assert_int_equal(seen[s][i], 1);
	}
}

static void test_area_manager_sentence(void **state)
{
	struct vg_policy_decision d;

	assert_int_equal(check("jsmith", VG_ACT_CLIP_VIEW, "Elm House", "damage", "ASB-1", &d),
			 -VG_EDENIED);
	assert_string_equal(d.reason, "refused: jsmith is an area manager for Oak Court, "
			    "not for Elm House (policy 3.8)");
	assert_int_equal(check("jsmith", VG_ACT_CLIP_VIEW, "Oak Court", "damage", "ASB-1", &d), 0);
	assert_non_null(strstr(d.reason, "area manager for Oak Court"));
	/* lgreen manages pjones only: Birch Row yes, Oak Court no. */
	assert_int_equal(check("lgreen", VG_ACT_CLIP_VIEW, "Birch Row", "damage", "ASB-1", &d), 0);
	assert_int_equal(check("lgreen", VG_ACT_CLIP_VIEW, "Oak Court", "damage", "ASB-1", &d),
			 -VG_EDENIED);
	assert_non_null(strstr(d.reason, "line manager for Birch Row, not for Oak Court"));
	assert_int_equal(check("nolines", VG_ACT_CLIP_VIEW, "Oak Court", "x", "ASB-1", &d),
			 -VG_EDENIED);
	assert_non_null(strstr(d.reason, "manages no area manager"));
}

static void test_residents_and_unknown_refused(void **state)
{
	struct vg_policy_decision d;
	int a;

	for (a = 0; a < VG_ACT_COUNT; a++) {
		assert_int_equal(check("resident42", (enum vg_action)a, "Oak Court", "my car",
				       "DSAR-17", &d), -VG_EDENIED);
		assert_non_null(strstr(d.reason, "no account"));
		assert_non_null(strstr(d.reason, "3.10"));
		assert_int_equal(d.role, -1);
		assert_int_equal(check(NULL, (enum vg_action)a, "Oak Court", "x", "ASB-1", &d),
				 -VG_EDENIED);
		assert_int_equal(check("", (enum vg_action)a, "Oak Court", "x", "ASB-1", &d),
				 -VG_EDENIED);
	}
	/* A user whose role the table does not know has no rights. */
	{
		struct vg_user odd[] = { { "bob", NULL, "superuser", oak, 1, NULL } };
		struct vg_policy p = { odd, 1 };
		struct vg_policy_request r = { "bob", VG_ACT_CLIP_VIEW, "Oak Court", "x", "ASB-1" };

		assert_int_equal(vg_policy_check(&p, &r, &d), -VG_EDENIED);
		assert_non_null(strstr(d.reason, "superuser"));
	}
}

static void test_purpose_reference_site_required(void **state)
{
	struct vg_policy_decision d;
	static const char *const users[] = { "jsmith", "mbrown", "enf", "dpo" };
	size_t u;

	for (u = 0; u < 4; u++) {
		const char *ref = strcmp(users[u], "dpo") == 0 ? "DSAR-17" : "ASB-1042";

		assert_int_equal(check(users[u], VG_ACT_CLIP_VIEW, "Oak Court", NULL, ref, &d),
				 -VG_EDENIED);
		assert_non_null(strstr(d.reason, "purpose"));
		assert_int_equal(check(users[u], VG_ACT_CLIP_VIEW, "Oak Court", "  ", ref, &d),
				 -VG_EDENIED);
		assert_int_equal(check(users[u], VG_ACT_CLIP_VIEW, "Oak Court", "damage", NULL, &d),
				 -VG_EDENIED);
		assert_non_null(strstr(d.reason, "--reference"));
		assert_int_equal(check(users[u], VG_ACT_CLIP_VIEW, "Oak Court", "damage", "", &d),
				 -VG_EDENIED);
		assert_int_equal(check(users[u], VG_ACT_CLIP_VIEW, NULL, "damage", ref, &d),
				 -VG_EDENIED);
		assert_non_null(strstr(d.reason, "site"));
	}
	/* Non-footage actions need none of these. */
	assert_int_equal(check("aud", VG_ACT_AUDIT_READ, NULL, NULL, NULL, &d), 0);
	assert_int_equal(check("inst", VG_ACT_CONFIG_CHECK, NULL, NULL, NULL, &d), 0);
}

static void test_reference_rules(void **state)
{
	struct vg_policy_decision d;

	/* Enforcement: only ASB / crime / tenancy case numbers, with a digit. */
	assert_int_equal(check("enf", VG_ACT_CLIP_VIEW, "Elm House", "x", "because", &d),
			 -VG_EDENIED);
	assert_non_null(strstr(d.reason, "ASB-, CRIME- or CASE-"));
	assert_int_equal(check("enf", VG_ACT_CLIP_VIEW, "Elm House", "x", "ASB-none", &d),
			 -VG_EDENIED);
	assert_int_equal(check("enf", VG_ACT_CLIP_VIEW, "Elm House", "x", "DSAR-17", &d),
			 -VG_EDENIED);
	assert_int_equal(check("enf", VG_ACT_CLIP_VIEW, "Elm House", "x", "ASB-1042 x", &d),
			 -VG_EDENIED);
	assert_int_equal(check("enf", VG_ACT_CLIP_VIEW, "Elm House", "x", "asb-2024/17", &d), 0);
	assert_non_null(strstr(d.reason, "under ASB reference asb-2024/17"));
	/* DPO views only for an agreed subject access request (3.10). */
	assert_int_equal(check("dpo", VG_ACT_CLIP_VIEW, "Elm House", "x", "DISC-3", &d),
			 -VG_EDENIED);
	assert_non_null(strstr(d.reason, "subject access"));
	assert_int_equal(check("dpo", VG_ACT_EXPORT, "Elm House", "police request", "CRIME-99",
			       &d), 0);
	/* An installer's snapshot needs a job number, not a case. */
	assert_int_equal(check("inst", VG_ACT_SNAPSHOT, "Oak Court", "siting", "ASB-1", &d),
			 -VG_EDENIED);
	assert_non_null(strstr(d.reason, "JOB-"));
	assert_string_equal(vg_policy_reference_kind("DSAR-2024-17"), "DSAR");
	assert_null(vg_policy_reference_kind("DSAR-"));
	assert_null(vg_policy_reference_kind("XYZ-12"));
}

static void test_names_round_trip(void **state)
{
	int i;

	for (i = 0; i < VG_ROLE_COUNT; i++)
		assert_int_equal(vg_role_parse(vg_role_name((enum vg_role)i)), i);
	for (i = 0; i < VG_ACT_COUNT; i++)
		assert_int_equal(vg_action_parse(vg_action_name((enum vg_action)i)), i);
	assert_int_equal(vg_role_parse("admin"), -1);
	assert_int_equal(vg_action_parse("clip.delete"), -1);
	assert_int_equal(vg_action_is_footage(VG_ACT_CLIP_VIEW), 1);
	assert_int_equal(vg_action_is_footage(VG_ACT_AUDIT_READ), 0);
}

static void expect_invalid(const struct vg_user *u, int n, const char *word)
{
	char why[1024];

	assert_int_equal(vg_policy_validate_users(u, n, why, sizeof(why)), -VG_ECONFIG);
	print_message("    %s", why);
	assert_non_null(strstr(why, word));
}

static void test_validate_users(void **state)
{
	char why[1024];

	assert_int_equal(vg_policy_validate_users(staff, pol.n_users, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	expect_invalid(NULL, 0, "no users");
	{
		struct vg_user u[] = {
			{ "inst", NULL, "installer", NULL, 0, NULL },
			{ "aud", NULL, "auditor", NULL, 0, NULL },
			{ "am", NULL, "area_manager", NULL, 0, NULL },	/* no sites */
		};

		expect_invalid(u, 3, "nobody");
		expect_invalid(u, 3, "area manager 'am' has no sites");
	}
	{
		struct vg_user u[] = {
			{ "jsmith", NULL, "area_manager", oak, 1, NULL },
			{ "enf", NULL, "enforcement", NULL, 0, NULL },
		};

		expect_invalid(u, 2, "every user may view footage");
	}
	{
		struct vg_user u[] = {
			{ "jsmith", NULL, "area_manager", oak, 1, "ghost" },
			{ "jsmith", NULL, "auditor", NULL, 0, NULL },
			{ "x", NULL, "admin", NULL, 0, NULL },
			{ "y", NULL, "area_manager", elm, 1, "x" },
		};

		expect_invalid(u, 4, "'ghost', who is not a user");
		expect_invalid(u, 4, "listed twice");
		expect_invalid(u, 4, "unknown role 'admin'");
		expect_invalid(u, 4, "not line_manager");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_matrix),
		cmocka_unit_test(test_area_manager_sentence),
		cmocka_unit_test(test_residents_and_unknown_refused),
		cmocka_unit_test(test_purpose_reference_site_required),
		cmocka_unit_test(test_reference_rules),
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_validate_users),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
