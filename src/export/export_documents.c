/*
 * export_documents.c - the documents that go with the footage (the
 * manifest calls them "document" files): README.txt for the recipient,
 * chain-of-custody.json from the audit log, manifest.json and its
 * signature, SHA256SUMS, and the gaps in recording the manifest lists.
 * Formats: docs/export-format.md.
 */
#define VG_LOG_MODULE "EXP"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libavutil/base64.h>

#include "vigil/audit.h"
#include "vigil/crypto.h"
#include "vigil/err.h"
#include "vigil/export.h"
#include "vigil/sign.h"
#include "vigil/timeutil.h"

#include "export_impl.h"

/* ---- documents ---- */

static json_object *jstr(const char *s)
{
	return json_object_new_string(s ? s : "");
}

static json_object *jtime(int64_t us)
{
	char b[40];

	vg_time_format(us, b, sizeof(b));
	return json_object_new_string(b);
}

struct coc {
	struct exp *e;
	json_object *arr;
	const char *camera;
	size_t camlen;
};

/* "camera=NAME" as a whole token in an audit row's object. */
static int mentions_camera(const char *obj, const char *cam, size_t camlen)
{
	const char *p = obj;

	while ((p = strstr(p, "camera=")) != NULL) {
		const char *v = p + 7;

		if ((p == obj || p[-1] == ' ' || p[-1] == ',') && strncmp(v, cam, camlen) == 0 &&
		    (v[camlen] == '\0' || v[camlen] == ' ' || v[camlen] == ','))
			return 1;
		p = v;
	}
	return 0;
}

/* The value of "key=" as a whole token of an audit object, or 0. */
static int token(const char *obj, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key);
	const char *p = obj;

	while ((p = strstr(p, key)) != NULL) {
		if ((p == obj || p[-1] == ' ') && p[kl] == '=') {
			size_t n = strcspn(p + kl + 1, " ");

			if (n >= len)
				return 0;
			memcpy(out, p + kl + 1, n);
			out[n] = '\0';
			return 1;
		}
		p += kl;
	}
	return 0;
}

