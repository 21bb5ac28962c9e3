/*
 * policy.c - the access policy: one table, one check. Every refusal is a
 * sentence naming the person, their role, what they asked for and the
 * policy clause, because it is shown to staff and written to the audit log.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vigil/err.h"
#include "vigil/policy.h"

/* Reference kinds (docs/access-policy.md, "References"). */
enum {
	REF_ASB = 1 << 0,	/* anti-social behaviour case */
	REF_CRIME = 1 << 1,	/* police crime reference */
	REF_CASE = 1 << 2,	/* tenancy management case */
	REF_DSAR = 1 << 3,	/* agreed data subject access request */
	REF_DISC = 1 << 4,	/* disclosure request (police, prosecutor, solicitor) */
	REF_JOB = 1 << 5,	/* installation / maintenance job */
};

static const struct {
	const char *prefix;
	unsigned bit;
	const char *name;
} ref_kinds[] = {
	{ "ASB", REF_ASB, "ASB" },
	{ "CRIME", REF_CRIME, "CRIME" },
	{ "CASE", REF_CASE, "CASE" },
	{ "DSAR", REF_DSAR, "DSAR" },
	{ "DISC", REF_DISC, "DISC" },
	{ "JOB", REF_JOB, "JOB" },
};

#define REFS_MANAGER (REF_ASB | REF_CRIME | REF_CASE | REF_DSAR)
#define REFS_ENFORCE (REF_ASB | REF_CRIME | REF_CASE)
#define REFS_DPO (REF_DSAR | REF_DISC | REF_CRIME)

enum scope {
	DENY = 0,	/* never */
	ANY,		/* not about one site's footage: no site, purpose or reference */
	OWN_SITES,	/* the sites listed on the user's own account */
	MANAGED_SITES,	/* sites of the area managers they line-manage, and their own */
	ANY_SITE,	/* every site, with a reference of an accepted kind */
};

struct rule {
	enum scope scope;
	unsigned refs;		/* accepted reference kinds for footage actions;
				 * 0 with a site scope: the site only, no
				 * purpose or reference (no footage is shown) */
	const char *clause;	/* where the rule comes from */
};

#define BY_DPO "policy 3.9: disclosures are made by the data protection officer"
/* Accepting the clock lets retention delete what a clamp held back:
 * deletion is the data protection officer's to answer for. */
#define CLOCK_BY_DPO "policy 3.7: the data protection officer answers for retention"
#define AUDIT_ACK_BY_DPO "principle 10: a broken audit log is the data protection officer's to acknowledge"
#define R(s, r, c) { s, r, c }
#define NO(c) { DENY, 0, c }

