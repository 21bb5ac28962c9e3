/*
 * report.c - the review report document (report.h): the period and its
 * days, the sections in order, the principles and clauses they answer,
 * and the signature.
 */
#define VG_LOG_MODULE "REPORT"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/base64.h>

#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/timeutil.h"
#include "report_impl.h"

/* The 12 guiding principles and the policy clauses the firmware gives
 * evidence for: the sections that hold the evidence, and the citations
 * whose actions count against it ('|' between them; "*" for every
 * action: the review itself). An action cites one clause (rep_action). */
static const struct {
	const char *key, *title, *sections, *cites;
} principles[] = {
	{ "1", "Specified purpose and pressing need", "register",
	  "principle 1|policy 3.4|policy 4.2" },
	{ "2", "Effect on privacy; regular review", "register", "principle 2|policy 3.11" },
	{ "3", "Transparency and a published contact point", "register",
	  "principle 3|policy 3.5" },
	{ "4", "Responsibility and accountability", "access integrity", "principle 4" },
	{ "5", "Clear rules before use", "register", "principle 5" },
	{ "6", "No more stored than needed; deleted when done", "retention",
	  "principle 6|policy 3.7" },
	{ "7", "Restricted access; disclosure only when necessary", "access disclosures",
	  "principle 7|policy 3.8|policy 3.9|policy 3.10" },
	{ "8", "Operational, technical and competency standards", "", "principle 8" },
	{ "9", "Security against unauthorised access and use", "integrity",
	  "principle 9|policy 3.6" },
	{ "10", "Review and audit; regular reports", "register availability retention access "
						     "disclosures integrity", "*" },
	{ "11", "Effective use; images of evidential value", "availability integrity",
	  "principle 11" },
	{ "12", "Reference databases accurate", "", "principle 12" },
}, clauses[] = {
	{ "3.4", "Temporary cameras", "register", "policy 3.4" },
	{ "3.5", "Siting and signage", "register", "policy 3.5" },
	{ "3.6", "Recorded and securely stored", "integrity", "policy 3.6" },
	{ "3.7", "Retention; longer for evidence", "retention", "policy 3.7" },
	{ "3.8", "Access restricted to the area's managers and enforcement", "access",
	  "policy 3.8" },
	{ "3.9", "Disclosures to police, prosecutors, lawyers, media", "disclosures",
	  "policy 3.9" },
	{ "3.10", "No residents or third parties except an agreed DSAR", "access disclosures",
	  "policy 3.10" },
	{ "3.11", "Sound", "register", "policy 3.11" },
	{ "4.1", "Monitoring the policy", "register availability retention access disclosures "
					 "integrity", "*" },
	{ "4.2", "Register of temporary CCTV", "register", "policy 4.2" },
};

/* The sections, in the order of the document; integrity last (it takes
 * the audit chain's verdict). */
static const struct {
	const char *key;
	struct json_object *(*fn)(struct rep *r);
} sections[] = {
	{ "register", rep_register }, { "availability", rep_availability },
	{ "retention", rep_retention }, { "access", rep_access },
	{ "disclosures", rep_disclosures }, { "integrity", rep_integrity },
};

static const char *const not_firmware[] = {
	[7] = "Not the firmware's job: installation standards and staff competency are "
	      "organisational.",
	[11] = "Not the firmware's job: vigil matches nothing against reference databases "
	       "(no face or number-plate recognition).",
};