static int by_id(const void *a, const void *b)
{
	const struct clip_clock *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* e->clk: every clip of the runs, sorted by id, clock state unknown. */
static int index_clips(struct exp *e)
{
	int n = 0, k = 0;

	for (int i = 0; i < e->nruns; i++)
		n += e->runs[i].n;
	e->clk = calloc((size_t)(n ? n : 1), sizeof(*e->clk));
	if (e->clk == NULL)
		return -VG_ENOMEM;
	for (int i = 0; i < e->nruns; i++)
		for (int j = 0; j < e->runs[i].n; j++) {
			e->clk[k].id = e->runs[i].clips[j].id;
			e->clk[k++].state = CLOCK_UNKNOWN;
		}
	e->nclk = n;
	qsort(e->clk, (size_t)n, sizeof(*e->clk), by_id);
	return 0;
}

/* The exported clip id, or NULL if it is not in the export. */
static struct clip_clock *exported_clip(struct exp *e, int64_t id)
{
	struct clip_clock key = { .id = id };

	return e->nclk ? bsearch(&key, e->clk, (size_t)e->nclk, sizeof(key), by_id) : NULL;
}

/*
 * Does an audit row of the camera concern this export? A row about a clip
 * ("clip=ID": recorded, viewed) if the clip is exported; a row about a
 * time range ("from=... to=...": holds, listings, other exports) if the
 * range overlaps the request; any other row (the camera lost, started,
 * reconfigured) if it was written during the requested time. The rest of
 * the camera's history is not this recipient's business.
 */
static int concerns_export(struct exp *e, const struct vg_audit_entry *r)
{
	char v[64];
	int64_t from, to;

	if (token(r->object, "clip", v, sizeof(v))) {
		struct clip_clock *c = exported_clip(e, strtoll(v, NULL, 10));
		char clk[32];

		if (c == NULL)
			return 0;
		if (strcmp(r->action, "clip.create") == 0 && token(r->object, "clock", clk, sizeof(clk)))
			c->state = strcmp(clk, "synchronised") == 0 ? CLOCK_SYNCED : CLOCK_UNSYNCED;
		return 1;
	}
	if (token(r->object, "from", v, sizeof(v)) && vg_time_parse(v, 0, &from) == 0 &&
	    token(r->object, "to", v, sizeof(v)) && vg_time_parse(v, 0, &to) == 0)
		return from < e->req->to_us && to > e->req->from_us;
	return r->time_us >= e->req->from_us && r->time_us < e->req->to_us;
}

static int coc_row(const struct vg_audit_entry *r, void *ud)
{
	struct coc *c = ud;
	json_object *o;
	char h[65];

	if (!mentions_camera(r->object, c->camera, c->camlen) || !concerns_export(c->e, r))
		return 0;
	o = json_object_new_object();
	json_object_object_add(o, "seq", json_object_new_int64(r->seq));
	json_object_object_add(o, "time", jtime(r->time_us));
	json_object_object_add(o, "uid", json_object_new_int64(r->uid));
	json_object_object_add(o, "login", jstr(r->login));
	json_object_object_add(o, "role", jstr(r->role));
	json_object_object_add(o, "action", jstr(r->action));
	json_object_object_add(o, "object", jstr(r->object));
	json_object_object_add(o, "purpose", jstr(r->purpose));
	json_object_object_add(o, "reference", jstr(r->reference));
	json_object_object_add(o, "outcome", jstr(r->outcome));
	json_object_object_add(o, "reason", jstr(r->reason));
	vg_hex(r->prev_hash, VG_AUDIT_HASH_LEN, h);
	json_object_object_add(o, "prev_hash", json_object_new_string(h));
	vg_hex(r->hash, VG_AUDIT_HASH_LEN, h);
	json_object_object_add(o, "hash", json_object_new_string(h));
	json_object_array_add(c->arr, o);
	return 0;
}

static int write_json(struct exp *e, const char *name, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_SPACED |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	char *buf;
	int ret;

	if (s == NULL)
		return -VG_ENOMEM;
	/* json-c ends without a newline; text tools expect one */
	if (asprintf(&buf, "%s\n", s) < 0)
		return -VG_ENOMEM;
	ret = exp_write_small(e, name, buf, strlen(buf));
	free(buf);
	return ret;
}

int exp_write_custody(struct exp *e)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array();
	int ret = index_clips(e);

	json_object_object_add(root, "note",
			       jstr("Audit log rows of this device that concern this footage, in "
				    "order: the exported clips (recorded, viewed), holds and exports "
				    "of these cameras whose time overlaps it, and other events of "
				    "these cameras during it. Rows are chained by hash to rows not "
				    "shown here; the device's whole log can be checked with "
				    "'vigilctl audit verify'. See docs/audit-format.md."));
	for (int i = 0; i < e->req->n_cameras && e->ctx->audit && ret == 0; i++) {
		struct vg_audit_filter flt = { 0 };
		struct coc c = { e, arr, e->req->cameras[i].name,
				 strlen(e->req->cameras[i].name) };

		flt.camera = c.camera;
		ret = vg_audit_query(e->ctx->audit, &flt, coc_row, &c);
	}
	json_object_object_add(root, "rows", arr);
	if (ret == 0)
		ret = write_json(e, "chain-of-custody.json", root);
	else
		exp_why(e, "reading the audit log failed: %s", vg_strerror(ret));
	json_object_put(root);
	return ret;
}

/* 1 if any exported video is from the synthetic test camera. */
int exp_any_synthetic(const struct exp *e)
{
	for (int i = 0; i < e->nfiles; i++)
		if (e->files[i].synthetic)
			return 1;
	return 0;
}

/* Seconds as a JSON number rounded to the millisecond: 22.8, not
 * 22.800000000000001. */
static json_object *seconds_json(int64_t us)
{
	char txt[40];
	size_t n;

	snprintf(txt, sizeof(txt), "%.3f", (double)us / 1e6);
	n = strlen(txt);
	while (n > 1 && txt[n - 1] == '0' && txt[n - 2] != '.')
		txt[--n] = '\0';
	if (n > 2 && txt[n - 1] == '0' && txt[n - 2] == '.')
		txt[n -= 2] = '\0';
	return json_object_new_double_s((double)us / 1e6, txt);
}