/* THE table: role x action. Keep docs/access-policy.md in step. */
static const struct rule table[VG_ROLE_COUNT][VG_ACT_COUNT] = {
	[VG_ROLE_AREA_MANAGER] = {
		[VG_ACT_CLIP_LIST] = R(OWN_SITES, REFS_MANAGER, "policy 3.8"),
		[VG_ACT_CLIP_VIEW] = R(OWN_SITES, REFS_MANAGER, "policy 3.8"),
		[VG_ACT_SNAPSHOT] = R(OWN_SITES, REFS_MANAGER, "policy 3.8"),
		[VG_ACT_HOLD_PLACE] = R(OWN_SITES, REFS_MANAGER, "policy 3.7 and 3.8"),
		[VG_ACT_HOLD_RELEASE] = R(OWN_SITES, REFS_MANAGER, "policy 3.7 and 3.8"),
		[VG_ACT_EXPORT] = NO(BY_DPO),
		[VG_ACT_AUDIT_READ] = NO("principle 10: the audit log is reviewed by auditors"),
		[VG_ACT_REPORT] = NO("principle 10"),
		[VG_ACT_CONFIG_CHECK] = NO("siting is the installer's job"),
		[VG_ACT_DISCLOSURE_LIST] = NO("policy 3.9"),
		[VG_ACT_HOLD_LIST] = R(OWN_SITES, 0, "policy 3.7 and 3.8"),
		[VG_ACT_CLOCK_ACCEPT] = NO(CLOCK_BY_DPO),
		[VG_ACT_AUDIT_ACK] = NO(AUDIT_ACK_BY_DPO),
	},
	[VG_ROLE_LINE_MANAGER] = {
		[VG_ACT_CLIP_LIST] = R(MANAGED_SITES, REFS_MANAGER, "policy 3.8"),
		[VG_ACT_CLIP_VIEW] = R(MANAGED_SITES, REFS_MANAGER, "policy 3.8"),
		[VG_ACT_SNAPSHOT] = R(MANAGED_SITES, REFS_MANAGER, "policy 3.8"),
		[VG_ACT_HOLD_PLACE] = R(MANAGED_SITES, REFS_MANAGER, "policy 3.7 and 3.8"),
		[VG_ACT_HOLD_RELEASE] = R(MANAGED_SITES, REFS_MANAGER, "policy 3.7 and 3.8"),
		[VG_ACT_EXPORT] = NO(BY_DPO),
		[VG_ACT_AUDIT_READ] = NO("principle 10: the audit log is reviewed by auditors"),
		[VG_ACT_REPORT] = NO("principle 10"),
		[VG_ACT_CONFIG_CHECK] = NO("siting is the installer's job"),
		[VG_ACT_DISCLOSURE_LIST] = NO("policy 3.9"),
		[VG_ACT_HOLD_LIST] = R(MANAGED_SITES, 0, "policy 3.7 and 3.8"),
		[VG_ACT_CLOCK_ACCEPT] = NO(CLOCK_BY_DPO),
		[VG_ACT_AUDIT_ACK] = NO(AUDIT_ACK_BY_DPO),
	},
	[VG_ROLE_ENFORCEMENT] = {
		[VG_ACT_CLIP_LIST] = R(ANY_SITE, REFS_ENFORCE, "policy 3.8"),
		[VG_ACT_CLIP_VIEW] = R(ANY_SITE, REFS_ENFORCE, "policy 3.8"),
		[VG_ACT_SNAPSHOT] = R(ANY_SITE, REFS_ENFORCE, "policy 3.8"),
		[VG_ACT_HOLD_PLACE] = R(ANY_SITE, REFS_ENFORCE, "policy 3.7 and 3.8"),
		[VG_ACT_HOLD_RELEASE] = R(ANY_SITE, REFS_ENFORCE, "policy 3.7 and 3.8"),
		[VG_ACT_EXPORT] = R(ANY_SITE, REFS_ENFORCE, "policy 3.8 and 3.9"),
		[VG_ACT_AUDIT_READ] = NO("principle 10: the audit log is reviewed by auditors"),
		[VG_ACT_REPORT] = NO("principle 10"),
		[VG_ACT_CONFIG_CHECK] = NO("siting is the installer's job"),
		[VG_ACT_DISCLOSURE_LIST] = NO("policy 3.9"),
		[VG_ACT_HOLD_LIST] = R(ANY_SITE, 0, "policy 3.7 and 3.8"),
		[VG_ACT_CLOCK_ACCEPT] = NO(CLOCK_BY_DPO),
		[VG_ACT_AUDIT_ACK] = NO(AUDIT_ACK_BY_DPO),
	},
	[VG_ROLE_DPO] = {
		[VG_ACT_CLIP_LIST] = R(ANY_SITE, REFS_DPO, "policy 3.9 and 3.10"),
		[VG_ACT_CLIP_VIEW] = R(ANY_SITE, REF_DSAR, "policy 3.10"),
		[VG_ACT_SNAPSHOT] = NO("policy 3.8: live views are for the area's managers"),
		[VG_ACT_HOLD_PLACE] = R(ANY_SITE, REFS_DPO, "policy 3.7 and 3.9"),
		[VG_ACT_HOLD_RELEASE] = R(ANY_SITE, REFS_DPO, "policy 3.7 and 3.9"),
		[VG_ACT_EXPORT] = R(ANY_SITE, REFS_DPO, "policy 3.9 and 3.10"),
		[VG_ACT_AUDIT_READ] = R(ANY, 0, "principle 10"),
		[VG_ACT_REPORT] = R(ANY, 0, "principle 10"),
		[VG_ACT_CONFIG_CHECK] = NO("siting is the installer's job"),
		[VG_ACT_DISCLOSURE_LIST] = R(ANY, 0, "policy 3.9"),
		[VG_ACT_HOLD_LIST] = R(ANY_SITE, 0, "policy 3.7 and 3.9"),
		[VG_ACT_CLOCK_ACCEPT] = R(ANY, 0, "policy 3.7 and principle 6: the data protection officer answers for deletion"),
		[VG_ACT_AUDIT_ACK] = R(ANY, 0, "principle 10: the data protection officer answers for the audit log"),
	},
	[VG_ROLE_INSTALLER] = {
		[VG_ACT_CLIP_LIST] = NO("policy 3.8: installers see no recorded footage"),
		[VG_ACT_CLIP_VIEW] = NO("policy 3.8: installers see no recorded footage"),
		[VG_ACT_SNAPSHOT] = R(ANY_SITE, REF_JOB, "policy 3.5, siting"),
		[VG_ACT_HOLD_PLACE] = NO("policy 3.8"),
		[VG_ACT_HOLD_RELEASE] = NO("policy 3.8"),
		[VG_ACT_EXPORT] = NO("policy 3.9"),
		[VG_ACT_AUDIT_READ] = NO("principle 10: the audit log is reviewed by auditors"),
		[VG_ACT_REPORT] = NO("principle 10"),
		[VG_ACT_CONFIG_CHECK] = R(ANY, 0, "policy 3.5, siting"),
		[VG_ACT_DISCLOSURE_LIST] = NO("policy 3.9"),
		[VG_ACT_HOLD_LIST] = NO("policy 3.8"),
		[VG_ACT_CLOCK_ACCEPT] = NO(CLOCK_BY_DPO),
		[VG_ACT_AUDIT_ACK] = NO(AUDIT_ACK_BY_DPO),
	},
	[VG_ROLE_AUDITOR] = {
		[VG_ACT_CLIP_LIST] = NO("policy 3.8: auditors see no footage"),
		[VG_ACT_CLIP_VIEW] = NO("policy 3.8: auditors see no footage"),
		[VG_ACT_SNAPSHOT] = NO("policy 3.8: auditors see no footage"),
		[VG_ACT_HOLD_PLACE] = NO("policy 3.8"),
		[VG_ACT_HOLD_RELEASE] = NO("policy 3.8"),
		[VG_ACT_EXPORT] = NO("policy 3.9"),
		[VG_ACT_AUDIT_READ] = R(ANY, 0, "principle 10"),
		[VG_ACT_REPORT] = R(ANY, 0, "principle 10"),
		[VG_ACT_CONFIG_CHECK] = NO("siting is the installer's job"),
		[VG_ACT_DISCLOSURE_LIST] = R(ANY, 0, "principle 10 and policy 3.9"),
		[VG_ACT_HOLD_LIST] = NO("policy 3.8: auditors see every hold decision in the audit log"),
		[VG_ACT_CLOCK_ACCEPT] = NO(CLOCK_BY_DPO),
		[VG_ACT_AUDIT_ACK] = NO(AUDIT_ACK_BY_DPO),
	},
};

