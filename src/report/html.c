/*
 * html.c - the review report as one self-contained HTML page (report.h).
 *
 * Rendered from the signed JSON alone: anyone holding the JSON renders the
 * same page. No script, no external fetch (a Content-Security-Policy says
 * so to the browser as well), print styles for A4. Every string from the
 * JSON is escaped; a field that is missing shows as "unknown", so a page
 * renders from any version 1 document.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "vigil/err.h"
#include "vigil/report.h"
#include "vigil/svg.h"

#define CHART_W 680

/* Okabe-Ito: told apart by colour-blind readers, and on grey paper. */
#define C_RECORDED "#009E73"
#define C_UNACCOUNTED "#d9d9d9"
static const struct {
	const char *kind, *color;
} gap_colors[] = {
	{ "camera lost", "#E69F00" }, { "daemon stopped", "#56B4E9" }, { "crashed", "#D55E00" },
	{ "disk full", "#CC79A7" }, { "clock clamp", "#F0E442" }, { "disabled", "#999999" },
	{ "expired", "#0072B2" }, { "other", "#000000" },
};
static const char *const action_colors[] = {
	"#0072B2", "#009E73", "#56B4E9", "#E69F00", "#CC79A7", "#D55E00",
};

struct page {
	FILE *out;
	struct json_object *doc;
	const char *sha;
	int section;		/* number of the section being written */
};

/* ---- reading the document ---- */

/* o's member at a path ("sections/access/refusals": keys hold dots, as
 * in "clip.view", so the steps are split at '/'); NULL if any step is
 * missing. */
static struct json_object *at(struct json_object *o, const char *path)
{
	char key[64];

	while (o && *path) {
		size_t n = strcspn(path, "/");

		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, key, &o))
			return NULL;
		path += n + (path[n] == '/');
	}
	return o;
}