int exp_write_readme(struct exp *e, const char *fpr)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char from[40], to[40];
	int ret;

	if (m == NULL)
		return -VG_ENOMEM;
	vg_time_format(e->whole_from_us, from, sizeof(from));
	vg_time_format(e->whole_to_us, to, sizeof(to));
	if (exp_any_synthetic(e))
		fprintf(m, "SYNTHETIC TEST FOOTAGE: %s. It is not evidence of anything.\n\n",
			VG_EXPORT_SYNTHETIC_LABEL);
	fprintf(m,
		"CCTV EVIDENCE EXPORT  -  reference %s\n"
		"=====================================================================\n\n"
		"Site:      %s\n"
		"Recipient: %s\n"
		"Requested: %s to %s (all times are UTC)\n\n",
		e->req->reference, e->req->site_name ? e->req->site_name : "(not set)",
		e->req->recipient,
		from, to);
	if (e->disc_of > 1) {
		vg_time_format(e->req->from_us, from, sizeof(from));
		vg_time_format(e->req->to_us, to, sizeof(to));
		fprintf(m,
			"THIS IS DISC %d OF %d. The footage did not fit on one disc, so it was\n"
			"split by time. This disc holds %s to %s and can be\n"
			"played and checked on its own; the other discs hold the rest.\n\n",
			e->disc_no, e->disc_of, from, to);
	}
	fprintf(m,
		"WHAT IS HERE\n"
		"  *.mp4                  The recorded video, one file per camera for each\n"
		"                         unbroken stretch of recording. File names give the\n"
		"                         camera and the UTC start and end time.\n");
	if (e->req->n_redactions > 0)
		fprintf(m,
			"                         These files are REDACTED WORKING COPIES: parts of\n"
			"                         the picture were blanked out and the video was\n"
			"                         re-encoded. They are not the original recording.\n");
	else
		fprintf(m,
			"                         These hold the camera's original encoded pictures,\n"
			"                         unchanged (copied, not re-encoded).\n");
	fprintf(m,
		"  manifest.json          What was exported, by whom, when, and why; the\n"
		"                         fingerprint (SHA-256) of every file; gaps in recording.\n"
		"  manifest.json.sig      The recording device's digital signature of the manifest.\n"
		"  device-public-key.pem  The device's public key, to check that signature.\n"
		"  chain-of-custody.json  The device's audit log entries for these cameras.\n"
		"  SHA256SUMS             The SHA-256 fingerprint of every other file.\n"
		"  README.txt             This file.\n\n"
		"HOW TO PLAY THE VIDEO\n"
		"  Windows: double-click a .mp4 file (Films & TV / Media Player), or use VLC.\n"
		"  macOS:   QuickTime Player or VLC.   Linux: VLC or any video player.\n"
		"  Do not save the files again from an editor: that changes them.\n\n"
		"HOW TO CHECK NOTHING WAS CHANGED\n"
		"  1. Check every file against SHA256SUMS (open a terminal in this folder).\n"
		"     Linux:   sha256sum -c SHA256SUMS             (every line must say OK)\n"
		"     macOS:   shasum -a 256 -c SHA256SUMS\n"
		"     Windows: certutil -hashfile FILE SHA256      (for each FILE; compare the\n"
		"              result with the line for FILE in SHA256SUMS; case does not matter)\n"
		"  2. Check the device's signature on the manifest (OpenSSL; on Windows it\n"
		"     comes with Git for Windows, or use WSL):\n"
		"     openssl dgst -sha256 -verify device-public-key.pem \\\n"
		"         -signature manifest.json.sig manifest.json\n"
		"     It must print \"Verified OK\".\n"
		"  3. Confirm the key is really the device's: compare this fingerprint with the\n"
		"     one the sending organisation gives you separately, not from this medium:\n"
		"     on the request or disclosure form, on the label on the recorder, or read\n"
		"     out by phone from the recorder ('vigilctl key show' or 'vigilctl status'):\n"
		"     %s\n"
		"     With vigil's tool: vigilctl verify FOLDER --fingerprint THAT-FINGERPRINT\n"
		"     says whether the export was signed by that recorder.\n"
		"     To compute it yourself:\n"
		"     openssl pkey -pubin -in device-public-key.pem -outform DER | sha256sum\n"
		"     (macOS: ... | shasum -a 256)\n"
		"  Together these prove the files are exactly what the device exported.\n",
		fpr);
	if (fclose(m) != 0) {
		free(buf);
		return -VG_ENOMEM;
	}
	ret = exp_write_small(e, "README.txt", buf, len);
	free(buf);
	return ret;
}