static const char *const role_names[VG_ROLE_COUNT] = {
	"area_manager", "line_manager", "enforcement", "dpo", "installer", "auditor",
};

/* "jsmith is ..." */
static const char *const role_is[VG_ROLE_COUNT] = {
	"an area manager", "a line manager", "on the enforcement team",
	"the data protection officer", "an installer", "an auditor",
};

/* "... may not" */
static const char *const role_plural[VG_ROLE_COUNT] = {
	"area managers", "line managers", "the enforcement team",
	"the data protection officer", "installers", "auditors",
};

static const struct {
	const char *name;
	const char *verb;	/* "may not ..." */
	int footage;
} actions[VG_ACT_COUNT] = {
	[VG_ACT_CLIP_LIST] = { "clip.list", "list recorded clips", 1 },
	[VG_ACT_CLIP_VIEW] = { "clip.view", "view recorded footage", 1 },
	[VG_ACT_SNAPSHOT] = { "snapshot", "take a live snapshot", 1 },
	[VG_ACT_HOLD_PLACE] = { "hold.place", "place a hold on footage", 1 },
	[VG_ACT_HOLD_RELEASE] = { "hold.release", "release a hold on footage", 1 },
	[VG_ACT_EXPORT] = { "export", "export footage", 1 },
	[VG_ACT_AUDIT_READ] = { "audit.read", "read the audit log", 0 },
	[VG_ACT_REPORT] = { "report", "run reports", 0 },
	[VG_ACT_CONFIG_CHECK] = { "config.check", "check the camera configuration", 0 },
	[VG_ACT_DISCLOSURE_LIST] = { "disclosure.list", "list disclosures", 0 },
	[VG_ACT_HOLD_LIST] = { "hold.list", "list evidence holds", 0 },
	[VG_ACT_CLOCK_ACCEPT] = { "retention.accept_clock",
				  "confirm the clock after a clock clamp", 0 },
	[VG_ACT_AUDIT_ACK] = { "audit.acknowledge", "acknowledge a broken audit log", 0 },
};