static const char *str(struct json_object *o, const char *path)
{
	struct json_object *v = at(o, path);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int64_t num(struct json_object *o, const char *path)
{
	struct json_object *v = at(o, path);

	return v && (json_object_is_type(v, json_type_int) ||
		     json_object_is_type(v, json_type_double)) ? json_object_get_int64(v) : 0;
}

static double dbl(struct json_object *o, const char *path)
{
	struct json_object *v = at(o, path);

	return v && (json_object_is_type(v, json_type_int) ||
		     json_object_is_type(v, json_type_double)) ? json_object_get_double(v) : 0;
}

static const char *or_else(const char *s, const char *def)
{
	return s ? s : def;
}

static int flag(struct json_object *o, const char *path)
{
	struct json_object *v = at(o, path);

	return v && json_object_get_boolean(v);
}

static size_t len_of(struct json_object *a)
{
	return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static struct json_object *item(struct json_object *a, size_t i)
{
	return json_object_array_get_idx(a, i);
}

/* ---- writing ---- */

static void out(struct page *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(struct page *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(p->out, fmt, ap);
	va_end(ap);
}

static void esc(struct page *p, const char *s)
{
	vg_xml_escape(p->out, s ? s : "unknown");
}

/* 1234567 -> "1,234,567" */
static void count(struct page *p, int64_t n)
{
	char b[32], o[48];
	int len, k = 0;

	len = snprintf(b, sizeof(b), "%" PRId64, n < 0 ? -n : n);
	if (n < 0)
		o[k++] = '-';
	for (int i = 0; i < len; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			o[k++] = ',';
		o[k++] = b[i];
	}
	o[k] = '\0';
	out(p, "%s", o);
}

/* "2026-11-29T14:03:07.250000Z" -> "2026-11-29 14:03 UTC" */
static void when(struct page *p, const char *iso)
{
	if (iso == NULL || strlen(iso) < 16)
		out(p, "%s", iso ? "?" : "none");
	else
		out(p, "%.10s %.5s UTC", iso, iso + 11);
}

/* A length of time people read at a glance: "42 min", "3.5 h". */
static void hours(struct page *p, double seconds)
{
	if (seconds < 3600)
		out(p, "%.0f min", seconds / 60.0);
	else
		out(p, "%.1f h", seconds / 3600.0);
}

/* A cell: text, a number or a time. */
static void td(struct page *p, const char *s)
{
	out(p, "<td>");
	esc(p, s);
	out(p, "</td>");
}

static void td_n(struct page *p, int64_t n)
{
	out(p, "<td class=\"n\">");
	count(p, n);
	out(p, "</td>");
}

static void td_time(struct page *p, const char *iso)
{
	out(p, "<td class=\"t\">");
	when(p, iso);
	out(p, "</td>");
}

static void th_row(struct page *p, const char *const *heads, int n)
{
	out(p, "<thead><tr>");
	for (int i = 0; i < n; i++)
		out(p, "<th>%s</th>", heads[i]);
	out(p, "</tr></thead><tbody>\n");
}

static void yes_no(struct page *p, struct json_object *o, const char *key)
{
	struct json_object *v = at(o, key);

	td(p, v == NULL ? "unknown" : json_object_get_boolean(v) ? "yes" : "no");
}

/* A column of a table: its heading, the path of its value in each row,
 * how to show it, and what to show when the value is null. */
enum cell { TEXT, NUM, TIME, YES_NO, DAYS, HOURS };
struct col {
	const char *head, *key;
	enum cell cell;
	const char *none;	/* NULL: "unknown" (TEXT), "none" (TIME), 0 (NUM) */
};

/* One table: a row per element of rows, a cell per column; or the
 * sentence empty when there are no rows. */
static void table(struct page *p, struct json_object *rows, const struct col *cols, int n,
		  const char *empty)
{
	if (len_of(rows) == 0) {
		if (empty[0])
			out(p, "<p>%s</p>\n", empty);
		return;
	}
	out(p, "<table><thead><tr>");
	for (int c = 0; c < n; c++)
		out(p, "<th>%s</th>", cols[c].head);
	out(p, "</tr></thead><tbody>\n");
	for (size_t i = 0; i < len_of(rows); i++) {
		struct json_object *r = item(rows, i);

		out(p, "<tr>");
		for (int c = 0; c < n; c++) {
			const struct col *k = &cols[c];

			if (at(r, k->key) == NULL && k->none) {
				td(p, k->none);
				continue;
			}
			switch (k->cell) {
			case TEXT: td(p, str(r, k->key)); break;
			case NUM: td_n(p, num(r, k->key)); break;
			case TIME: td_time(p, str(r, k->key)); break;
			case YES_NO: yes_no(p, r, k->key); break;
			case DAYS: out(p, "<td class=\"n\">%" PRId64 " days</td>", num(r, k->key)); break;
			case HOURS:
				out(p, "<td class=\"n\">");
				hours(p, dbl(r, k->key));
				out(p, "</td>");
				break;
			}
		}
		out(p, "</tr>\n");
	}
	out(p, "</tbody></table>\n");
}

/* ---- the parts of the page ---- */

static const char style[] =
	"@page{size:A4;margin:15mm 14mm 16mm 14mm}"
	"*{box-sizing:border-box}"
	"body{margin:0;font:9.5pt/1.4 'DejaVu Sans',Arial,sans-serif;color:#1b1b1b}"
	"main{margin:0 auto}"
	"@media screen{body{background:#e9ecef}main{width:210mm;background:#fff;"
	"padding:12mm 14mm;margin:0 auto 8mm;box-shadow:0 0 4px #999}}"
	"header.top{border-bottom:3px solid #1f3b57;padding-bottom:6px;margin-bottom:10px}"
	"h1{font-size:20pt;margin:0;color:#1f3b57}"
	".sub{color:#555;margin:2px 0 8px}"
	"h2{font-size:13pt;color:#1f3b57;border-bottom:1.5px solid #1f3b57;margin:18px 0 4px;"
	"break-after:avoid}"
	"h3{font-size:10.5pt;margin:12px 0 4px;break-after:avoid}"
	"p{margin:4px 0}"
	".cites{color:#555;font-size:8.5pt;margin:0 0 6px}"
	"dl.facts{display:grid;grid-template-columns:38mm 1fr;gap:1px 8px;margin:6px 0}"
	"dl.facts dt{color:#555}dl.facts dd{margin:0}"
	".tiles{display:grid;grid-template-columns:repeat(4,1fr);gap:6px;margin:10px 0}"
	".tile{border:1px solid #c9d3dc;border-radius:4px;padding:5px 8px;break-inside:avoid}"
	".tile b{display:block;font-size:15pt;color:#1f3b57}"
	".tile span{color:#555;font-size:8.5pt}"
	".tile.warn{border-color:#b3261e}.tile.warn b{color:#b3261e}"
	"table{border-collapse:collapse;width:100%;margin:4px 0 8px;font-size:8.5pt}"
	"th,td{border:1px solid #c9d3dc;padding:2px 5px;vertical-align:top;text-align:left}"
	"th{background:#eef2f6;font-weight:bold}"
	"tr{break-inside:avoid}"
	"td.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}"
	"td.t{white-space:nowrap}"
	".ok{color:#1b6e3a;font-weight:bold}.act{color:#b3261e;font-weight:bold}"
	"td.ok,td.act,td.na{white-space:nowrap}"
	".na{color:#666}"
	".actions{border-left:4px solid #b3261e;background:#fbf1f0;padding:4px 10px;"
	"margin:6px 0;break-inside:avoid}"
	".actions.none{border-color:#1b6e3a;background:#eff7f1}"
	".actions ol,.actions ul{margin:2px 0;padding-left:18px}"
	"figure{margin:6px 0 10px;break-inside:avoid}"
	"figcaption{font-size:8.5pt;color:#444;margin-bottom:2px}"
	"svg.chart{display:block;max-width:100%;height:auto}"
	".mono{font-family:'DejaVu Sans Mono',monospace;font-size:8pt;word-break:break-all}"
	".sig{border:1px solid #1f3b57;padding:6px 10px;margin:8px 0;break-inside:avoid}"
	"section.break{break-before:page}"
	"footer{margin-top:14px;color:#666;font-size:8pt;border-top:1px solid #ccc;"
	"padding-top:4px}";

static void head(struct page *p)
{
	const char *site = str(p->doc, "site/name");

	out(p, "<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">\n"
	       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	       "style-src 'unsafe-inline'\">\n<meta name=\"generator\" content=\"vigil\">\n"
	       "<title>CCTV review report: ");
	esc(p, site ? site : "site not configured");
	out(p, ", ");
	when(p, str(p->doc, "period/from"));
	out(p, " to ");
	when(p, str(p->doc, "period/to"));
	out(p, "</title>\n<style>%s</style></head>\n<body><main>\n", style);
}

static int action_count(struct page *p, const char *section)
{
	struct json_object *a = at(p->doc, "actions");
	int n = 0;

	for (size_t i = 0; i < len_of(a); i++)
		if (section == NULL || strcmp(or_else(str(item(a, i), "section"), ""), section) == 0)
			n++;
	return n;
}

static void tile(struct page *p, const char *label, const char *value, int warn)
{
	out(p, "<div class=\"tile%s\"><b>%s</b><span>%s</span></div>", warn ? " warn" : "",
	    value, label);
}

static void summary(struct page *p)
{
	struct json_object *cams = at(p->doc, "sections/availability/cameras");
	struct json_object *roles = at(p->doc, "sections/access/by_role");
	double rec = 0, tot = 0;
	int64_t views = 0, refused = num(p->doc, "sections/access/refusals/total");
	int acts = action_count(p, NULL);
	char b[64];

	for (size_t i = 0; i < len_of(cams); i++) {
		rec += dbl(item(cams, i), "recorded");
		tot += dbl(item(cams, i), "seconds");
	}
	for (size_t i = 0; i < len_of(roles); i++)
		views += num(item(roles, i), "allowed/clip.view");
	out(p, "<div class=\"tiles\">");
	snprintf(b, sizeof(b), "%zu", len_of(at(p->doc, "sections/register/cameras")));
	tile(p, "cameras in the register", b, 0);
	snprintf(b, sizeof(b), "%.1f%%", tot > 0 ? 100.0 * rec / tot : 0.0);
	tile(p, "of the time recorded", b, tot > 0 && rec < 0.95 * tot);
	snprintf(b, sizeof(b), "%" PRId64, views);
	tile(p, "footage views", b, 0);
	snprintf(b, sizeof(b), "%" PRId64, refused);
	tile(p, "requests refused", b, 0);
	snprintf(b, sizeof(b), "%" PRId64, num(p->doc, "sections/disclosures/disclosed"));
	tile(p, "disclosures made", b, 0);
	snprintf(b, sizeof(b), "%" PRId64, num(p->doc, "sections/retention/holds_active"));
	tile(p, "evidence holds active", b, 0);
	snprintf(b, sizeof(b), "%s", flag(p->doc, "sections/integrity/audit_chain/intact")
		 ? "intact" : "BROKEN");
	tile(p, "audit log chain", b, strcmp(b, "intact") != 0);
	snprintf(b, sizeof(b), "%d", acts);
	tile(p, "actions to take", b, acts > 0);
	out(p, "</div>\n");
}

static void front(struct page *p)
{
	struct json_object *d = p->doc;

	out(p, "<header class=\"top\"><h1>CCTV review report</h1><p class=\"sub\">");
	esc(p, str(d, "site/name") ? str(d, "site/name") : "Site not configured");
	if (str(d, "site/address")) {
		out(p, ", ");
		esc(p, str(d, "site/address"));
	}
	out(p, " &middot; Surveillance Camera Code principle 10 and policy 4.1: what this "
	       "recorder shows about how its cameras were used</p></header>\n");
	out(p, "<dl class=\"facts\"><dt>Period</dt><dd>");
	when(p, str(d, "period/from"));
	out(p, " to ");
	when(p, str(d, "period/to"));
	out(p, " (%" PRId64 " day%s, local days in ", num(d, "period/days"),
	    num(d, "period/days") == 1 ? "" : "s");
	esc(p, str(d, "period/time_zone"));
	out(p, ")</dd><dt>Prepared for</dt><dd>");
	esc(p, str(d, "prepared_for/person"));
	out(p, " (");
	esc(p, str(d, "prepared_for/role"));
	out(p, ")%s</dd><dt>Made</dt><dd>", flag(d, "prepared_for/names_shown") ? "; staff are named"
	    : "; staff are not named (Person 1, 2, ...)");
	when(p, str(d, "generated"));
	out(p, " by recorder ");
	esc(p, str(d, "device/id"));
	out(p, " (");
	esc(p, str(d, "device/firmware"));
	out(p, ")</dd><dt>Responsible</dt><dd>");
	esc(p, str(d, "site/area_manager"));
	out(p, "; contact for residents: ");
	esc(p, str(d, "site/contact"));
	out(p, "</dd><dt>Signed figures</dt><dd>The figures on this page are those of the "
	       "report's JSON file, SHA-256 <span class=\"mono\">");
	esc(p, p->sha);
	out(p, "</span>, signed by the recorder's device key (fingerprint <span class=\"mono\">");
	esc(p, str(d, "device/public_key_sha256"));
	out(p, "</span>). How to check: last page.</dd></dl>\n");
	summary(p);
}

static void status_cell(struct page *p, struct json_object *row)
{
	int64_t n = num(row, "actions");

	if (str(row, "note"))
		out(p, "<td class=\"na\">not the firmware's job</td>");
	else if (n > 0)
		out(p, "<td class=\"act\">%" PRId64 " action%s</td>", n, n == 1 ? "" : "s");
	else
		out(p, "<td class=\"ok\">no action</td>");
}

static const char *section_title(const char *key)
{
	static const struct {
		const char *key, *title;
	} t[] = {
		{ "register", "1. Cameras and their purpose" },
		{ "availability", "2. Recording availability" },
		{ "retention", "3. Retention and evidence holds" },
		{ "access", "4. Access to footage" },
		{ "disclosures", "5. Disclosures" },
		{ "integrity", "6. Integrity, security and time" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(t[i].key, key) == 0)
			return t[i].title;
	return key;
}

static void sections_cell(struct page *p, struct json_object *row)
{
	struct json_object *s = at(row, "sections");

	out(p, "<td>");
	if (str(row, "note"))
		esc(p, str(row, "note"));
	for (size_t i = 0; i < len_of(s); i++) {
		out(p, "%s", i ? "; " : "");
		esc(p, section_title(json_object_get_string(item(s, i))));
	}
	out(p, "</td>");
}

static void coverage(struct page *p)
{
	static const char *const h1[] = { "#", "Guiding principle", "Evidence in this report",
					   "Status" };
	static const char *const h2[] = { "Clause", "Policy", "Evidence in this report",
					  "Status" };
	struct json_object *a = at(p->doc, "principles");

	out(p, "<h2>The 12 guiding principles</h2><table>");
	th_row(p, h1, 4);
	for (size_t i = 0; i < len_of(a); i++) {
		out(p, "<tr>");
		td(p, str(item(a, i), "principle"));
		td(p, str(item(a, i), "title"));
		sections_cell(p, item(a, i));
		status_cell(p, item(a, i));
		out(p, "</tr>\n");
	}
	out(p, "</tbody></table>\n<h3>Policy clauses</h3><table>");
	a = at(p->doc, "policy_clauses");
	th_row(p, h2, 4);
	for (size_t i = 0; i < len_of(a); i++) {
		out(p, "<tr>");
		td(p, str(item(a, i), "clause"));
		td(p, str(item(a, i), "title"));
		sections_cell(p, item(a, i));
		status_cell(p, item(a, i));
		out(p, "</tr>\n");
	}
	out(p, "</tbody></table>\n");
}

static void section_head(struct page *p, const char *key, const char *cites, int brk)
{
	out(p, "<section%s id=\"%s\"><h2>", brk ? " class=\"break\"" : "", key);
	esc(p, section_title(key));
	out(p, "</h2><p class=\"cites\">%s</p>\n", cites);
}

/* The section's actions, or that there are none. */
static void section_actions(struct page *p, const char *key)
{
	struct json_object *a = at(p->doc, "actions");
	int n = action_count(p, key);

	if (n == 0) {
		out(p, "<div class=\"actions none\"><b>Actions:</b> none.</div></section>\n");
		return;
	}
	out(p, "<div class=\"actions\"><b>Actions (%d):</b><ul>", n);
	for (size_t i = 0; i < len_of(a); i++) {
		if (strcmp(or_else(str(item(a, i), "section"), ""), key) != 0)
			continue;
		out(p, "<li>");
		esc(p, str(item(a, i), "text"));
		/* config check's sentences cite their clause already */
		if (strstr(or_else(str(item(a, i), "text"), ""),
			   or_else(str(item(a, i), "clause"), "?")) == NULL) {
			out(p, " <span class=\"na\">(");
			esc(p, str(item(a, i), "clause"));
			out(p, ")</span>");
		}
		out(p, "</li>");
	}
	out(p, "</ul></div></section>\n");
}

static void register_section(struct page *p)
{
	static const char *const h[] = { "Camera", "Area", "Purpose", "Retention", "Masks",
					 "Sound", "Signs confirmed" };
	struct json_object *cams = at(p->doc, "sections/register/cameras"), *roles;
	int temps = 0;

	section_head(p, "register", "Principles 1, 2, 3 and 5; policy 3.4, 3.5, 3.11 and 4.2", 1);
	out(p, "<table>");
	th_row(p, h, 7);
	for (size_t i = 0; i < len_of(cams); i++) {
		struct json_object *c = item(cams, i);

		out(p, "<tr>");
		out(p, "<td><b>");
		esc(p, str(c, "name"));
		out(p, "</b>%s</td>", !flag(c, "enabled")
		    ? " (disabled)" : "");
		td(p, str(c, "area"));
		td(p, str(c, "purpose"));
		out(p, "<td>%" PRId64 " days", num(c, "retention_days"));
		if (str(c, "retention_justification")) {
			out(p, ": ");
			esc(p, str(c, "retention_justification"));
		}
		out(p, "</td><td class=\"n\">%" PRId64 "</td><td>", num(c, "masks"));
		if (flag(c, "audio")) {
			out(p, "yes, until ");
			esc(p, str(c, "audio_review_by"));
			out(p, ": ");
			esc(p, str(c, "audio_justification"));
		} else {
			out(p, "no");
		}
		out(p, "</td><td>");
		if (str(c, "signage_confirmed")) {
			esc(p, str(c, "signage_confirmed"));
			out(p, " (%" PRId64 " days ago)", num(c, "signage_age_days"));
		} else {
			out(p, "<span class=\"act\">not recorded</span>");
		}
		out(p, "</td></tr>\n");
		temps += at(c, "temporary") != NULL;
	}
	out(p, "</tbody></table>\n");
	out(p, "<h3>Temporary cameras (policy 3.4, 4.2)</h3>\n");
	{
		static const struct col tc[] = {
			{ "Camera", "name", TEXT, NULL },
			{ "Equipment", "temporary/equipment", TEXT, NULL },
			{ "Reason", "temporary/reason", TEXT, NULL },
			{ "Case", "temporary/case_reference", TEXT, NULL },
			{ "Installed", "temporary/installed", TEXT, NULL },
			{ "Remove by", "temporary/remove_by", TEXT, NULL },
			{ "Days installed", "temporary/days_installed", NUM, NULL },
		};
		struct json_object *t = json_object_new_array();

		for (size_t i = 0; temps && i < len_of(cams); i++)
			if (at(item(cams, i), "temporary"))
				json_object_array_add(t, json_object_get(item(cams, i)));
		table(p, t, tc, 7, "No temporary cameras.");
		json_object_put(t);
	}
	roles = at(p->doc, "sections/register/staff_accounts_by_role");
	out(p, "<p>Staff accounts on this recorder, by role: ");
	if (roles && json_object_object_length(roles) > 0) {
		int first = 1;

		json_object_object_foreach(roles, role, n) {
			out(p, "%s", first ? "" : ", ");
			esc(p, role);
			out(p, " %" PRId64, json_object_get_int64(n));
			first = 0;
		}
	} else {
		out(p, "none");
	}
	out(p, ". Who may do what is set by the access policy (policy 3.8 to 3.10).</p>\n");
	section_actions(p, "register");
}

static const char *gap_color(const char *kind)
{
	for (size_t i = 0; i < sizeof(gap_colors) / sizeof(gap_colors[0]); i++)
		if (strcmp(gap_colors[i].kind, kind) == 0)
			return gap_colors[i].color;
	return "#000000";
}

/* The amount of kind on day d ("recorded", "not accounted for" or a gap
 * kind), in seconds. */
static double day_value(struct json_object *d, const char *kind)
{
	struct json_object *x;

	if (strcmp(kind, "recorded") == 0)
		return dbl(d, "recorded");
	if (strcmp(kind, "not accounted for") == 0)
		return dbl(d, "unaccounted");
	if (json_object_object_get_ex(at(d, "gaps"), kind, &x))
		return json_object_get_double(x);
	return 0;
}

/* One camera's days as stacked columns: recorded, each kind of gap that
 * occurs, and the time nothing accounts for. */
static void availability_chart(struct page *p, struct json_object *cam, struct json_object *kinds)
{
	struct json_object *daily = at(cam, "daily");
	size_t n = len_of(daily), nk = len_of(kinds), ns = 0;
	struct vg_svg_series *series = calloc(nk + 2, sizeof(*series));
	const char **labels = calloc(n ? n : 1, sizeof(*labels));
	double *v = calloc((n ? n : 1) * (nk + 2), sizeof(*v));
	char id[80], title[160];

	if (series == NULL || labels == NULL || v == NULL)
		goto out;
	series[ns++] = (struct vg_svg_series){ "recorded", C_RECORDED };
	for (size_t k = 0; k < nk; k++) {
		const char *kind = json_object_get_string(item(kinds, k));
		int used = 0;

		for (size_t i = 0; i < n && !used; i++)	/* a short legend */
			used = day_value(item(daily, i), kind) > 0;
		if (used)
			series[ns++] = (struct vg_svg_series){ kind, gap_color(kind) };
	}
	series[ns++] = (struct vg_svg_series){ "not accounted for", C_UNACCOUNTED };
	for (size_t i = 0; i < n; i++) {
		labels[i] = or_else(str(item(daily, i), "date"), "?????") + 5;	/* MM-DD */
		for (size_t k = 0; k < ns; k++)
			v[i * ns + k] = day_value(item(daily, i), series[k].label);
	}
	snprintf(id, sizeof(id), "availability-%s", or_else(str(cam, "name"), "?"));
	snprintf(title, sizeof(title), "Camera %s: hours recorded and not recorded, per day",
		 or_else(str(cam, "name"), "?"));
	out(p, "<figure><figcaption><b>");
	esc(p, str(cam, "name"));
	out(p, "</b>: %.1f%% recorded</figcaption>", dbl(cam, "recorded_percent"));
	vg_svg_columns(p->out, &(struct vg_svg_columns){
		.id = id, .title = title, .width = CHART_W, .height = 112, .n_cols = (int)n,
		.n_series = (int)ns, .col_labels = labels, .series = series, .values = v,
		.max = 86400, .y_step = 6 * 3600, .y_div = 3600, .y_unit = " h" });
	out(p, "</figure>\n");
out:
	free(series);
	free(labels);
	free(v);
}

static void availability_section(struct page *p)
{
	static const char *const h[] = { "Camera", "Recorded", "Clips", "Gaps recorded (by kind)",
					 "Not accounted for" };
	struct json_object *cams = at(p->doc, "sections/availability/cameras");
	struct json_object *kinds = at(p->doc, "sections/availability/gap_kinds");
	struct json_object *lg = at(p->doc, "sections/availability/long_gaps");

	section_head(p, "availability", "Principles 10 and 11: is the system there when it is "
		     "needed? Every second of each day is either in a clip, in a recorded gap "
		     "with its reason, or not accounted for.", 1);
	out(p, "<table>");
	th_row(p, h, 5);
	for (size_t i = 0; i < len_of(cams); i++) {
		struct json_object *c = item(cams, i), *g = at(c, "gaps");
		int first = 1;

		out(p, "<tr><td><b>");
		esc(p, str(c, "name"));
		out(p, "</b>%s</td><td class=\"n\">%.1f%% (", at(c, "in_config") &&
		    !json_object_get_boolean(at(c, "in_config")) ? " (no longer configured)" : "",
		    dbl(c, "recorded_percent"));
		hours(p, dbl(c, "recorded"));
		out(p, ")</td>");
		td_n(p, num(c, "clips"));
		out(p, "<td>");
		if (g) {
			json_object_object_foreach(g, kind, secs) {
				out(p, "%s", first ? "" : "; ");
				esc(p, kind);
				out(p, " ");
				hours(p, json_object_get_double(secs));
				first = 0;
			}
		}
		out(p, "%s</td><td class=\"n\">", first ? "none" : "");
		hours(p, dbl(c, "unaccounted"));
		out(p, "</td></tr>\n");
	}
	out(p, "</tbody></table>\n");
	for (size_t i = 0; i < len_of(cams); i++)
		availability_chart(p, item(cams, i), kinds);
	out(p, "<h3>Stretches of %.0f hour%s or more without recording</h3>\n",
	    dbl(p->doc, "sections/availability/long_gap_hours"),
	    dbl(p->doc, "sections/availability/long_gap_hours") == 1 ? "" : "s");
	table(p, lg, (const struct col[]){
		{ "Camera", "camera", TEXT, NULL }, { "From", "from", TIME, NULL },
		{ "To", "to", TIME, "still open" }, { "Length", "seconds", HOURS, NULL },
		{ "Kind", "kind", TEXT, NULL }, { "Reason", "reason", TEXT, NULL } }, 6,
	      "None recorded.");
	section_actions(p, "availability");
}

static void retention_chart(struct page *p, struct json_object *cams)
{
	size_t n = len_of(cams);
	const char **labels = calloc(n ? n : 1, sizeof(*labels));
	double *v = calloc(n ? n : 1, sizeof(*v)), *m = calloc(n ? n : 1, sizeof(*m));
	struct vg_svg_series s[] = { { "age of the oldest footage no hold keeps", "#0072B2" } };

	if (labels && v && m) {
		for (size_t i = 0; i < n; i++) {
			labels[i] = or_else(str(item(cams, i), "name"), "?");
			v[i] = dbl(item(cams, i), "oldest_unheld_age_days");
			m[i] = dbl(item(cams, i), "retention_days");
		}
		out(p, "<figure><figcaption>Oldest footage against retention, in days "
		       "(the line is the camera's retention)</figcaption>");
		vg_svg_bars(p->out, &(struct vg_svg_bars){
			.id = "retention", .title = "Age of the oldest footage against retention",
			.width = CHART_W, .n_rows = (int)n, .n_series = 1, .row_labels = labels,
			.series = s, .values = v, .markers = m, .marker_label = "retention",
			.unit = " days" });
		out(p, "</figure>\n");
	}
	free(labels);
	free(v);
	free(m);
}

static void retention_section(struct page *p)
{
	static const struct col cc[] = {
		{ "Camera", "name", TEXT, NULL }, { "Retention", "retention_days", DAYS, NULL },
		{ "Oldest footage", "oldest", TIME, NULL },
		{ "Oldest not held", "oldest_unheld", TIME, NULL },
		{ "Within retention", "within_retention", YES_NO, NULL },
	}, hc[] = {
		{ "Hold", "id", NUM, NULL }, { "Camera", "camera", TEXT, NULL },
		{ "Footage from", "from", TIME, NULL }, { "to", "to", TIME, NULL },
		{ "Reason", "reason", TEXT, NULL }, { "Reference", "reference", TEXT, NULL },
		{ "Placed by", "placed_by", TEXT, NULL }, { "Review by", "review_by", TIME, NULL },
		{ "State", "state", TEXT, NULL }, { "Review overdue", "overdue_days", DAYS, "no" },
	}, dc[] = {
		{ "Camera", "camera", TEXT, NULL },
		{ "Deleted at end of retention", "deleted", NUM, NULL },
		{ "Deleted early (disk full)", "early_deleted", NUM, NULL },
	};
	struct json_object *sto = at(p->doc, "sections/retention/storage");

	section_head(p, "retention", "Principle 6; policy 3.7: no more footage kept than needed, "
		     "deleted when its purpose is spent, evidence kept longer under a hold", 1);
	retention_chart(p, at(p->doc, "sections/retention/cameras"));
	table(p, at(p->doc, "sections/retention/cameras"), cc, 5, "No cameras.");
	out(p, "<h3>Evidence holds</h3><p>In the period: %" PRId64 " placed, "
	       "%" PRId64 " released; %" PRId64 " active, %" PRId64 " past their review "
	       "date.</p>\n", num(p->doc, "sections/retention/holds_placed"),
	    num(p->doc, "sections/retention/holds_released"),
	    num(p->doc, "sections/retention/holds_active"),
	    num(p->doc, "sections/retention/holds_overdue"));
	table(p, at(p->doc, "sections/retention/holds"), hc, 10, "");
	out(p, "<h3>Deletions</h3><p>%" PRId64 " clips deleted at the end of their retention; "
	       "%" PRId64 " deleted early because the disk was full.</p>\n",
	    num(p->doc, "sections/retention/deletions/clips_deleted"),
	    num(p->doc, "sections/retention/deletions/clips_deleted_early"));
	table(p, at(p->doc, "sections/retention/deletions/by_camera"), dc, 3, "");
	if (sto)
		out(p, "<p>Storage now: %.1f GB free of %.1f GB (reserve %.1f GB); footage under "
		       "hold %.1f GB (%.1f%%).</p>\n", dbl(sto, "free_bytes") / 1e9,
		    dbl(sto, "total_bytes") / 1e9, dbl(sto, "reserve_bytes") / 1e9,
		    dbl(sto, "held_bytes") / 1e9, dbl(sto, "held_percent"));
	else
		out(p, "<p>Storage now: unknown (retention had not run yet).</p>\n");
	section_actions(p, "retention");
}

/* Rows of name -> {action: count} as stacked bars, one colour a kind of
 * request. */
static void action_bars(struct page *p, const char *id, const char *title,
			struct json_object *rows, const char *name_key, const char *counts_key)
{
	struct json_object *acts = at(p->doc, "sections/access/actions");
	size_t n = len_of(rows), na = len_of(acts);
	const char **labels = calloc(n ? n : 1, sizeof(*labels));
	double *v = calloc((n ? n : 1) * (na ? na : 1), sizeof(*v));
	struct vg_svg_series s[6];

	if (labels == NULL || v == NULL || na > 6)
		goto out;
	for (size_t a = 0; a < na; a++) {
		s[a].label = json_object_get_string(item(acts, a));
		s[a].color = action_colors[a];
	}
	for (size_t i = 0; i < n; i++) {
		labels[i] = or_else(str(item(rows, i), name_key), "?");
		for (size_t a = 0; a < na; a++) {
			struct json_object *c = at(item(rows, i), counts_key), *x;

			if (c && json_object_object_get_ex(c, s[a].label, &x))
				v[i * na + a] = json_object_get_double(x);
		}
	}
	if (n == 0) {	/* an empty chart still says so */
		labels[0] = "none in this period";
		n = 1;
	}
	out(p, "<figure><figcaption>");
	esc(p, title);
	out(p, "</figcaption>");
	vg_svg_bars(p->out, &(struct vg_svg_bars){
		.id = id, .title = title, .width = CHART_W, .n_rows = (int)n,
		.n_series = (int)na, .row_labels = labels, .series = s, .values = v, .unit = "" });
	out(p, "</figure>\n");
out:
	free(labels);
	free(v);
}

static void access_section(struct page *p)
{
	struct json_object *acc = at(p->doc, "sections/access");
	struct json_object *ref = at(acc, "refusals/by_clause"), *people = at(acc, "people");
	size_t n = len_of(ref);
	const char **labels = calloc(n ? n : 1, sizeof(*labels));
	double *v = calloc(n ? n : 1, sizeof(*v));
	char (*lab)[96] = calloc(n ? n : 1, sizeof(*lab));
	struct vg_svg_series rs[] = { { "refused", "#D55E00" } };

	section_head(p, "access", "Principles 4 and 7; policy 3.8 and 3.10: who looked at "
		     "footage, with what reference, and what was refused", 1);
	action_bars(p, "access-by-role", "Footage requests allowed, by role", at(acc, "by_role"),
		    "role", "allowed");
	action_bars(p, "access-by-reference", "Footage requests allowed, by kind of reference",
		    at(acc, "by_reference_kind"), "kind", "allowed");
	if (labels && v && lab) {
		for (size_t i = 0; i < n; i++) {
			snprintf(lab[i], sizeof(lab[i]), "%s, %s", or_else(str(item(ref, i), "clause"), "?"),
				 or_else(str(item(ref, i), "action"), "?"));
			labels[i] = lab[i];
			v[i] = dbl(item(ref, i), "count");
		}
		if (n == 0)
			labels[0] = "none in this period";
		out(p, "<figure><figcaption>Refusals by the clause they cite (%" PRId64 " in "
		       "all)</figcaption>", num(acc, "refusals/total"));
		vg_svg_bars(p->out, &(struct vg_svg_bars){
			.id = "refusals", .title = "Refusals by the clause cited", .width = CHART_W,
			.n_rows = n ? (int)n : 1, .n_series = 1, .row_labels = labels,
			.series = rs, .values = v, .unit = "" });
		out(p, "</figure>\n");
	}
	free(labels);
	free(v);
	free(lab);
	table(p, ref, (const struct col[]){
		{ "Clause cited", "clause", TEXT, NULL }, { "Request", "action", TEXT, NULL },
		{ "Refusals", "count", NUM, NULL },
		{ "Example", "example", TEXT, "(in the DPO's copy)" } }, 4, "");
	out(p, "<h3>By person</h3>");
	table(p, people, (const struct col[]){
		{ "Person", "person", TEXT, NULL }, { "Role", "role", TEXT, NULL },
		{ "Listings", "allowed/clip.list", NUM, NULL },
		{ "Views", "allowed/clip.view", NUM, NULL },
		{ "Snapshots", "allowed/snapshot", NUM, NULL },
		{ "Holds placed", "allowed/hold.place", NUM, NULL },
		{ "Releases", "allowed/hold.release", NUM, NULL },
		{ "Exports", "allowed/export", NUM, NULL }, { "Refused", "refused", NUM, NULL } },
	      9, "Nobody asked for footage in this period.");
	out(p, "<p>Requests from Unix accounts with no staff account: %" PRId64 ". Oversight "
	       "in the period: the audit log read %" PRId64 " times, disclosure log %" PRId64
	       " times, reports made %" PRId64 " (principle 10).</p>\n",
	    num(acc, "no_account_requests"), num(acc, "oversight/audit.read"),
	    num(acc, "oversight/disclosure.list"), num(acc, "oversight/report"));
	section_actions(p, "access");
}

static void disclosures_section(struct page *p)
{
	static const char *const cols[] = { "disclosed", "awaiting_approval", "approved",
					    "withdrawn", "refused", "failed" };
	static const char *const colours[] = { "#009E73", "#56B4E9", "#0072B2", "#999999",
						"#D55E00", "#000000" };
	struct json_object *by = at(p->doc, "sections/disclosures/by_recipient");
	struct json_object *list = at(p->doc, "sections/disclosures/list");
	struct json_object *w = at(p->doc, "sections/disclosures/waiting");
	size_t n = len_of(by);
	const char **labels = calloc(n ? n : 1, sizeof(*labels));
	double *v = calloc((n ? n : 1) * 6, sizeof(*v));
	struct vg_svg_series s[6];

	section_head(p, "disclosures", "Principle 7; policy 3.9 (police, prosecutors, legal "
		     "representatives, media through the police) and 3.10 (agreed subject access "
		     "requests)", 1);
	if (labels && v) {
		for (int c = 0; c < 6; c++)
			s[c] = (struct vg_svg_series){ cols[c], colours[c] };
		for (size_t i = 0; i < n; i++) {
			labels[i] = or_else(str(item(by, i), "recipient"), "?");
			for (int c = 0; c < 6; c++)
				v[i * 6 + c] = dbl(item(by, i), cols[c]);
		}
		if (n == 0)
			labels[0] = "none in this period";
		out(p, "<figure><figcaption>Export requests by recipient and outcome"
		       "</figcaption>");
		vg_svg_bars(p->out, &(struct vg_svg_bars){
			.id = "disclosures", .title = "Export requests by recipient and outcome",
			.width = CHART_W, .n_rows = n ? (int)n : 1, .n_series = 6,
			.row_labels = labels, .series = s, .values = v, .unit = "" });
		out(p, "</figure>\n");
	}
	free(labels);
	free(v);
	table(p, by, (const struct col[]){
		{ "Recipient", "recipient", TEXT, NULL }, { "Clause", "clause", TEXT, NULL },
		{ "Disclosed", "disclosed", NUM, NULL },
		{ "Awaiting approval", "awaiting_approval", NUM, NULL },
		{ "Approved", "approved", NUM, NULL }, { "Withdrawn", "withdrawn", NUM, NULL },
		{ "Refused", "refused", NUM, NULL }, { "Failed", "failed", NUM, NULL } }, 8, "");
	out(p, "<h3>Disclosures made</h3>");
	table(p, list, (const struct col[]){
		{ "When", "time", TIME, NULL }, { "Recipient", "recipient", TEXT, NULL },
		{ "Organisation", "organisation", TEXT, NULL },
		{ "Reference", "reference", TEXT, NULL }, { "Cameras", "cameras", TEXT, NULL },
		{ "By", "by", TEXT, NULL },
		{ "Second person", "second_person_approved", YES_NO, NULL } }, 7,
	      "None in this period.");
	out(p, "<h3>Waiting for a second person now</h3>");
	table(p, w, (const struct col[]){
		{ "Request", "id", NUM, NULL }, { "Asked", "asked", TIME, NULL },
		{ "By", "asked_by", TEXT, NULL }, { "Recipient", "recipient", TEXT, NULL },
		{ "Waiting", "waiting_days", DAYS, NULL } }, 5, "None.");
	section_actions(p, "disclosures");
}

static void counts_line(struct page *p, const char *label, struct json_object *o)
{
	int first = 1;

	out(p, "<tr><th>%s</th><td>", label);
	if (o) {
		json_object_object_foreach(o, k, v) {
			if (json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v))
				continue;
			out(p, "%s", first ? "" : "; ");
			esc(p, k);
			if (!json_object_is_type(v, json_type_boolean))
				out(p, " %" PRId64, json_object_get_int64(v));
			first = 0;
		}
	}
	out(p, "%s</td></tr>\n", o == NULL ? "unknown" : first ? "none" : "");
}

static void integrity_section(struct page *p)
{
	struct json_object *in = at(p->doc, "sections/integrity");
	struct json_object *fails = at(in, "integrity_failures");
	int intact = flag(in, "audit_chain/intact");

	section_head(p, "integrity", "Principles 9 and 11; policy 3.6: the audit log, the "
		     "signatures, the alarms and the clock", 1);
	out(p, "<table><tbody><tr><th>Audit log</th><td class=\"%s\">", intact ? "ok" : "act");
	if (intact)
		out(p, "chain verified intact: %" PRId64 " rows, %" PRId64 " signed checkpoints",
		    num(in, "audit_chain/rows"), num(in, "audit_chain/checkpoints"));
	else {
		out(p, "NOT intact: ");
		esc(p, str(in, "audit_chain/problem"));
	}
	out(p, "</td></tr>\n<tr><th>Last signed checkpoint</th><td>");
	if (at(in, "last_checkpoint")) {
		out(p, "row %" PRId64 ", ", num(in, "last_checkpoint/seq"));
		when(p, str(in, "last_checkpoint/time"));
	} else {
		out(p, "none");
	}
	out(p, "</td></tr>\n<tr><th>Off-box witness</th><td>");
	esc(p, str(in, "witness/state"));
	if (at(in, "witness/backlog"))
		out(p, " (backlog %" PRId64 ")", num(in, "witness/backlog"));
	out(p, "</td></tr>\n<tr><th>Integrity failures</th><td>%zu</td></tr>\n", len_of(fails));
	counts_line(p, "Alarms raised in the period", at(in, "alarms_raised"));
	counts_line(p, "Alarms standing now", at(in, "alarms_now"));
	counts_line(p, "Daemon events", at(in, "daemon_events"));
	out(p, "<tr><th>Clock now</th><td>");
	if (at(in, "clock/synchronised_now") == NULL)
		out(p, "unknown");
	else if (json_object_get_boolean(at(in, "clock/synchronised_now")))
		out(p, "synchronised (estimated error %.3f s)",
		    dbl(in, "clock/estimated_error_us") / 1e6);
	else
		out(p, "<span class=\"act\">NOT synchronised</span>");
	out(p, "</td></tr>\n<tr><th>Clips and the clock</th><td>");
	count(p, num(in, "clock/clips_unsynchronised"));
	out(p, " of ");
	count(p, num(in, "clock/clips"));
	out(p, " clips recorded while the clock was not synchronised");
	if (len_of(at(in, "clock/days_unsynchronised")))
		out(p, ", on %zu day%s", len_of(at(in, "clock/days_unsynchronised")),
		    len_of(at(in, "clock/days_unsynchronised")) == 1 ? "" : "s");
	out(p, "</td></tr></tbody></table>\n");
	if (len_of(fails)) {
		out(p, "<h3>Integrity failures</h3><ul>");
		for (size_t i = 0; i < len_of(fails); i++) {
			out(p, "<li>");
			when(p, str(item(fails, i), "time"));
			out(p, ": ");
			esc(p, str(item(fails, i), "what"));
			out(p, "</li>");
		}
		out(p, "</ul>\n");
	}
	section_actions(p, "integrity");
}

static void all_actions(struct page *p)
{
	struct json_object *a = at(p->doc, "actions");

	out(p, "<section class=\"break\" id=\"actions\"><h2>Actions</h2><p class=\"cites\">"
	       "Policy 4.1 and principle 10: every warning of the configuration check, reviews "
	       "that are due, lapsed signage, long gaps and anything else that needs a "
	       "person</p>\n");
	if (len_of(a) == 0) {
		out(p, "<div class=\"actions none\">Nothing needs action.</div>\n");
	} else {
		out(p, "<div class=\"actions\"><ol>");
		for (size_t i = 0; i < len_of(a); i++) {
			out(p, "<li><b>");
			esc(p, section_title(or_else(str(item(a, i), "section"), "?")));
			out(p, "</b> (");
			esc(p, str(item(a, i), "clause"));
			out(p, "): ");
			esc(p, str(item(a, i), "text"));
			out(p, "</li>\n");
		}
		out(p, "</ol></div>\n");
	}
	out(p, "</section>\n");
}

static void how_to_check(struct page *p)
{
	out(p, "<section id=\"check\"><h2>How to check this report</h2>"
	       "<p>The figures come from the report's JSON file (format <span class=\"mono\">");
	esc(p, str(p->doc, "format"));
	out(p, "</span> version %" PRId64 ", docs/report-format.md), written next to this page "
	       "with the recorder's signature (<span class=\"mono\">.json.sig</span>) and public "
	       "key (<span class=\"mono\">.pem</span>). With OpenSSL:</p>\n<div class=\"sig\">"
	       "<p class=\"mono\">sha256sum REPORT.json</p><p>must print <span class=\"mono\">",
	    num(p->doc, "format_version"));
	esc(p, p->sha);
	out(p, "</span>;</p><p class=\"mono\">openssl dgst -sha256 -verify REPORT.pem "
	       "-signature REPORT.json.sig REPORT.json</p><p>must print "
	       "<b>Verified OK</b>; and</p><p class=\"mono\">openssl pkey -pubin -in REPORT.pem "
	       "-outform DER | sha256sum</p><p>must print the device key fingerprint "
	       "<span class=\"mono\">");
	esc(p, str(p->doc, "device/public_key_sha256"));
	out(p, "</span>, the one registered for this recorder (vigilctl status on the box "
	       "shows it).</p></div>\n");
	if (at(p->doc, "sources/audit_checkpoint")) {
		out(p, "<p>The figures count the audit log up to row %" PRId64 "; the recorder "
		       "signed its audit chain at row %" PRId64 " (hash <span class=\"mono\">",
		    num(p->doc, "sources/audit_rows_through_seq"),
		    num(p->doc, "sources/audit_checkpoint/seq"));
		esc(p, str(p->doc, "sources/audit_checkpoint/hash"));
		out(p, "</span>) for this report.</p>\n");
	}
	out(p, "</section>\n<footer>Made by vigil from the recorder's own catalog and audit log. "
	       "It shows what the recorder can know; the organisational parts of the review "
	       "(consultation, assessments, staff training) are not in it.</footer>\n");
}

int vg_report_html(const char *json, size_t len, const char *sha256_hex, FILE *f, char *why,
		   size_t whylen)
{
	struct json_tokener *tok = json_tokener_new();
	struct page p = { .out = f, .sha = sha256_hex };

	if (tok == NULL)
		return -VG_ENOMEM;
	p.doc = json_tokener_parse_ex(tok, json, (int)len);
	json_tokener_free(tok);
	if (p.doc == NULL || str(p.doc, "format") == NULL ||
	    strcmp(str(p.doc, "format"), VG_REPORT_FORMAT) != 0 ||
	    num(p.doc, "format_version") != VG_REPORT_FORMAT_VERSION) {
		snprintf(why, whylen, "not a version %d vigil report", VG_REPORT_FORMAT_VERSION);
		json_object_put(p.doc);
		return -VG_EFORMAT;
	}
	head(&p);
	front(&p);
	coverage(&p);
	register_section(&p);
	availability_section(&p);
	retention_section(&p);
	access_section(&p);
	disclosures_section(&p);
	integrity_section(&p);
	all_actions(&p);
	how_to_check(&p);
	out(&p, "</main></body></html>\n");
	json_object_put(p.doc);
	if (fflush(f) != 0 || ferror(f)) {
		snprintf(why, whylen, "cannot write the page");
		return -VG_EIO;
	}
	return 0;
}