void exp_list_gaps(struct exp *e)
{
	for (int ci = 0; ci < e->req->n_cameras; ci++) {
		const char *cam = e->req->cameras[ci].name;
		int64_t at = e->req->from_us;

		for (int i = 0; i <= e->nfiles; i++) {
			const struct outfile *f = i < e->nfiles ? &e->files[i] : NULL;
			int64_t next = f ? f->from_us : e->req->to_us;
			struct gap *g;

			if (f && (!f->video || strcmp(f->camera, cam) != 0))
				continue;
			if (next > at) {
				struct gap *ng = realloc(e->gaps, (size_t)(e->ngaps + 1) * sizeof(*ng));

				if (ng == NULL)
					return;
				e->gaps = ng;
				g = &ng[e->ngaps++];
				memset(g, 0, sizeof(*g));
				snprintf(g->camera, sizeof(g->camera), "%s", cam);
				g->from_us = at;
				g->to_us = next;
				snprintf(g->reason, sizeof(g->reason), "no recording");
				for (int k = 0; k < e->ncgaps; k++) {
					const struct vg_gap *cg = &e->cgaps[k];

					if (strcmp(cg->camera, cam) == 0 && cg->from_us < next &&
					    (cg->to_us == 0 || cg->to_us > at) && cg->reason[0])
						snprintf(g->reason, sizeof(g->reason), "%s", cg->reason);
				}
			}
			if (f && f->to_us > at)
				at = f->to_us;
		}
	}
	e->res->runs_gaps = e->ngaps;
}

/* Count the clock state of the clips in a video file (those of its run
 * that overlap the file's time). */
static void tally_clock(struct exp *e, struct outfile *f)
{
	const struct run *r = &e->runs[f->run];

	f->clk_synced = f->clk_unsynced = f->clk_unknown = 0;
	for (int j = 0; j < r->n; j++) {
		const struct vg_clip *c = &r->clips[j];
		const struct clip_clock *k;

		if (c->end_us <= f->from_us || c->start_us >= f->to_us)
			continue;
		k = exported_clip(e, c->id);
		if (k == NULL || k->state == CLOCK_UNKNOWN)
			f->clk_unknown++;
		else if (k->state == CLOCK_SYNCED)
			f->clk_synced++;
		else
			f->clk_unsynced++;
	}
}

static json_object *clock_words(const struct outfile *f)
{
	char b[96];
	int n = f->clk_synced + f->clk_unsynced + f->clk_unknown;

	if (n > 0 && f->clk_synced == n)
		return jstr("synchronised");
	if (f->clk_unsynced > 0)
		snprintf(b, sizeof(b), "NOT synchronised while %d of its %d clips were recorded",
			 f->clk_unsynced, n);
	else
		snprintf(b, sizeof(b), "unknown for %d of its %d clips", f->clk_unknown, n);
	return jstr(b);
}

/* The request and who made it: reference, recipient, reasons, exporter,
 * device, cameras, the requested time and (an image) which disc this is. */
static void manifest_request(struct exp *e, json_object *root, const char *fpr)
{
	const struct vg_export_request *q = e->req;
	json_object *a, *o;

	json_object_object_add(root, "format", jstr("vigil-export"));
	json_object_object_add(root, "format_version", json_object_new_int(1));
	json_object_object_add(root, "reference", jstr(q->reference));
	json_object_object_add(root, "recipient", jstr(q->recipient));
	json_object_object_add(root, "reason", jstr(q->reason));
	json_object_object_add(root, "police_decision", jstr(q->police_decision));
	json_object_object_add(root, "victim_wishes", jstr(q->victim_wishes));
	o = json_object_new_object();
	json_object_object_add(o, "login", jstr(q->exporter_login));
	json_object_object_add(o, "name", jstr(q->exporter_name));
	json_object_object_add(root, "exporter", o);
	json_object_object_add(root, "export_time", jtime(e->now_us));
	json_object_object_add(root, "site", jstr(q->site_name));
	o = json_object_new_object();
	json_object_object_add(o, "id", jstr(q->device_id));
	json_object_object_add(o, "firmware_version", jstr(q->firmware_version));
	json_object_object_add(o, "public_key_file", jstr("device-public-key.pem"));
	json_object_object_add(o, "public_key_sha256", jstr(fpr));
	json_object_object_add(root, "device", o);
	a = json_object_new_array();
	for (int i = 0; i < q->n_cameras; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "name", jstr(q->cameras[i].name));
		json_object_object_add(o, "purpose", jstr(q->cameras[i].purpose));
		json_object_array_add(a, o);
	}
	json_object_object_add(root, "cameras", a);
	o = json_object_new_object();
	json_object_object_add(o, "from", jtime(e->whole_from_us));
	json_object_object_add(o, "to", jtime(e->whole_to_us));
	json_object_object_add(root, "requested", o);
	/* An image: which disc of the set this is and the time it covers. */
	if (e->disc_of > 0) {
		o = json_object_new_object();
		json_object_object_add(o, "number", json_object_new_int(e->disc_no));
		json_object_object_add(o, "of", json_object_new_int(e->disc_of));
		json_object_object_add(o, "from", jtime(q->from_us));
		json_object_object_add(o, "to", jtime(q->to_us));
		json_object_object_add(root, "disc", o);
	}
}