const char *vg_role_name(enum vg_role r)
{
	return (int)r >= 0 && r < VG_ROLE_COUNT ? role_names[r] : "unknown";
}

int vg_role_parse(const char *name)
{
	int i;

	for (i = 0; name != NULL && i < VG_ROLE_COUNT; i++) {
		if (strcmp(name, role_names[i]) == 0)
			return i;
	}
	return -1;
}

const char *vg_action_name(enum vg_action a)
{
	return (int)a >= 0 && a < VG_ACT_COUNT ? actions[a].name : "unknown";
}

int vg_action_parse(const char *name)
{
	int i;

	for (i = 0; name != NULL && i < VG_ACT_COUNT; i++) {
		if (strcmp(name, actions[i].name) == 0)
			return i;
	}
	return -1;
}

int vg_action_is_footage(enum vg_action a)
{
	return (int)a >= 0 && a < VG_ACT_COUNT && actions[a].footage;
}

static int empty(const char *s)
{
	if (s == NULL)
		return 1;
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '\0';
}

/* KIND-xxx: a known kind, a dash, then 1..40 of [A-Za-z0-9/-] with at
 * least one digit (a real case number, not "ASB-none"). */
static unsigned ref_kind_bit(const char *ref, const char **name)
{
	size_t i, k, n;
	int digit = 0;

	if (ref == NULL)
		return 0;
	for (k = 0; k < sizeof(ref_kinds) / sizeof(ref_kinds[0]); k++) {
		size_t pl = strlen(ref_kinds[k].prefix);
		const char *rest = ref + pl + 1;

		if (strncasecmp(ref, ref_kinds[k].prefix, pl) != 0 || ref[pl] != '-')
			continue;
		n = strlen(rest);
		if (n == 0 || n > 40)
			return 0;
		for (i = 0; i < n; i++) {
			char c = rest[i];

			if (c >= '0' && c <= '9')
				digit = 1;
			else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' ||
				   c == '/'))
				return 0;
		}
		if (!digit)
			return 0;
		if (name != NULL)
			*name = ref_kinds[k].name;
		return ref_kinds[k].bit;
	}
	return 0;
}

const char *vg_policy_reference_kind(const char *ref)
{
	const char *name = NULL;

	return ref_kind_bit(ref, &name) != 0 ? name : NULL;
}

