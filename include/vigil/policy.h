/*
 * policy.h - who may do what to which site's footage: one table (role x
 * action -> rule) and one function answering allow/deny with a sentence a
 * housing officer understands. Rules come from the CCTV policy clauses 3.8
 * (who may view), 3.9 (disclosures) and 3.10 (no residents or third
 * parties, except an agreed subject access request); docs/access-policy.md
 * is the table in plain English.
 *
 * There are no built-in accounts: a login not in the user list has no
 * rights at all. Every footage operation needs a purpose and a reference.
 */
#ifndef VIGIL_POLICY_H
#define VIGIL_POLICY_H

#include <stddef.h>

/* One staff account, mapped from a Unix login by the config. All strings
 * are owned by whoever built the array (the config module); the policy
 * only borrows them. role is the config's text ("area_manager", ...), so
 * that vg_policy_validate_users() can name an unknown role. */
struct vg_user {
	char *login;
	char *name;		/* display name, may be NULL */
	char *role;
	char **sites;		/* sites this user manages (area managers) */
	int n_sites;
	char *line_manager;	/* login of their line manager, or NULL */
};

enum vg_role {
	VG_ROLE_AREA_MANAGER = 0,
	VG_ROLE_LINE_MANAGER,
	VG_ROLE_ENFORCEMENT,
	VG_ROLE_DPO,
	VG_ROLE_INSTALLER,
	VG_ROLE_AUDITOR,
	VG_ROLE_COUNT
};

enum vg_action {
	VG_ACT_CLIP_LIST = 0,	/* clip.list */
	VG_ACT_CLIP_VIEW,	/* clip.view: decrypt and play */
	VG_ACT_SNAPSHOT,	/* snapshot: one live frame */
	VG_ACT_HOLD_PLACE,	/* hold.place: keep clips past retention */
	VG_ACT_HOLD_RELEASE,	/* hold.release */
	VG_ACT_EXPORT,		/* export: disclosure copy */
	VG_ACT_AUDIT_READ,	/* audit.read */
	VG_ACT_REPORT,		/* report */
	VG_ACT_CONFIG_CHECK,	/* config.check */
	VG_ACT_DISCLOSURE_LIST,	/* disclosure.list */
	VG_ACT_HOLD_LIST,	/* hold.list: the holds, their cases; no footage */
	VG_ACT_CLOCK_ACCEPT,	/* retention.accept_clock: lift a clock clamp */
	VG_ACT_AUDIT_ACK,	/* audit.acknowledge: accept a broken audit log (DPO) */
	VG_ACT_COUNT
};

/* The user list the checks run against; borrowed, must outlive its use. */
struct vg_policy {
	const struct vg_user *users;
	int n_users;
};

/* One request. site is needed for footage actions; purpose and reference
 * for every footage operation (clip.*, snapshot, hold.*, export). */
struct vg_policy_request {
	const char *login;
	enum vg_action action;
	const char *site;
	const char *purpose;
	const char *reference;
};

struct vg_policy_decision {
	int allowed;		/* 1 allowed, 0 refused */
	int role;		/* enum vg_role of the caller, -1 if no account */
	char reason[320];	/* "allowed: ..." or "refused: ..." */
};

/* 0 if allowed, -VG_EDENIED if refused; d always receives the sentence.
 * -VG_EINVAL only for NULL arguments or an action out of range. */
int vg_policy_check(const struct vg_policy *p, const struct vg_policy_request *req,
		    struct vg_policy_decision *d);

/* Refuse a user list that cannot be right: empty, a duplicate or empty
 * login, an unknown role, an area manager without sites, a line_manager
 * naming nobody (or someone who is not a line manager), nobody able to view
 * footage, or everybody able to. 0 or -VG_ECONFIG with every problem in
 * why, one sentence per line. */
int vg_policy_validate_users(const struct vg_user *users, int n_users, char *why,
			     size_t whylen);

/* How many of users may view recorded footage of site (area managers who
 * list it, their line managers, the enforcement team, the DPO): a user
 * list with none cannot serve this site. */
int vg_policy_site_viewers(const struct vg_user *users, int n_users, const char *site);

/* Names as written in the config and the audit log; parse returns -1 for
 * an unknown name. */
const char *vg_role_name(enum vg_role r);
int vg_role_parse(const char *name);
const char *vg_action_name(enum vg_action a);
int vg_action_parse(const char *name);

/* 1 if action touches footage (needs site, purpose and reference). */
int vg_action_is_footage(enum vg_action a);

/* The reference kind: "ASB", "CRIME", "CASE", "DSAR", "DISC" or NULL if
 * ref is not of the form KIND-xxx (docs/access-policy.md). */
const char *vg_policy_reference_kind(const char *ref);

#endif