/* The time the video files deliver (also into res->delivered_*), and the
 * recorder's clock: now, and as each exported clip was recorded. */
static void manifest_delivered(struct exp *e, json_object *root)
{
	const struct vg_export_request *q = e->req;
	int64_t dfrom = 0, dto = 0;
	int sy = 0, un = 0, uk = 0;
	json_object *o;

	for (int i = 0; i < e->nfiles; i++) {
		if (!e->files[i].video)
			continue;
		if (dfrom == 0 || e->files[i].from_us < dfrom)
			dfrom = e->files[i].from_us;
		if (e->files[i].to_us > dto)
			dto = e->files[i].to_us;
	}
	e->res->delivered_from_us = dfrom;
	e->res->delivered_to_us = dto;
	o = json_object_new_object();
	json_object_object_add(o, "from", jtime(dfrom));
	json_object_object_add(o, "to", jtime(dto));
	json_object_object_add(o, "note", jstr("Each file starts at the keyframe at or before the "
					       "requested start, so its first picture can be shown."));
	json_object_object_add(root, "delivered", o);
	json_object_object_add(root, "clock_sync", jstr(q->clock_sync ? q->clock_sync : "unknown"));
	for (int i = 0; i < e->nfiles; i++) {
		if (!e->files[i].video)
			continue;
		tally_clock(e, &e->files[i]);
		sy += e->files[i].clk_synced;
		un += e->files[i].clk_unsynced;
		uk += e->files[i].clk_unknown;
	}
	o = json_object_new_object();
	json_object_object_add(o, "synchronised", json_object_new_int(sy));
	json_object_object_add(o, "not_synchronised", json_object_new_int(un));
	json_object_object_add(o, "unknown", json_object_new_int(uk));
	json_object_object_add(o, "note", jstr("The recorder's clock as each clip was "
					       "recorded (NTP), from the clips' audit rows "
					       "in chain-of-custody.json."));
	json_object_object_add(root, "clips_clock_sync", o);
}

/* One file's entry in "files": its fingerprint, and for a video what it
 * shows and how it was made. */
static json_object *file_json(const struct outfile *f)
{
	json_object *o = json_object_new_object();
	char h[65];

	json_object_object_add(o, "name", jstr(f->name));
	json_object_object_add(o, "type", jstr(f->video ? "video" : "document"));
	vg_hex(f->sha, VG_SHA256_LEN, h);
	json_object_object_add(o, "sha256", jstr(h));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)f->size));
	if (f->video) {
		json_object_object_add(o, "camera", jstr(f->camera));
		json_object_object_add(o, "from", jtime(f->from_us));
		json_object_object_add(o, "to", jtime(f->to_us));
		json_object_object_add(o, "duration_seconds", seconds_json(f->duration_us));
		json_object_object_add(o, "synthetic", json_object_new_boolean(f->synthetic));
		json_object_object_add(o, "frames", json_object_new_int64(f->frames));
		json_object_object_add(o, "codec", jstr("h264"));
		json_object_object_add(o, "width", json_object_new_int(f->width));
		json_object_object_add(o, "height", json_object_new_int(f->height));
		json_object_object_add(o, "source_clips", json_object_new_int(f->clips));
		json_object_object_add(o, "clock_sync", clock_words(f));
		json_object_object_add(o, "content",
				       jstr(f->redacted ? "redacted working copy (re-encoded)"
							: "original encoded frames, remuxed"));
	}
	return o;
}

/* The gaps in recording (list_gaps) as the manifest's "gaps". */
static json_object *gaps_json(const struct exp *e)
{
	json_object *a = json_object_new_array(), *o;

	for (int i = 0; i < e->ngaps; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "camera", jstr(e->gaps[i].camera));
		json_object_object_add(o, "from", jtime(e->gaps[i].from_us));
		json_object_object_add(o, "to", jtime(e->gaps[i].to_us));
		json_object_object_add(o, "reason", jstr(e->gaps[i].reason));
		json_object_array_add(a, o);
	}
	return a;
}