/* "ASB-, CRIME- or CASE-" */
static void kinds_phrase(unsigned refs, char *buf, size_t cap)
{
	size_t k, nk = sizeof(ref_kinds) / sizeof(ref_kinds[0]), total = 0, done = 0, len = 0;

	for (k = 0; k < nk; k++)
		total += (refs & ref_kinds[k].bit) != 0;
	buf[0] = '\0';
	for (k = 0; k < nk; k++) {
		if (!(refs & ref_kinds[k].bit))
			continue;
		done++;
		if (len >= cap)
			break;
		len += (size_t)snprintf(buf + len, cap - len, "%s%s-",
					done == 1 ? "" : done == total ? " or " : ", ",
					ref_kinds[k].prefix);
	}
}

static const struct vg_user *find_user(const struct vg_policy *p, const char *login)
{
	int i;

	for (i = 0; login != NULL && i < p->n_users; i++) {
		if (p->users[i].login != NULL && strcmp(p->users[i].login, login) == 0)
			return &p->users[i];
	}
	return NULL;
}

static int has_site(const struct vg_user *u, const char *site)
{
	int i;

	for (i = 0; i < u->n_sites; i++) {
		if (u->sites[i] != NULL && strcmp(u->sites[i], site) == 0)
			return 1;
	}
	return 0;
}

static int manages(const struct vg_user *mgr, const struct vg_user *u)
{
	return u->line_manager != NULL && strcmp(u->line_manager, mgr->login) == 0 &&
		vg_role_parse(u->role) == VG_ROLE_AREA_MANAGER;
}

static int in_managed_sites(const struct vg_policy *p, const struct vg_user *mgr, const char *site)
{
	int i;

	if (has_site(mgr, site))
		return 1;
	for (i = 0; i < p->n_users; i++) {
		if (manages(mgr, &p->users[i]) && has_site(&p->users[i], site))
			return 1;
	}
	return 0;
}

/* Append site names "A, B and C" (no duplicates) to buf at *len. */
struct sites_acc {
	const char *names[64];
	int n;
};

static void acc_add(struct sites_acc *s, const struct vg_user *u)
{
	int i, j;

	for (i = 0; i < u->n_sites; i++) {
		for (j = 0; j < s->n; j++) {
			if (strcmp(s->names[j], u->sites[i]) == 0)
				break;
		}
		if (j == s->n && s->n < 64 && u->sites[i] != NULL)
			s->names[s->n++] = u->sites[i];
	}
}

static void acc_phrase(const struct sites_acc *s, char *buf, size_t cap)
{
	size_t len = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < s->n && len < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%s",
					i == 0 ? "" : i == s->n - 1 ? " and " : ", ", s->names[i]);
}