struct json_object *rep_str(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

struct json_object *rep_time(int64_t us)
{
	char b[40];

	if (us == 0)
		return NULL;
	vg_time_format(us, b, sizeof(b));
	return json_object_new_string(b);
}

sqlite3_stmt *rep_prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		vg_warnx("report query failed: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

sqlite3_stmt *rep_audit_select(struct rep *r, const char *columns, const char *where,
			       const char *tail)
{
	char sql[2048];
	sqlite3_stmt *st;

	snprintf(sql, sizeof(sql), "SELECT %s FROM audit WHERE seq BETWEEN ?3 AND ?4"
		 " AND +time_us >= ?1 AND +time_us < ?2 AND (%s) %s", columns, where, tail);
	st = rep_prepare(r->aud, sql);
	if (st) {
		sqlite3_bind_int64(st, 1, r->from_us);
		sqlite3_bind_int64(st, 2, r->to_us);
		sqlite3_bind_int64(st, 3, r->seq_lo);
		sqlite3_bind_int64(st, 4, r->seq_hi);
	}
	return st;
}

void rep_action(struct rep *r, const char *section, const char *clause, const char *fmt, ...)
{
	struct json_object *o = json_object_new_object();
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "section", json_object_new_string(section));
	json_object_object_add(o, "clause", json_object_new_string(clause));
	json_object_object_add(o, "text", json_object_new_string(text));
	json_object_array_add(r->actions, o);
}

int rep_day_of(const struct rep *r, int64_t t)
{
	int lo = 0, hi = r->n_days - 1;

	if (r->n_days == 0 || t < r->days[0].start_us || t >= r->days[hi].end_us)
		return -1;
	while (lo < hi) {
		int mid = (lo + hi + 1) / 2;

		if (r->days[mid].start_us <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* The box's local days that meet [from, to), each clipped to it. Local
 * midnights come from mktime, so a day is 23 or 25 hours long when the
 * clocks change. */
static int make_days(struct rep *r)
{
	time_t t = (time_t)(r->from_us / VG_US_PER_S);
	struct tm tm;
	int cap = VG_REPORT_MAX_DAYS + 2;

	r->days = calloc((size_t)cap, sizeof(*r->days));
	if (r->days == NULL || localtime_r(&t, &tm) == NULL)
		return -VG_ENOMEM;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	for (int64_t start = (int64_t)mktime(&tm) * VG_US_PER_S; start < r->to_us;) {
		struct rep_day *d;
		int64_t end;

		if (r->n_days == cap)
			return -VG_EINVAL;
		d = &r->days[r->n_days++];
		strftime(d->date, sizeof(d->date), "%Y-%m-%d", &tm);
		tm.tm_mday++;
		tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		tm.tm_isdst = -1;
		end = (int64_t)mktime(&tm) * VG_US_PER_S;
		d->start_us = start < r->from_us ? r->from_us : start;
		d->end_us = end > r->to_us ? r->to_us : end;
		start = end;
	}
	return 0;
}

/* 1 if clause is one of cites ("a|b|c"), or cites is "*". */
static int cited(const char *cites, const char *clause)
{
	size_t n = strlen(clause);

	if (strcmp(cites, "*") == 0)
		return 1;
	for (const char *p = cites; (p = strstr(p, clause)) != NULL; p += n)
		if ((p == cites || p[-1] == '|') && (p[n] == '|' || p[n] == '\0'))
			return 1;
	return 0;
}

static int open_actions(struct rep *r, const char *cites)
{
	int n = 0;

	for (size_t i = 0; i < json_object_array_length(r->actions); i++) {
		struct json_object *a = json_object_array_get_idx(r->actions, i), *c;

		json_object_object_get_ex(a, "clause", &c);
		n += cited(cites, json_object_get_string(c));
	}
	return n;
}

/* The principles and clauses, with where their evidence is and how many
 * actions cite them. */
static struct json_object *coverage(struct rep *r, int clause_list)
{
	struct json_object *arr = json_object_new_array();
	size_t n = clause_list ? sizeof(clauses) / sizeof(clauses[0])
			       : sizeof(principles) / sizeof(principles[0]);

	for (size_t i = 0; i < n; i++) {
		const char *key = clause_list ? clauses[i].key : principles[i].key;
		const char *title = clause_list ? clauses[i].title : principles[i].title;
		const char *secs = clause_list ? clauses[i].sections : principles[i].sections;
		const char *cites = clause_list ? clauses[i].cites : principles[i].cites;
		struct json_object *o = json_object_new_object(), *sa = json_object_new_array();
		char buf[200], *save = NULL, *tok;

		json_object_object_add(o, clause_list ? "clause" : "principle",
				       json_object_new_string(key));
		json_object_object_add(o, "title", json_object_new_string(title));
		snprintf(buf, sizeof(buf), "%s", secs);
		for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
			json_object_array_add(sa, json_object_new_string(tok));
		json_object_object_add(o, "sections", sa);
		json_object_object_add(o, "actions", json_object_new_int(open_actions(r, cites)));
		if (!clause_list && not_firmware[i])
			json_object_object_add(o, "note", json_object_new_string(not_firmware[i]));
		json_object_array_add(arr, o);
	}
	return arr;
}

static struct json_object *header_device(const struct vg_report_env *env)
{
	struct json_object *o = json_object_new_object();
	char fpr[VG_SIGN_FPR_HEX_LEN] = "", pem[VG_SIGN_PEM_MAX] = "", id[32];

	vg_sign_fingerprint(env->device_key, fpr);
	vg_sign_pubkey_pem(env->device_key, pem, sizeof(pem));
	/* As in export manifests: the device key names the box. */
	snprintf(id, sizeof(id), "vigil-%.16s", fpr);
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "firmware", rep_str(env->firmware));
	json_object_object_add(o, "public_key_sha256", json_object_new_string(fpr));
	json_object_object_add(o, "public_key_pem", json_object_new_string(pem));
	return o;
}

static struct json_object *header_site(const struct vg_config *cfg)
{
	struct json_object *o;

	if (!cfg->has_site)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "name", rep_str(cfg->site.name));
	json_object_object_add(o, "address", rep_str(cfg->site.address));
	json_object_object_add(o, "area_manager", rep_str(cfg->site.area_manager));
	json_object_object_add(o, "contact", rep_str(cfg->site.contact));
	return o;
}

static struct json_object *header_checkpoint(const struct vg_audit_checkpoint *cp)
{
	struct json_object *o;
	char h[2 * VG_AUDIT_HASH_LEN + 1], b64[AV_BASE64_SIZE(VG_SIGN_MAX_SIG)];

	if (cp == NULL)
		return NULL;
	o = json_object_new_object();
	for (int i = 0; i < VG_AUDIT_HASH_LEN; i++)
		snprintf(h + 2 * i, 3, "%02x", cp->hash[i]);
	av_base64_encode(b64, sizeof(b64), cp->sig, (int)cp->sig_len);
	json_object_object_add(o, "seq", json_object_new_int64(cp->seq));
	json_object_object_add(o, "hash", json_object_new_string(h));
	json_object_object_add(o, "time", rep_time(cp->time_us));
	json_object_object_add(o, "signature_base64", json_object_new_string(b64));
	return o;
}

static int64_t thread_cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * VG_US_PER_S + ts.tv_nsec / 1000;
}

/* The chain is verified on a thread of its own while the sections run: on
 * a year of a busy box it is the longest single job (docs/performance.md). */
struct chain_job {
	struct rep *r;
	struct vg_audit_problem prob;
	struct vg_audit_stats st;
	int rc;
};

static void *chain_main(void *arg)
{
	struct chain_job *j = arg;

	int64_t c0 = thread_cpu_us();

	j->rc = rep_audit_chain(j->r, &j->prob, &j->st);
	vg_debug("report: audit chain verified in %.0f ms of CPU",
		 (double)(thread_cpu_us() - c0) / 1000.0);
	return NULL;
}

static void add_chain(struct json_object *integrity, const struct chain_job *j)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "intact", json_object_new_boolean(j->rc == 0));
	json_object_object_add(o, "rows", json_object_new_int64(j->st.rows));
	json_object_object_add(o, "checkpoints", json_object_new_int64(j->st.checkpoints));
	json_object_object_add(o, "first_bad_row", j->rc == 0 ? NULL :
			       json_object_new_int64(j->prob.seq));
	json_object_object_add(o, "problem", j->rc == 0 ? NULL : rep_str(j->prob.msg));
	json_object_object_add(integrity, "audit_chain", o);
}