/* "audit_checkpoint": the audit log's last row, signed now, so the
 * recipient can tell later rows were added after this export (null
 * without an audit log). */
static int manifest_checkpoint(struct exp *e, json_object *root)
{
	struct vg_audit_checkpoint cp;
	char b64[AV_BASE64_SIZE(VG_SIGN_MAX_SIG)];
	char h[65];
	json_object *o;
	int ret;

	if (e->ctx->audit == NULL) {
		json_object_object_add(root, "audit_checkpoint", NULL);
		return 0;
	}
	ret = vg_audit_checkpoint(e->ctx->audit, &cp);
	if (ret < 0) {
		exp_why(e, "cannot sign an audit checkpoint: %s", vg_strerror(ret));
		return ret;
	}
	o = json_object_new_object();
	json_object_object_add(o, "seq", json_object_new_int64(cp.seq));
	vg_hex(cp.hash, VG_AUDIT_HASH_LEN, h);
	json_object_object_add(o, "hash", jstr(h));
	json_object_object_add(o, "time", jtime(cp.time_us));
	av_base64_encode(b64, sizeof(b64), cp.sig, (int)cp.sig_len);
	json_object_object_add(o, "signature_base64", jstr(b64));
	json_object_object_add(root, "audit_checkpoint", o);
	return 0;
}

/* manifest.json.sig: the device key's signature of manifest.json, the
 * file written last (its hash is the digest signed). */
static int sign_manifest(struct exp *e)
{
	uint8_t digest[VG_SIGN_DIGEST_LEN], sig[VG_SIGN_MAX_SIG];
	size_t siglen;
	int ret;

	memcpy(digest, e->files[e->nfiles - 1].sha, sizeof(digest));
	vg_hex(digest, sizeof(digest), e->res->manifest_sha256);
	ret = vg_sign_digest(e->ctx->key, digest, sig, sizeof(sig), &siglen);
	if (ret < 0) {
		exp_why(e, "signing the manifest failed: %s", vg_strerror(ret));
		return ret;
	}
	return exp_write_small(e, "manifest.json.sig", sig, siglen);
}

/* manifest.json, then its signature. The fields go in the order
 * docs/export-format.md lists them; the functions above add a part each. */
int exp_write_manifest(struct exp *e, const char *fpr, const char *pem)
{
	const struct vg_export_request *q = e->req;
	json_object *root = json_object_new_object(), *a, *o;
	int ret;

	manifest_request(e, root, fpr);
	manifest_delivered(e, root);
	json_object_object_add(root, "redacted_working_copy",
			       json_object_new_boolean(q->n_redactions > 0));
	if (q->n_redactions > 0)
		json_object_object_add(root, "redaction_note",
				       jstr("The video files are REDACTED WORKING COPIES: regions "
					    "were blanked and the video re-encoded. They are not "
					    "the master exhibit."));
	a = json_object_new_array();
	for (int i = 0; i < e->nfiles; i++)
		json_object_array_add(a, file_json(&e->files[i]));
	json_object_object_add(root, "files", a);
	json_object_object_add(root, "gaps", gaps_json(e));
	ret = manifest_checkpoint(e, root);
	if (ret < 0)
		goto out;
	o = json_object_new_object();
	json_object_object_add(o, "file", jstr("manifest.json.sig"));
	json_object_object_add(o, "algorithm", jstr("ECDSA P-256 over SHA-256(manifest.json), DER"));
	json_object_object_add(o, "public_key_pem", jstr(pem));
	json_object_object_add(root, "signature", o);
	ret = write_json(e, "manifest.json", root);
	if (ret == 0)
		ret = sign_manifest(e);
out:
	json_object_put(root);
	return ret;
}

int exp_write_sums(struct exp *e)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char h[65];
	int ret;

	if (m == NULL)
		return -VG_ENOMEM;
	for (int i = 0; i < e->nfiles; i++) {
		vg_hex(e->files[i].sha, VG_SHA256_LEN, h);
		fprintf(m, "%s  %s\n", h, e->files[i].name);
	}
	if (fclose(m) != 0) {
		free(buf);
		return -VG_ENOMEM;
	}
	ret = exp_write_small(e, "SHA256SUMS", buf, len);
	free(buf);
	return ret;
}