static int decide(struct vg_policy_decision *d, int allowed, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int decide(struct vg_policy_decision *d, int allowed, const char *fmt, ...)
{
	va_list ap;
	int n;

	d->allowed = allowed;
	n = snprintf(d->reason, sizeof(d->reason), "%s: ", allowed ? "allowed" : "refused");
	va_start(ap, fmt);
	vsnprintf(d->reason + n, sizeof(d->reason) - (size_t)n, fmt, ap);
	va_end(ap);
	return allowed ? 0 : -VG_EDENIED;
}

int vg_policy_check(const struct vg_policy *p, const struct vg_policy_request *req,
		    struct vg_policy_decision *d)
{
	const struct vg_user *u;
	const struct rule *r;
	const char *who, *kind = NULL, *verb;
	char kinds[96], sites[256];
	int role;

	if (p == NULL || req == NULL || d == NULL || (int)req->action < 0 ||
	    req->action >= VG_ACT_COUNT)
		return -VG_EINVAL;
	memset(d, 0, sizeof(*d));
	d->role = -1;
	verb = actions[req->action].verb;
	u = empty(req->login) ? NULL : find_user(p, req->login);
	if (u == NULL && empty(req->login))
		return decide(d, 0, "the caller has no account: residents and third parties may "
			      "not view footage (policy 3.10)");
	if (u == NULL)
		return decide(d, 0, "'%s' has no account: residents and third parties may not view "
			      "footage (policy 3.10); a recorded resident may make a subject "
			      "access request to the data protection officer", req->login);
	who = u->login;
	role = vg_role_parse(u->role);
	if (role < 0)
		return decide(d, 0, "%s has the role '%s', which vigil does not know, so has no "
			      "rights", who, u->role != NULL ? u->role : "");
	d->role = role;
	r = &table[role][req->action];
	if (r->scope == DENY)
		return decide(d, 0, "%s is %s; %s may not %s (%s)", who, role_is[role],
			      role_plural[role], verb, r->clause);
	if (r->scope == ANY)
		return decide(d, 1, "%s is %s and may %s (%s)", who, role_is[role], verb,
			      r->clause);

	/* A footage operation: which site, why, and under which reference. */
	if (empty(req->site))
		return decide(d, 0, "say which site's footage (%s needs a site)",
			      actions[req->action].name);
	if (r->scope == OWN_SITES && !has_site(u, req->site)) {
		struct sites_acc acc = { .n = 0 };

		acc_add(&acc, u);
		acc_phrase(&acc, sites, sizeof(sites));
		return decide(d, 0, "%s is an area manager for %s, not for %s (%s)", who,
			      acc.n > 0 ? sites : "no site", req->site, r->clause);
	}
	if (r->scope == MANAGED_SITES && !in_managed_sites(p, u, req->site)) {
		struct sites_acc acc = { .n = 0 };
		int i;

		acc_add(&acc, u);
		for (i = 0; i < p->n_users; i++) {
			if (manages(u, &p->users[i]))
				acc_add(&acc, &p->users[i]);
		}
		acc_phrase(&acc, sites, sizeof(sites));
		if (acc.n == 0)
			return decide(d, 0, "%s is a line manager but manages no area manager, so "
				      "has no sites; not %s (%s)", who, req->site, r->clause);
		return decide(d, 0, "%s is the line manager for %s, not for %s (%s)", who, sites,
			      req->site, r->clause);
	}
	if (r->refs == 0)
		return decide(d, 1, "%s is %s and may %s at %s (%s)", who, role_is[role], verb,
			      req->site, r->clause);
	if (empty(req->purpose))
		return decide(d, 0, "say why (--purpose): every footage operation must record "
			      "its purpose (principle 7)");
	kinds_phrase(r->refs, kinds, sizeof(kinds));
	if (empty(req->reference))
		return decide(d, 0, "give the %s reference (--reference) this is for: every "
			      "footage operation must name its case (principle 7)", kinds);
	if ((ref_kind_bit(req->reference, &kind) & r->refs) == 0) {
		if (role == VG_ROLE_DPO && req->action == VG_ACT_CLIP_VIEW)
			return decide(d, 0, "'%s' is not an agreed subject access request; "
				      "the data protection officer views footage only for a DSAR- "
				      "reference (policy 3.10)", req->reference);
		return decide(d, 0, "'%s' is not a reference %s may use to %s; it must start "
			      "%s (%s)", req->reference, role_plural[role], verb, kinds,
			      r->clause);
	}
	if (r->scope == OWN_SITES)
		return decide(d, 1, "%s is the area manager for %s (%s, %s)", who, req->site,
			      req->reference, r->clause);
	if (r->scope == MANAGED_SITES)
		return decide(d, 1, "%s is the line manager for %s (%s, %s)", who, req->site,
			      req->reference, r->clause);
	return decide(d, 1, "%s is %s and may %s at %s under %s reference %s (%s)", who,
		      role_is[role], verb, req->site, kind, req->reference, r->clause);
}

/* Could u view recorded footage of at least one site? */
static int can_view(const struct vg_user *users, int n, const struct vg_user *u)
{
	struct vg_policy p = { users, n };
	int role = vg_role_parse(u->role), i;

	if (role < 0 || table[role][VG_ACT_CLIP_VIEW].scope == DENY)
		return 0;
	if (role == VG_ROLE_AREA_MANAGER)
		return u->n_sites > 0;
	if (role == VG_ROLE_LINE_MANAGER) {
		if (u->n_sites > 0)
			return 1;
		for (i = 0; i < p.n_users; i++) {
			if (manages(u, &users[i]) && users[i].n_sites > 0)
				return 1;
		}
		return 0;
	}
	return 1;
}

int vg_policy_site_viewers(const struct vg_user *users, int n_users, const char *site)
{
	/* Ask the table itself, with a reference of every kind: whoever may
	 * view under any of them is a viewer of this site. */
	static const char *const refs[] = { "ASB-1", "CRIME-1", "CASE-1", "DSAR-1", "DISC-1" };
	struct vg_policy p = { users, n_users };
	int i, n = 0;

	for (i = 0; users != NULL && i < n_users; i++) {
		for (size_t k = 0; k < sizeof(refs) / sizeof(refs[0]); k++) {
			struct vg_policy_request req = {
				.login = users[i].login, .action = VG_ACT_CLIP_VIEW, .site = site,
				.purpose = "site check", .reference = refs[k],
			};
			struct vg_policy_decision d;

			if (users[i].login != NULL && vg_policy_check(&p, &req, &d) == 0) {
				n++;
				break;
			}
		}
	}
	return n;
}

struct why {
	char *buf;
	size_t cap, len;
	int n;
};

static void why_add(struct why *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void why_add(struct why *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	w->n++;
	if (w->buf == NULL || w->cap == 0 || w->len + 1 >= w->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(w->buf + w->len, w->cap - w->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		w->len += (size_t)n;
	if (w->len + 1 < w->cap) {
		w->buf[w->len++] = '\n';
		w->buf[w->len] = '\0';
	} else {
		w->len = w->cap - 1;
	}
}

int vg_policy_validate_users(const struct vg_user *users, int n_users, char *why, size_t whylen)
{
	struct why w = { why, whylen, 0, 0 };
	int i, j, viewers = 0;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (users == NULL || n_users <= 0) {
		why_add(&w, "no users are configured: nobody could view footage; vigil has no "
			"built-in accounts, so list each member of staff in users = ( ... )");
		return -VG_ECONFIG;
	}
	for (i = 0; i < n_users; i++) {
		const struct vg_user *u = &users[i];
		int role = vg_role_parse(u->role);

		if (empty(u->login)) {
			why_add(&w, "user %d has no login", i + 1);
			continue;
		}
		for (j = 0; j < i; j++) {
			if (users[j].login != NULL && strcmp(users[j].login, u->login) == 0)
				why_add(&w, "user '%s' is listed twice", u->login);
		}
		if (role < 0)
			why_add(&w, "user '%s' has an unknown role '%s'; expected area_manager, "
				"line_manager, enforcement, dpo, installer or auditor", u->login,
				u->role != NULL ? u->role : "");
		if (role == VG_ROLE_AREA_MANAGER && u->n_sites <= 0)
			why_add(&w, "area manager '%s' has no sites: list the sites they are "
				"responsible for", u->login);
		if (u->line_manager != NULL && u->line_manager[0] != '\0') {
			const struct vg_user *m = NULL;

			for (j = 0; j < n_users; j++) {
				if (users[j].login != NULL &&
				    strcmp(users[j].login, u->line_manager) == 0)
					m = &users[j];
			}
			if (m == NULL)
				why_add(&w, "user '%s' has line_manager '%s', who is not a user",
					u->login, u->line_manager);
			else if (vg_role_parse(m->role) != VG_ROLE_LINE_MANAGER)
				why_add(&w, "user '%s' has line_manager '%s', whose role is '%s', "
					"not line_manager", u->login, u->line_manager,
					m->role != NULL ? m->role : "");
		}
		viewers += can_view(users, n_users, u);
	}
	if (viewers == 0)
		why_add(&w, "nobody in the user list may view footage: add the area manager "
			"responsible for each site (policy 3.8)");
	else if (viewers == n_users)
		why_add(&w, "every user may view footage: access must be restricted (Secure by "
			"Default); the audit log must be reviewable by someone without footage "
			"access, so add an auditor (principle 10)");
	return w.n > 0 ? -VG_ECONFIG : 0;
}