static int check_period(const struct vg_report_request *rq, char *why, size_t whylen)
{
	if (rq->from_us <= 0 || rq->to_us <= rq->from_us) {
		snprintf(why, whylen, "give the period with --from and --to, --to later than "
			 "--from");
		return -VG_EINVAL;
	}
	if (rq->from_us >= rq->now_us) {
		snprintf(why, whylen, "the period starts in the future; nothing has happened yet");
		return -VG_EINVAL;
	}
	if (rq->to_us - rq->from_us > (int64_t)VG_REPORT_MAX_DAYS * 86400 * VG_US_PER_S) {
		snprintf(why, whylen, "a report covers at most %d days; make one for each year "
			 "(or shorter period)", VG_REPORT_MAX_DAYS);
		return -VG_EINVAL;
	}
	return 0;
}

int vg_report_build(const struct vg_report_env *env, const struct vg_report_request *rq,
		    char **json, size_t *len, char *why, size_t whylen)
{
	struct rep r;
	struct chain_job chain;
	struct json_object *root = NULL, *sec = NULL, *o;
	pthread_t thr;
	int have_thread = 0, rc;
	char tz[128];

	*json = NULL;
	*len = 0;
	why[0] = '\0';
	rc = check_period(rq, why, whylen);
	if (rc < 0)
		return rc;
	memset(&r, 0, sizeof(r));
	r.env = env;
	r.rq = rq;
	r.from_us = rq->from_us;
	r.to_us = rq->to_us < rq->now_us ? rq->to_us : rq->now_us;
	r.names = rq->role && strcmp(rq->role, "dpo") == 0;
	r.actions = json_object_new_array();
	rc = make_days(&r);
	if (rc == 0)
		rc = rep_open_sources(&r, why, whylen);
	if (rc < 0)
		goto out;
	memset(&chain, 0, sizeof(chain));
	chain.r = &r;
	have_thread = pthread_create(&thr, NULL, chain_main, &chain) == 0;
	if (!have_thread)
		chain_main(&chain);

	root = json_object_new_object();
	sec = json_object_new_object();
	json_object_object_add(root, "format", json_object_new_string(VG_REPORT_FORMAT));
	json_object_object_add(root, "format_version",
			       json_object_new_int(VG_REPORT_FORMAT_VERSION));
	json_object_object_add(root, "generated", rep_time(rq->now_us));
	o = json_object_new_object();
	json_object_object_add(o, "from", rep_time(rq->from_us));
	json_object_object_add(o, "to", rep_time(rq->to_us));
	json_object_object_add(o, "covered_to", rep_time(r.to_us));
	json_object_object_add(o, "days", json_object_new_int(r.n_days));
	json_object_object_add(o, "time_zone", json_object_new_string(rep_time_zone(tz, sizeof(tz))));
	json_object_object_add(root, "period", o);
	o = json_object_new_object();
	json_object_object_add(o, "person", json_object_new_string(rep_person(&r, rq->login,
									       rq->role)));
	json_object_object_add(o, "role", rep_str(rq->role));
	json_object_object_add(o, "names_shown", json_object_new_boolean(r.names));
	json_object_object_add(root, "prepared_for", o);
	json_object_object_add(root, "site", header_site(env->cfg));
	json_object_object_add(root, "device", header_device(env));
	o = json_object_new_object();
	json_object_object_add(o, "audit_rows_through_seq", json_object_new_int64(r.audit_seq));
	json_object_object_add(o, "audit_checkpoint", header_checkpoint(env->checkpoint));
	json_object_object_add(root, "sources", o);

	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		int64_t t0 = vg_time_mono_us(), c0 = thread_cpu_us();

		o = sections[i].fn(&r);
		vg_debug("report section %s: %.0f ms (%.0f ms of CPU)", sections[i].key,
			 (double)(vg_time_mono_us() - t0) / 1000.0,
			 (double)(thread_cpu_us() - c0) / 1000.0);
		if (o == NULL) {
			snprintf(why, whylen, "the %s section of the report could not be built "
				 "(see vigild's log)", sections[i].key);
			rc = -VG_EDB;
			goto out;
		}
		json_object_object_add(sec, sections[i].key, o);
	}
	/* Integrity came last: the chain's verdict joins it now. */
	if (have_thread) {
		int64_t t0 = vg_time_mono_us();

		pthread_join(thr, NULL);
		vg_debug("report: waited %.0f ms more for the audit chain's verification",
			 (double)(vg_time_mono_us() - t0) / 1000.0);
	}
	have_thread = 0;
	add_chain(o, &chain);
	if (chain.rc != 0)
		rep_action(&r, "integrity", "principle 9",
			   "The audit log failed verification (first bad row %lld: %s). Keep the "
			   "box as it is and call the installer; the log's off-box copy, if there "
			   "is one, holds the true record.", (long long)chain.prob.seq,
			   chain.prob.msg);
	json_object_object_add(root, "sections", sec);
	sec = NULL;
	json_object_object_add(root, "principles", coverage(&r, 0));
	json_object_object_add(root, "policy_clauses", coverage(&r, 1));
	json_object_object_add(root, "actions", json_object_get(r.actions));
	{
		size_t n;
		const char *s = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE, &n);

		*json = malloc(n + 2);
		if (*json == NULL) {
			rc = -VG_ENOMEM;
			goto out;
		}
		memcpy(*json, s, n);
		(*json)[n] = '\n';	/* a text file ends with a newline */
		(*json)[n + 1] = '\0';
		*len = n + 1;
	}
out:
	if (have_thread)
		pthread_join(thr, NULL);
	if (rc < 0 && why[0] == '\0')
		snprintf(why, whylen, "%s", vg_strerror(rc));
	json_object_put(sec);
	json_object_put(root);
	json_object_put(r.actions);
	rep_close_sources(&r);
	free(r.days);
	free(r.people);
	return rc;
}

int vg_report_sign(struct vg_sign_key *k, const char *json, size_t len, uint8_t *sig,
		   size_t cap, size_t *siglen, char sha256_hex[65])
{
	uint8_t d[VG_SIGN_DIGEST_LEN];

	vg_sign_sha256(json, len, d);
	for (int i = 0; i < VG_SIGN_DIGEST_LEN; i++)
		snprintf(sha256_hex + 2 * i, 3, "%02x", d[i]);
	return vg_sign_digest(k, d, sig, cap, siglen);
}
