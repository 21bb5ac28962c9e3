/*
 * test_export.c - export and verify against real clips: synthetic pictures
 * encoded and segmented into an encrypted temp data folder with a real
 * catalog; two clips back to back, then a gap (a restart), then one more.
 * The results are judged with the tools a recipient has: sha256sum,
 * openssl, ffmpeg, xorriso.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "vigil/audit.h"
#include "vigil/catalog.h"
#include "vigil/clipmedia.h"
#include "vigil/crypto.h"
#include "vigil/encoder.h"
#include "vigil/err.h"
#include "vigil/export.h"
#include "vigil/mp4check.h"
#include "vigil/segmenter.h"
#include "vigil/sign.h"
#include "vigil/timeutil.h"
#include "vigil/verify.h"

#define W 160
#define H 120
#define FPS 10
#define FRAME_US (VG_US_PER_S / FPS)

struct fx {
	char dir[64], data[96], dest[96], db[128];
	uint8_t master[VG_MASTER_KEY_LEN];
	struct vg_catalog *cat;
	struct vg_sign_key *key;
	struct vg_audit *audit;
	int64_t base;
};

static void record(struct fx *f, int k0, int k1)
{
	struct vg_encoder_params ep = {
		.encoder = "libx264", .preset = "ultrafast", .crf = 30, .gop = 2 * FPS,
		.width = W, .height = H, .in_fmt = AV_PIX_FMT_YUYV422,
		.fps_num = FPS, .fps_den = 1, .time_base = { 1, 90000 }, .threads = 1,
	};
	struct vg_encoder *enc;
	struct vg_segmenter *seg;
	AVCodecParameters *par = avcodec_parameters_alloc();
	AVFrame *fr = av_frame_alloc();
	AVPacket *pkt = av_packet_alloc();
	int64_t base = f->base + (int64_t)k0 * FRAME_US;
	char why[256];

	assert_int_equal(vg_encoder_open(&enc, &ep, why, sizeof(why)), 0);
	avcodec_parameters_from_context(par, vg_encoder_context(enc));
	{
		struct vg_segmenter_params sp = {
			.camera = "cam", .data_dir = f->data, .master = f->master, .cat = f->cat,
			.segment_us = 3 * VG_US_PER_S, .fragment_us = VG_US_PER_S / 2,
			.codecpar = par, .time_base = { 1, 90000 }, .base_utc_us = base,
			.frame_us = FRAME_US, .encoder_name = "libx264",
		};
		assert_int_equal(vg_segmenter_new(&seg, &sp), 0);
	}
	fr->format = AV_PIX_FMT_YUYV422;
	fr->width = W;
	fr->height = H;
	assert_int_equal(av_frame_get_buffer(fr, 0), 0);
	for (int k = k0; k <= k1; k++) {
		int64_t ts = f->base + (int64_t)k * FRAME_US;

		if (k < k1) {
			assert_int_equal(av_frame_make_writable(fr), 0);
			for (int y = 0; y < H; y++)
				for (int x = 0; x < W * 2; x++)
					fr->data[0][y * fr->linesize[0] + x] = (uint8_t)(x + 2 * y + 3 * k);
			fr->pts = av_rescale_q(ts - base, (AVRational){ 1, 1000000 },
					       (AVRational){ 1, 90000 });
			fr->pict_type = vg_segmenter_wants_keyframe(seg, ts) ? AV_PICTURE_TYPE_I
									     : AV_PICTURE_TYPE_NONE;
		}
		assert_int_equal(vg_encoder_send(enc, k < k1 ? fr : NULL), 0);
		while (vg_encoder_receive(enc, pkt) == 0) {
			assert_int_equal(vg_segmenter_write(seg, pkt), 0);
			av_packet_unref(pkt);
		}
	}
	assert_int_equal(vg_segmenter_finish(seg), 0);
	vg_segmenter_free(seg);
	vg_encoder_free(enc);
	avcodec_parameters_free(&par);
	av_frame_free(&fr);
	av_packet_free(&pkt);
}

static int clip_rows(const struct vg_clip *c, void *ud)
{
	struct fx *f = ud;
	char obj[160];
	struct vg_audit_entry e = { .uid = -1, .action = "clip.create", .object = obj,
				    .outcome = "allowed" };

	snprintf(obj, sizeof(obj), "camera=cam clip=%lld frames=%lld clock=%s", (long long)c->id,
		 (long long)c->frames, c->start_us < f->base + 6 * VG_US_PER_S ? "synchronised"
										: "UNSYNCHRONISED");
	return vg_audit_append(f->audit, &e, NULL);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct vg_audit_entry e = { .uid = -1, .action = "recording.start", .object = "camera=cam",
				    .outcome = "allowed" };
	int64_t gid;
	char p[160];

	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-export.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->data, sizeof(f->data), "%s/data", f->dir);
	snprintf(f->dest, sizeof(f->dest), "%s/usb", f->dir);
	snprintf(f->db, sizeof(f->db), "%s/catalog.db", f->data);
	assert_int_equal(mkdir(f->data, 0700), 0);
	assert_int_equal(mkdir(f->dest, 0700), 0);
	assert_int_equal(vg_crypto_random(f->master, sizeof(f->master)), 0);
	assert_int_equal(vg_catalog_open(&f->cat, f->db), 0);
	assert_int_equal(vg_sign_key_generate(&f->key), 0);
	snprintf(p, sizeof(p), "%s/audit.db", f->data);
	assert_int_equal(vg_audit_open(p, f->key, &f->audit), 0);
	assert_int_equal(vg_audit_append(f->audit, &e, NULL), 0);
	f->base = INT64_C(1790000000) * VG_US_PER_S;
	/* 0-6 s: two 3 s clips back to back; restart; 10-13 s: one clip. */
	record(f, 0, 6 * FPS);
	assert_int_equal(vg_catalog_gap_open(f->cat, "cam", f->base + 6 * VG_US_PER_S,
					     "daemon restarted", &gid), 0);
	assert_int_equal(vg_catalog_gap_close(f->cat, gid, f->base + 10 * VG_US_PER_S), 0);
	record(f, 10 * FPS, 13 * FPS);
	/* The daemon's clip.create rows (pipeline.c): the clock was
	 * synchronised for the first two clips and not for the third; and one
	 * row about a clip that is not exported. */
	assert_int_equal(vg_catalog_clips(f->cat, "cam", 0, 0, clip_rows, f), 0);
	{
		struct vg_audit_entry o = { .uid = -1, .action = "clip.create",
					    .object = "camera=cam clip=999 clock=synchronised",
					    .outcome = "allowed" };

		assert_int_equal(vg_audit_append(f->audit, &o, NULL), 0);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	vg_audit_close(f->audit);
	vg_sign_key_free(f->key);
	vg_catalog_close(f->cat);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static const struct vg_export_camera cams[] = { { "cam", "anti-social behaviour" } };

static struct vg_export_request request(struct fx *f)
{
	struct vg_export_request q = {
		.cameras = cams, .n_cameras = 1,
		.from_us = f->base, .to_us = f->base + 20 * VG_US_PER_S,
		.recipient = "police", .reference = "CRIME-2026/114 a", .reason = "assault",
		.exporter_login = "jsmith", .exporter_name = "J Smith",
		.dest_dir = f->dest, .device_id = "vg-test-01", .firmware_version = "0.1-test",
		.site_name = "Elm Court",
	};
	return q;
}

static struct vg_export_ctx context(struct fx *f)
{
	struct vg_export_ctx c = {
		.cat = f->cat, .data_dir = f->data, .master = f->master, .key = f->key,
		.audit = f->audit,
	};
	return c;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

/* Video file names from the manifest, in order. */
static int videos(const char *dir, char names[][160], int max)
{
	char p[512];
	json_object *root, *files;
	int n = 0;

	snprintf(p, sizeof(p), "%s/manifest.json", dir);
	root = json_object_from_file(p);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "files", &files));
	for (size_t i = 0; i < json_object_array_length(files) && n < max; i++) {
		json_object *o = json_object_array_get_idx(files, i), *t, *nm;

		assert_true(json_object_object_get_ex(o, "type", &t));
		assert_true(json_object_object_get_ex(o, "name", &nm));
		if (strcmp(json_object_get_string(t), "video") == 0)
			snprintf(names[n++], 160, "%s", json_object_get_string(nm));
	}
	json_object_put(root);
	return n;
}

struct pkts {
	uint8_t **data;
	int *size;
	int n;
};

static void pkts_add(struct pkts *p, const AVPacket *pkt)
{
	p->data = realloc(p->data, (size_t)(p->n + 1) * sizeof(*p->data));
	p->size = realloc(p->size, (size_t)(p->n + 1) * sizeof(*p->size));
	p->data[p->n] = malloc((size_t)pkt->size);
	memcpy(p->data[p->n], pkt->data, (size_t)pkt->size);
	p->size[p->n++] = pkt->size;
}

static void pkts_read(struct pkts *p, AVFormatContext *fmt)
{
	AVPacket *pkt = av_packet_alloc();

	while (av_read_frame(fmt, pkt) >= 0) {
		pkts_add(p, pkt);
		av_packet_unref(pkt);
	}
	av_packet_free(&pkt);
}

static void pkts_free(struct pkts *p)
{
	for (int i = 0; i < p->n; i++)
		free(p->data[i]);
	free(p->data);
	free(p->size);
}

static int collect(const struct vg_clip *c, void *ud)
{
	struct fx *f = ((void **)ud)[0];
	struct pkts *p = ((void **)ud)[1];
	struct vg_clipmedia *m;
	AVFormatContext *fmt;
	char path[700];

	snprintf(path, sizeof(path), "%s/%s", f->data, c->path);
	assert_int_equal(vg_clipmedia_open(&m, path, f->master, c->wrapped_key, &fmt), 0);
	pkts_read(p, fmt);
	vg_clipmedia_close(m);
	return 0;
}

/* Offset of the first top-level ISO BMFF box of this type, or -1. */
static long box_at(const char *path, const char *type)
{
	FILE *fp = fopen(path, "rb");
	uint8_t h[16];
	long off = 0, found = -1;

	assert_non_null(fp);
	while (fseek(fp, off, SEEK_SET) == 0 && fread(h, 1, 8, fp) == 8) {
		uint64_t sz = (uint64_t)h[0] << 24 | (uint64_t)h[1] << 16 | h[2] << 8 | h[3];

		if (memcmp(h + 4, type, 4) == 0) {
			found = off;
			break;
		}
		if (sz == 1 && fread(h + 8, 1, 8, fp) == 8) {
			sz = 0;
			for (int i = 8; i < 16; i++)
				sz = sz << 8 | h[i];
		}
		if (sz < 8)
			break;
		off += (long)sz;
	}
	fclose(fp);
	return found;
}

/* moov before mdat: the file plays while it is still being copied. */
static void assert_moov_first(const char *dir, const char *name)
{
	char p[600];
	long moov, mdat;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	moov = box_at(p, "moov");
	mdat = box_at(p, "mdat");
	assert_true(moov > 0);
	assert_true(mdat > moov);
}

static void test_export_folder_verifies_and_is_bit_identical(void **state)
{
	struct fx *f = *state;
	struct vg_export_request q = request(f);
	struct vg_export_ctx c = context(f);
	struct vg_export_result r;
	struct vg_verify_result vr;
	struct pkts rec = { 0 }, out = { 0 };
	char names[8][160], dir[300];
	void *ud[2] = { f, &rec };
	int n;

	assert_int_equal(vg_export_run(&c, &q, &r), 0);
	snprintf(dir, sizeof(dir), "%s/CRIME-2026_114_a", f->dest);
	assert_string_equal(r.path, dir);
	/* two runs: the restart left a 4 s gap */
	assert_int_equal(r.files, 2);
	assert_true(r.runs_gaps >= 1);
	n = videos(dir, names, 8);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "cam_20260921T141320Z-20260921T141326Z.mp4");
	assert_string_equal(names[1], "cam_20260921T141330Z-20260921T141333Z.mp4");
	assert_int_equal(sh("cd %s && sha256sum --quiet -c SHA256SUMS", dir), 0);
	assert_int_equal(sh("cd %s && openssl dgst -sha256 -verify device-public-key.pem "
			    "-signature manifest.json.sig manifest.json >/dev/null", dir), 0);
	assert_int_equal(vg_verify_export(dir, NULL, NULL, &vr), 0);
	assert_int_equal(vr.problems, 0);
	assert_int_equal(vr.videos, 2);
	assert_int_equal(vr.frames, 9 * FPS);
	for (int i = 0; i < n; i++) {
		assert_int_equal(sh("ffmpeg -nostdin -v error -i %s/%s -f null - 2>%s/err && "
				    "test ! -s %s/err", dir, names[i], f->dir, f->dir), 0);
		assert_int_equal(sh("ffprobe -v error -show_entries format=start_time -of csv=p=0 "
				    "%s/%s | grep -q '^0.000000$'", dir, names[i]), 0);
		assert_moov_first(dir, names[i]);
	}
	/* The recorded packets, every clip in order, against the exported ones. */
	assert_int_equal(vg_catalog_clips(f->cat, "cam", 0, 0, collect, ud), 0);
	for (int i = 0; i < n; i++) {
		AVFormatContext *fmt = NULL;
		char p[600];

		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		assert_int_equal(avformat_open_input(&fmt, p, NULL, NULL), 0);
		pkts_read(&out, fmt);
		avformat_close_input(&fmt);
	}
	assert_int_equal(rec.n, 9 * FPS);
	assert_int_equal(out.n, rec.n);
	for (int i = 0; i < rec.n; i++) {
		assert_int_equal(out.size[i], rec.size[i]);
		assert_memory_equal(out.data[i], rec.data[i], (size_t)rec.size[i]);
	}
	pkts_free(&rec);
	pkts_free(&out);
	assert_int_equal(sh("grep -q 'daemon restarted' %s/manifest.json", dir), 0);
	/* The chain of custody holds the exported clips' rows and not the rest
	 * of the camera's history (the recording.start row was written now,
	 * long after this footage; clip 999 is not exported). */
	assert_int_equal(sh("cd %s && python3 -c 'import json,sys; r=json.load(open("
			    "\"chain-of-custody.json\"))[\"rows\"]; o=[x[\"object\"] for x in r]; "
			    "sys.exit(0 if sum(\"clip.create\"==x[\"action\"] for x in r)==3 and "
			    "not any(\"clip=999 \" in x for x in o) and "
			    "not any(x[\"action\"]==\"recording.start\" for x in r) else 1)'", dir), 0);
	/* Each file says whether the clock was synchronised for its clips. */
	assert_int_equal(sh("cd %s && python3 -c 'import json,sys; m=json.load(open("
			    "\"manifest.json\")); v=[x for x in m[\"files\"] if x[\"type\"]==\"video\"]; "
			    "c=m[\"clips_clock_sync\"]; "
			    "sys.exit(0 if v[0][\"clock_sync\"]==\"synchronised\" and "
			    "v[1][\"clock_sync\"].startswith(\"NOT synchronised while 1 of its 1\") and "
			    "c[\"synchronised\"]==2 and c[\"not_synchronised\"]==1 and "
			    "c[\"unknown\"]==0 else 1)'", dir), 0);
	/* a second export to the same reference is refused, not merged */
	assert_int_equal(vg_export_run(&c, &q, &r), -VG_EEXIST);
}

static void flip(const char *path, off_t at)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, at), 1);
	b ^= 0x01;
	assert_int_equal(pwrite(fd, &b, 1, at), 1);
	close(fd);
}

/* A clip whose frame count the catalog does not know yet (still being
 * recorded) gives no bound for the moov's room: the file is still moov
 * first (written with +faststart) and verifies. */
static void test_unknown_frame_count_still_moov_first(void **state)
{
	struct fx *f = *state;
	struct vg_export_request q = request(f);
	struct vg_export_ctx c = context(f);
	struct vg_export_result r;
	struct vg_verify_result vr;
	char names[8][160], dir[300];
	int n;

	assert_int_equal(sh("sqlite3 %s 'UPDATE clips SET frames = 0'", f->db), 0);
	assert_int_equal(vg_export_run(&c, &q, &r), 0);
	snprintf(dir, sizeof(dir), "%s/CRIME-2026_114_a", f->dest);
	n = videos(dir, names, 8);
	assert_int_equal(n, 2);
	for (int i = 0; i < n; i++)
		assert_moov_first(dir, names[i]);
	assert_int_equal(sh("cd %s && sha256sum --quiet -c SHA256SUMS", dir), 0);
	assert_int_equal(vg_verify_export(dir, NULL, NULL, &vr), 0);
	assert_int_equal(vr.problems, 0);
	assert_int_equal(vr.frames, 9 * FPS);
}

static void test_one_changed_byte_is_caught(void **state)
{
	struct fx *f = *state;
	struct vg_export_request q = request(f);
	struct vg_export_ctx c = context(f);
	struct vg_export_result r;
	struct vg_verify_result vr;
	const char *what[3];
	char names[8][160], dir[300], p[600];

	assert_int_equal(vg_export_run(&c, &q, &r), 0);
	snprintf(dir, sizeof(dir), "%s", r.path);
	assert_int_equal(videos(dir, names, 8), 2);
	what[0] = names[1];
	what[1] = "manifest.json";
	what[2] = "manifest.json.sig";
	for (int i = 0; i < 3; i++) {
		struct stat st;

		snprintf(p, sizeof(p), "%s/%s", dir, what[i]);
		assert_int_equal(stat(p, &st), 0);
		/* the middle of a video; the manifest's 10th byte; the signature's last */
		flip(p, i == 0 ? st.st_size / 2 : i == 1 ? 10 : st.st_size - 1);
		assert_int_equal(vg_verify_export(dir, NULL, NULL, &vr), -VG_EAUTH);
		assert_string_equal(vr.first_bad, what[i]);
		assert_int_not_equal(sh("cd %s && sha256sum --quiet -c SHA256SUMS "
					">/dev/null 2>&1", dir), 0);
		if (i > 0)
			assert_int_not_equal(sh("cd %s && openssl dgst -sha256 -verify "
						"device-public-key.pem -signature manifest.json.sig "
						"manifest.json >/dev/null 2>&1", dir), 0);
		flip(p, i == 0 ? st.st_size / 2 : i == 1 ? 10 : st.st_size - 1);
		assert_int_equal(vg_verify_export(dir, NULL, NULL, &vr), 0);
	}
	/* an extra file is named too */
	assert_int_equal(sh("echo x > %s/extra.txt", dir), 0);
	assert_int_equal(vg_verify_export(dir, NULL, NULL, &vr), -VG_EAUTH);
	assert_string_equal(vr.first_bad, "extra.txt");
}

/* A range inside a clip: the file starts at the keyframe before it. */
static void test_range_is_cut_at_keyframes(void **state)
{
	struct fx *f = *state;
	struct vg_export_request q = request(f);
	struct vg_export_ctx c = context(f);
	struct vg_export_result r;
	struct vg_verify_result vr;

	q.from_us = f->base + 4500 * 1000;
	q.to_us = f->base + 5200 * 1000;
	assert_int_equal(vg_export_run(&c, &q, &r), 0);
	assert_int_equal(r.files, 1);
	/* the second clip starts with a keyframe at 3 s; GOP is 2 s */
	assert_true(r.delivered_from_us <= q.from_us);
	assert_true(r.delivered_from_us >= f->base + 3 * VG_US_PER_S);
	assert_int_equal(r.delivered_to_us, q.to_us);
	assert_int_equal(vg_verify_export(r.path, NULL, NULL, &vr), 0);
	assert_true(vr.frames >= 7 && vr.frames <= 22);
	/* nothing recorded in the gap */
	q.from_us = f->base + 7 * VG_US_PER_S;
	q.to_us = f->base + 9 * VG_US_PER_S;
	q.reference = "CRIME-2";
	assert_int_equal(vg_export_run(&c, &q, &r), -VG_ENOENT);
}

/* Given descriptors (vigild's way, issue 19.2): the export goes into the
 * folder vigilctl made, through its descriptor; a symlink the requester
 * plants there is never followed (the victim file is untouched and the
 * export fails), and the final rename is left to the caller. */
static void test_given_folder_follows_no_symlink(void **state)
{
	struct fx *f = *state;
	struct vg_export_request q = request(f);
	struct vg_export_ctx c = context(f);
	struct vg_export_result r;
	char dir[200], victim[200], link[260];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/CRIME-2026_114_a.incomplete", f->dest);
	assert_int_equal(mkdir(dir, 0700), 0);
	q.given = 1;
	q.folder_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(q.folder_fd >= 0);
	assert_int_equal(vg_export_run(&c, &q, &r), 0);
	/* written into the given folder, not renamed: vigilctl does that */
	assert_int_equal(sh("cd %s && sha256sum -c --quiet SHA256SUMS", dir), 0);
	assert_int_equal(stat(r.path, &st), -1);
	close(q.folder_fd);
	sh("rm -rf %s", dir);

	/* a planted symlink where a file will be written */
	snprintf(victim, sizeof(victim), "%s/victim", f->dir);
	assert_int_equal(sh("echo precious > %s", victim), 0);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(link, sizeof(link), "%s/SHA256SUMS", dir);
	assert_int_equal(symlink(victim, link), 0);
	snprintf(link, sizeof(link), "%s/README.txt", dir);
	assert_int_equal(symlink(victim, link), 0);
	snprintf(link, sizeof(link), "%s/INCOMPLETE.txt", dir);
	assert_int_equal(symlink(victim, link), 0);
	q.folder_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(vg_export_run(&c, &q, &r) < 0);
	close(q.folder_fd);
	assert_int_equal(sh("grep -qx precious %s", victim), 0);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
}

/* The same for an image: written through the descriptor of the file
 * vigilctl made, staged in the folder it made, which is left empty. */
static void test_given_image(void **state)
{
	struct fx *f = *state;
	struct vg_export_request q = request(f);
	struct vg_export_ctx c = context(f);
	struct vg_export_result r;
	struct vg_verify_result vr;
	char iso[200], stage[220];
	int img;

	snprintf(iso, sizeof(iso), "%s/given.iso", f->dir);
	snprintf(stage, sizeof(stage), "%s/given.iso.staging", f->dir);
	q.dest_dir = NULL;
	q.iso_path = iso;
	assert_int_equal(vg_export_images_needed(&c, &q, NULL, 0), 1);
	assert_int_equal(mkdir(stage, 0700), 0);
	img = open(iso, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(img >= 0);
	q.given = 1;
	q.staging_fd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	q.image_fds = &img;
	q.n_images = 1;
	assert_int_equal(vg_export_run(&c, &q, &r), 0);
	assert_string_equal(r.path, iso);
	close(img);
	close(q.staging_fd);
	assert_int_equal(sh("test -z \"$(ls -A %s)\"", stage), 0);
	memset(&vr, 0, sizeof(vr));
	assert_int_equal(vg_verify_export(iso, NULL, NULL, &vr), 0);
}

static void test_iso_image(void **state)
{
	struct fx *f = *state;
	struct vg_export_request q = request(f);
	struct vg_export_ctx c = context(f);
	struct vg_export_result r;
	struct vg_verify_result vr;
	char iso[200];
	struct stat st;

	snprintf(iso, sizeof(iso), "%s/export.iso", f->dir);
	q.dest_dir = NULL;
	q.iso_path = iso;
	assert_int_equal(vg_export_run(&c, &q, &r), 0);
	assert_string_equal(r.path, iso);
	assert_int_equal(sh("xorriso -indev %s -find / 2>/dev/null | "
			    "grep -q \"/CRIME-2026_114_a/manifest.json'\"", iso), 0);
	assert_int_equal(sh("xorriso -indev %s -find / 2>/dev/null | grep -c 'cam_.*mp4' | "
			    "grep -qx 2", iso), 0);
	assert_int_equal(vg_verify_export(iso, NULL, NULL, &vr), 0);
	assert_int_equal(vr.videos, 2);
	/* the plaintext staging copy is gone */
	snprintf(iso, sizeof(iso), "%s/export.iso.staging", f->dir);
	assert_int_not_equal(stat(iso, &st), 0);
	/* too big for the disc: refused before anything is written */
	snprintf(iso, sizeof(iso), "%s/small.iso", f->dir);
	q.disc_bytes = 1000;
	assert_int_equal(vg_export_run(&c, &q, &r), -VG_EFORMAT);
	assert_int_not_equal(stat(iso, &st), 0);
}

static int clip_costs(const struct vg_clip *c, void *ud)
{
	int64_t *most = ud;
	/* what the exporter counts for a clip that starts a file (export.c:
	 * the clip, 36 bytes of moov tables a picture, 64 KiB of moov base) */
	int64_t cost = c->bytes + c->frames * 36 + 65536;

	if (cost > *most)
		*most = cost;
	return 0;
}

/* Larger than one disc: split by time into images that each verify on
 * their own, together holding every recorded picture once. */
static void test_iso_split_over_discs(void **state)
{
	struct fx *f = *state;
	struct vg_export_request q = request(f);
	struct vg_export_ctx c = context(f);
	struct vg_export_result r;
	int64_t most = 0, frames = 0;
	char iso[200], disc[300];
	struct stat st;

	/* a disc that holds the largest clip and not two of them */
	assert_int_equal(vg_catalog_clips(f->cat, "cam", 0, 0, clip_costs, &most), 0);
	q.disc_bytes = (most + 1024 + 512 * 1024) * 20 / 19 + 1;
	snprintf(iso, sizeof(iso), "%s/case.iso", f->dir);
	q.dest_dir = NULL;
	q.iso_path = iso;
	assert_int_equal(vg_export_run(&c, &q, &r), 0);
	assert_int_equal(r.discs, 3);
	assert_int_equal(r.files, 3);
	assert_int_not_equal(stat(iso, &st), 0);	/* named per disc instead */
	for (int k = 1; k <= 3; k++) {
		struct vg_verify_result vr;

		vg_export_disc_path(iso, k, 3, disc, sizeof(disc));
		snprintf(iso, sizeof(iso), "%s/case-disc%dof3.iso", f->dir, k);
		assert_string_equal(disc, iso);
		assert_int_equal(stat(disc, &st), 0);
		assert_true(st.st_size <= q.disc_bytes);
		assert_int_equal(vg_verify_export(disc, NULL, NULL, &vr), 0);
		assert_int_equal(vr.problems, 0);
		frames += vr.frames;
		/* the manifest says which disc it is, and the whole request */
		assert_int_equal(sh("cd %s && xorriso -osirrox on -indev %s -extract "
				    "/CRIME-2026_114_a-disc%dof3/manifest.json m%d.json >/dev/null 2>&1 "
				    "&& python3 -c 'import json,sys; m=json.load(open(\"m%d.json\")); "
				    "d=m[\"disc\"]; sys.exit(0 if d[\"number\"]==%d and d[\"of\"]==3 and "
				    "m[\"requested\"][\"from\"].startswith(\"2026-09-21T14:13:20\") and "
				    "m[\"requested\"][\"to\"].startswith(\"2026-09-21T14:13:40\") "
				    "else 1)'", f->dir, disc, k, k, k, k), 0);
		snprintf(iso, sizeof(iso), "%s/case.iso", f->dir);
	}
	/* every recorded picture on exactly one disc (cuts fall at clip starts) */
	assert_int_equal(frames, 9 * FPS);
}

/* Export with one redaction and decode every picture: the requested
 * region, clamped to the picture, is uniform in every frame, and the row
 * (probe_y) from probe_x0 to probe_x1 still shows the picture. */
static void check_redaction(struct fx *f, const struct vg_export_rect *rect, int probe_y,
			    int probe_x0, int probe_x1)
{
	struct vg_export_request q = request(f);
	struct vg_export_ctx c = context(f);
	struct vg_export_result r;
	AVFormatContext *fmt = NULL;
	AVCodecContext *dec;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *fr = av_frame_alloc();
	char names[8][160], p[600];
	int frames = 0;
	int x1 = rect->x + rect->w > W ? W : rect->x + rect->w;
	int y1 = rect->y + rect->h > H ? H : rect->y + rect->h;

	q.recipient = "data-subject";
	q.reference = "DSAR-77";
	q.redactions = rect;
	q.n_redactions = 1;
	q.to_us = f->base + 6 * VG_US_PER_S;
	assert_int_equal(vg_export_run(&c, &q, &r), 0);
	assert_int_equal(videos(r.path, names, 8), 1);
	assert_non_null(strstr(names[0], "-REDACTED.mp4"));
	assert_int_equal(sh("grep -q '\"redacted_working_copy\": true' %s/manifest.json", r.path), 0);
	snprintf(p, sizeof(p), "%s/%s", r.path, names[0]);
	assert_int_equal(avformat_open_input(&fmt, p, NULL, NULL), 0);
	assert_int_equal(avformat_find_stream_info(fmt, NULL), 0);
	dec = avcodec_alloc_context3(avcodec_find_decoder(fmt->streams[0]->codecpar->codec_id));
	avcodec_parameters_to_context(dec, fmt->streams[0]->codecpar);
	assert_int_equal(avcodec_open2(dec, dec->codec, NULL), 0);
	for (int eof = 0; !eof;) {
		eof = av_read_frame(fmt, pkt) < 0;
		assert_int_equal(avcodec_send_packet(dec, eof ? NULL : pkt), 0);
		av_packet_unref(pkt);
		while (avcodec_receive_frame(dec, fr) == 0) {
			int lo = 255, hi = 0, olo = 255, ohi = 0;

			assert_int_equal(fr->width, W);
			assert_int_equal(fr->height, H);
			for (int y = rect->y; y < y1; y++)
				for (int x = rect->x; x < x1; x++) {
					int v = fr->data[0][y * fr->linesize[0] + x];

					lo = v < lo ? v : lo;
					hi = v > hi ? v : hi;
				}
			/* outside the rectangle the picture still varies */
			for (int x = probe_x0; x < probe_x1; x++) {
				int v = fr->data[0][probe_y * fr->linesize[0] + x];

				olo = v < olo ? v : olo;
				ohi = v > ohi ? v : ohi;
			}
			assert_true(hi - lo <= 2);
			assert_true(ohi - olo > 20);
			frames++;
			av_frame_unref(fr);
		}
	}
	assert_int_equal(frames, 6 * FPS);
	avcodec_free_context(&dec);
	avformat_close_input(&fmt);
	av_packet_free(&pkt);
	av_frame_free(&fr);
}

static void test_redacted_region_is_uniform(void **state)
{
	const struct vg_export_rect rect = { 32, 16, 64, 48, 0, 0 };

	check_redaction(*state, &rect, 100, rect.x + rect.w, W);
}

/* Rectangles touching the picture's edges, and reaching beyond the right
 * and bottom ones, blank what lies inside the picture. */
static void test_redaction_at_the_edges(void **state)
{
	const struct vg_export_rect top_left = { 0, 0, 24, 24, 0, 0 };
	const struct vg_export_rect bottom_right = { W - 24, H - 24, 24, 24, 0, 0 };
	const struct vg_export_rect beyond = { W - 10, H - 10, 50000, 50000, 0, 0 };
	struct fx *f = *state;

	check_redaction(f, &top_left, 60, 48, W);
	sh("rm -rf %s/DSAR-77", f->dest);
	check_redaction(f, &bottom_right, 40, 0, W - 48);
	sh("rm -rf %s/DSAR-77", f->dest);
	check_redaction(f, &beyond, 40, 0, W - 32);
}

/* A region whose numbers would overflow a sum of ints is refused, and so
 * is one with negative or zero numbers; nothing is written. */
static void test_redaction_out_of_range_is_refused(void **state)
{
	struct fx *f = *state;
	struct vg_export_request q = request(f);
	struct vg_export_ctx c = context(f);
	struct vg_export_result r;
	const struct vg_export_rect bad[] = {
		{ 2147483647, 2147483647, 2147483647, 2147483647, 0, 0 },
		{ 0, 0, 2147483647, 50, 0, 0 },
		{ 10, 10, VG_EXPORT_PIXELS_MAX + 1, 10, 0, 0 },
		{ -1, 0, 10, 10, 0, 0 },
		{ 0, 0, 0, 10, 0, 0 },
	};

	q.recipient = "data-subject";
	q.reference = "DSAR-78";
	q.to_us = f->base + 6 * VG_US_PER_S;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		q.redactions = &bad[i];
		q.n_redactions = 1;
		assert_int_equal(vg_export_run(&c, &q, &r), -VG_EINVAL);
	}
	assert_int_equal(sh("test -e %s/DSAR-78 || test -e %s/DSAR-78.incomplete", f->dest,
			    f->dest), 1);
	/* and the picture check the daemon uses before queueing a request */
	assert_false(vg_export_rect_in_picture(&bad[0], W, H));
	{
		const struct vg_export_rect outside = { 1000, 1000, 50, 50, 0, 0 };
		const struct vg_export_rect edge = { W - 1, H - 1, 50, 50, 0, 0 };

		assert_false(vg_export_rect_in_picture(&outside, W, H));
		assert_true(vg_export_rect_in_picture(&edge, W, H));
	}
}

/* A medium that returns other bytes than were written (simulated). */
static int damage(const char *path, void *ud)
{
	int *n = ud;

	if (strstr(path, ".mp4") && (*n)++ == 0)
		flip(path, 1000);
	return 0;
}

static int first_clip(const struct vg_clip *c, void *ud)
{
	*(struct vg_clip *)ud = *c;
	return 1;
}

/* A clip that fails authentication fails the export, and the result names
 * it and its chunk (vigild turns that into an integrity.failure row); a
 * medium that reads back wrong names no clip. */
static void test_tampered_clip_is_named(void **state)
{
	struct fx *f = *state;
	struct vg_export_request q = request(f);
	struct vg_export_ctx c = context(f);
	struct vg_export_result r;
	struct vg_clip clip;
	char p[300];

	memset(&clip, 0, sizeof(clip));
	assert_int_equal(vg_catalog_clips(f->cat, NULL, 0, 0, first_clip, &clip), 1);
	snprintf(p, sizeof(p), "%s/%s", f->data, clip.path);
	flip(p, VG_CLIP_HEADER_LEN + 40);	/* inside chunk 0 */
	assert_int_equal(vg_export_run(&c, &q, &r), -VG_EAUTH);
	assert_int_equal(r.bad_clip, clip.id);
	assert_int_equal(r.bad_chunk, 0);
	assert_non_null(strstr(r.why, "authentication failed"));
}

static int fail_write(const char *path, void *ud)
{
	return strstr(path, "README.txt") != NULL;
}

/* A video changed after it was written and checked (the fault seam flips
 * its byte 1000, page cache and medium alike) is caught by the read-back
 * at the end: where it was checked as written, by the spot check, since
 * its first 4 KiB are sampled; elsewhere, read back whole against its
 * hash. The folder stays .incomplete, as after a write that fails. */
static void test_failed_export_stays_incomplete(void **state)
{
	struct fx *f = *state;
	struct vg_export_request q = request(f);
	struct vg_export_ctx c = context(f);
	struct vg_export_result r;
	struct stat st;
	char p[300];
	int n = 0;

	c.fault = damage;
	c.fault_ud = &n;
	assert_int_equal(vg_export_run(&c, &q, &r), -VG_EAUTH);
	snprintf(p, sizeof(p), "%s/CRIME-2026_114_a.incomplete/INCOMPLETE.txt", f->dest);
	assert_int_equal(stat(p, &st), 0);
	assert_non_null(strstr(r.path, ".incomplete"));
	snprintf(p, sizeof(p), "%s/CRIME-2026_114_a", f->dest);
	assert_int_not_equal(stat(p, &st), 0);
	assert_non_null(strstr(r.why, "reads back different"));
	assert_int_equal(r.bad_clip, 0);
	/* a write failure part way */
	q.reference = "CRIME-3";
	c.fault = fail_write;
	assert_true(vg_export_run(&c, &q, &r) < 0);
	snprintf(p, sizeof(p), "%s/CRIME-3.incomplete/INCOMPLETE.txt", f->dest);
	assert_int_equal(stat(p, &st), 0);
	snprintf(p, sizeof(p), "%s/CRIME-3", f->dest);
	assert_int_not_equal(stat(p, &st), 0);
	assert_true(vg_export_dest_is_removable("/nonexistent/x") < 0);
}

/* The medium seam: the byte at `at` of the first file whose path holds
 * `in` reads back flipped, every time it is read back. */
struct bad_medium {
	const char *in;
	uint64_t at;
	int hits;
};

static void bad_medium(const char *path, uint64_t off, uint8_t *buf, size_t len, void *ud)
{
	struct bad_medium *m = ud;

	if (strstr(path, m->in) && m->at >= off && m->at < off + len) {
		buf[m->at - off] ^= 0x01;
		m->hits++;
	}
}

/* A medium that reads back different from what was written fails the
 * export, naming the file by its final name: a video (checked as it is
 * written, or read back whole where the medium takes no O_DIRECT), its
 * head (written last), and a document (read back whole at the end). */
static void test_medium_reads_back_different(void **state)
{
	struct fx *f = *state;
	struct vg_export_request q = request(f);
	struct vg_export_ctx c = context(f);
	struct vg_export_result r;
	struct bad_medium m = { NULL, 0, 0 };
	const struct { const char *in, *ref, *name; uint64_t at; } cases[] = {
		{ ".mp4", "BAD-1", "cam_", 20000 },	/* the mdat */
		{ ".mp4", "BAD-2", "cam_", 100 },	/* the moov, written last */
		{ "README.txt", "BAD-3", "README.txt", 10 },
	};
	struct stat st;
	char p[300];

	c.medium = bad_medium;
	c.medium_ud = &m;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		m.in = cases[i].in;
		m.at = cases[i].at;
		m.hits = 0;
		q.reference = cases[i].ref;
		assert_int_equal(vg_export_run(&c, &q, &r), -VG_EAUTH);
		assert_true(m.hits >= 1);
		assert_non_null(strstr(r.why, "reads back different"));
		assert_non_null(strstr(r.why, cases[i].name));
		assert_null(strstr(r.why, ".run"));	/* not its temporary name */
		assert_int_equal(r.bad_clip, 0);
		snprintf(p, sizeof(p), "%s/%s.incomplete/INCOMPLETE.txt", f->dest, cases[i].ref);
		assert_int_equal(stat(p, &st), 0);
		snprintf(p, sizeof(p), "%s/%s", f->dest, cases[i].ref);
		assert_int_not_equal(stat(p, &st), 0);
	}
	/* the same medium, reading back right: the export is good */
	m.in = "no such file";
	m.hits = 0;
	q.reference = "GOOD-1";
	assert_int_equal(vg_export_run(&c, &q, &r), 0);
	assert_int_equal(m.hits, 0);
}

/* Where xorriso (a reader independent of vg_verify_export) says the last
 * file matching pattern lies in the image: its first block and its size,
 * and its name; the file must be in one extent. */
static void iso_extent(const char *iso, const char *pattern, long *lba, long *size,
		       char *name, size_t len)
{
	char cmd[600], line[1024];
	FILE *p;
	int found = 0;

	snprintf(cmd, sizeof(cmd), "xorriso -indev %s -find / -name '%s' -exec report_lba "
		 "2>/dev/null", iso, pattern);
	p = popen(cmd, "r");
	assert_non_null(p);
	/* File data lba:  0 ,       56 ,        5 ,    10000 , '/REF/a.mp4' */
	while (fgets(line, sizeof(line), p)) {
		char *s = line + 14, *q, *slash;
		long xt;

		if (strncmp(line, "File data lba:", 14) != 0)
			continue;
		xt = strtol(s, &s, 10);
		assert_int_equal(xt, 0);
		s = strchr(s, ',');
		assert_non_null(s);
		*lba = strtol(s + 1, &s, 10);
		s = strchr(s, ',');
		assert_non_null(s);
		(void)strtol(s + 1, &s, 10);
		s = strchr(s, ',');
		assert_non_null(s);
		*size = strtol(s + 1, &s, 10);
		slash = strrchr(s, '/');
		assert_non_null(slash);
		q = strchr(slash, '\'');
		assert_non_null(q);
		snprintf(name, len, "%.*s", (int)(q - slash - 1), slash + 1);
		found++;
	}
	assert_int_equal(pclose(p), 0);
	assert_true(found >= 1);
	assert_true(*lba > 16 && *size > 0);
}

struct bad_seen {
	char files[16][160];
	int n;
};

static void note_bad(int ok, const char *file, const char *msg, void *ud)
{
	struct bad_seen *b = ud;

	if (!ok && b->n < 16)
		snprintf(b->files[b->n++], sizeof(b->files[0]), "%s", file);
}

/* An image is checked in place: a byte changed inside a video's data in
 * the image itself is caught and the file named. */
static void test_changed_byte_in_iso_is_caught(void **state)
{
	struct fx *f = *state;
	struct vg_export_request q = request(f);
	struct vg_export_ctx c = context(f);
	struct vg_export_result r;
	struct vg_verify_result vr;
	struct bad_seen seen = { 0 };
	char iso[200], name[160];
	long lba = 0, size = 0;
	int named = 0;

	snprintf(iso, sizeof(iso), "%s/export.iso", f->dir);
	q.dest_dir = NULL;
	q.iso_path = iso;
	assert_int_equal(vg_export_run(&c, &q, &r), 0);
	assert_int_equal(vg_verify_export(iso, NULL, NULL, &vr), 0);
	iso_extent(iso, "cam_*.mp4", &lba, &size, name, sizeof(name));
	flip(iso, (off_t)lba * 2048 + size / 2);
	assert_int_equal(vg_verify_export(iso, note_bad, &seen, &vr), -VG_EAUTH);
	assert_string_equal(vr.first_bad, name);
	assert_true(vr.problems >= 1);
	for (int i = 0; i < seen.n; i++)
		named += strcmp(seen.files[i], name) == 0;
	assert_true(named >= 1);
	/* the same image with the byte put back is intact again */
	flip(iso, (off_t)lba * 2048 + size / 2);
	assert_int_equal(vg_verify_export(iso, NULL, NULL, &vr), 0);
	assert_int_equal(vr.videos, 2);
}

/*
 * In a child with a mount namespace of its own and an empty tmpfs over
 * /tmp (TMPDIR too), watched with inotify: verify the image (reached
 * through an fd opened before /tmp was covered) and report whether
 * anything touched /tmp. 0 = verified and /tmp untouched; 77 = this
 * system cannot make the namespace; else the failed step.
 */
static int verify_in_private_tmp(const char *iso)
{
	struct vg_verify_result vr;
	char path[64], ev[4096];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, in, left = 0;

	fd = open(iso, O_RDONLY);
	if (fd < 0)
		return 2;
	if (unshare(CLONE_NEWNS) < 0 && unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return 77;
	/* private first: the tmpfs must not show up in the parent's /tmp */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("vigil-test", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
		return 77;
	if (stat(iso, &st) == 0)
		return 3;	/* the real /tmp is still visible */
	setenv("TMPDIR", "/tmp", 1);
	in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (in < 0 || inotify_add_watch(in, "/tmp", IN_ALL_EVENTS) < 0)
		return 4;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (vg_verify_export(path, NULL, NULL, &vr) != 0 || vr.videos != 2)
		return 5;
	if (read(in, ev, sizeof(ev)) > 0) {
		fprintf(stderr, "# something touched /tmp while the image was verified\n");
		return 6;
	}
	close(in);
	d = opendir("/tmp");
	if (d == NULL)
		return 7;
	for (de = readdir(d); de; de = readdir(d))
		left += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return left == 0 ? 0 : 8;
}

/* No plaintext footage in temporary files: verifying an image writes
 * nothing under /tmp, not even briefly. */
static void test_iso_verify_writes_no_temp_files(void **state)
{
	struct fx *f = *state;
	struct vg_export_request q = request(f);
	struct vg_export_ctx c = context(f);
	struct vg_export_result r;
	char iso[200];
	pid_t pid;
	int st;

	snprintf(iso, sizeof(iso), "%s/export.iso", f->dir);
	q.dest_dir = NULL;
	q.iso_path = iso;
	assert_int_equal(vg_export_run(&c, &q, &r), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(verify_in_private_tmp(iso));
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();	/* no mount namespace here: nothing to observe with */
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* ---- issue 16: labels, the reference, medium errors, hostile folders ---- */

static char *slurp_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return buf;
}

/* The "synthetic" member of every video in the folder's manifest: 1 all
 * true, 0 all false, -1 mixed or missing. */
static int manifest_synthetic(const char *dir)
{
	char p[512];
	json_object *root, *files;
	int t = 0, fl = 0, miss = 0;

	snprintf(p, sizeof(p), "%s/manifest.json", dir);
	root = json_object_from_file(p);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "files", &files));
	for (size_t i = 0; i < json_object_array_length(files); i++) {
		json_object *o = json_object_array_get_idx(files, i), *ty, *sy;

		assert_true(json_object_object_get_ex(o, "type", &ty));
		if (strcmp(json_object_get_string(ty), "video") != 0)
			continue;
		if (!json_object_object_get_ex(o, "synthetic", &sy))
			miss++;
		else if (json_object_get_boolean(sy))
			t++;
		else
			fl++;
	}
	json_object_put(root);
	return miss || (t && fl) ? -1 : t > 0;
}

static void mp4_comment(const char *path, char *out, size_t len)
{
	AVFormatContext *fmt = NULL;
	AVDictionaryEntry *e;

	assert_int_equal(avformat_open_input(&fmt, path, NULL, NULL), 0);
	e = av_dict_get(fmt->metadata, "comment", NULL, 0);
	snprintf(out, len, "%s", e ? e->value : "");
	avformat_close_input(&fmt);
}

/* Synthetic footage says so in the manifest, README.txt's first line, the
 * MP4 comment tag and the ISO volume id; real footage says nothing of it.
 * README.txt gives the police reference as the request gave it, not the
 * folder-name form; durations are rounded to the millisecond. */
static void test_synthetic_label_and_reference_travel(void **state)
{
	struct fx *f = *state;
	struct vg_export_request q = request(f);
	struct vg_export_ctx c = context(f);
	struct vg_export_result r;
	char names[8][160], p[600], txt[200], *readme, *man;
	char iso[200], vol[33];
	int fd;

	/* real footage first */
	assert_int_equal(vg_export_run(&c, &q, &r), 0);
	readme = slurp_file(strcat(strcpy(p, r.path), "/README.txt"));
	assert_true(strncmp(readme, "CCTV EVIDENCE EXPORT  -  reference CRIME-2026/114 a\n",
			    52) == 0);
	assert_null(strstr(readme, "CRIME-2026_114_a"));
	assert_null(strstr(readme, "SYNTHETIC"));
	free(readme);
	assert_int_equal(manifest_synthetic(r.path), 0);
	man = slurp_file(strcat(strcpy(p, r.path), "/manifest.json"));
	assert_null(strstr(man, "00000000"));	/* 22.8, not 22.800000000000001 */
	assert_non_null(strstr(man, "\"duration_seconds\""));
	free(man);
	assert_true(videos(r.path, names, 8) >= 1);
	snprintf(p, sizeof(p), "%s/%s", r.path, names[0]);
	mp4_comment(p, txt, sizeof(txt));
	assert_string_equal(txt, "");

	/* the same footage, marked as the synthetic camera's */
	assert_int_equal(sh("sqlite3 %s 'UPDATE clips SET synthetic = 1'", f->db), 0);
	q.reference = "CRIME-2026/97";
	assert_int_equal(vg_export_run(&c, &q, &r), 0);
	readme = slurp_file(strcat(strcpy(p, r.path), "/README.txt"));
	assert_true(strncmp(readme, "SYNTHETIC TEST FOOTAGE", 22) == 0);
	assert_non_null(strstr(readme, "reference CRIME-2026/97\n"));
	free(readme);
	assert_int_equal(manifest_synthetic(r.path), 1);
	assert_true(videos(r.path, names, 8) >= 1);
	snprintf(p, sizeof(p), "%s/%s", r.path, names[0]);
	mp4_comment(p, txt, sizeof(txt));
	assert_string_equal(txt, VG_EXPORT_SYNTHETIC_LABEL);

	/* and on a disc image: the volume id (ECMA-119 PVD, byte 40 of
	 * sector 16) */
	snprintf(iso, sizeof(iso), "%s/synthetic.iso", f->dir);
	q.dest_dir = NULL;
	q.iso_path = iso;
	assert_int_equal(vg_export_run(&c, &q, &r), 0);
	fd = open(iso, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, vol, 32, 16 * 2048 + 40), 32);
	close(fd);
	vol[32] = '\0';
	assert_true(strncmp(vol, "SYNTHETIC_CRIME_2026_97", 23) == 0);
}

/* A medium that refuses a write part way (here: past the file size limit,
 * as FAT32 refuses past 4 GiB) is reported as the medium's error, naming
 * the destination, not as an encoder or muxer failure. */
static void test_medium_write_error_names_destination(void **state)
{
	struct fx *f = *state;
	struct vg_export_request q = request(f);
	struct vg_export_ctx c = context(f);
	struct vg_export_result r;
	struct rlimit old, lim;
	void (*prev)(int);
	int ret;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 96 * 1024;	/* past the reserved moov, inside the first video */
	prev = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	ret = vg_export_run(&c, &q, &r);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);
	assert_true(ret < 0);
	assert_int_not_equal(ret, -VG_ECODEC);
	assert_non_null(strstr(r.why, "destination medium"));
	assert_non_null(strstr(r.why, f->dest));
	assert_null(strstr(r.why, "muxer"));
}

/* A FIFO planted in an export folder fails the check at once, named as not
 * a regular file, instead of blocking the verifier; so does one given as
 * the image. */
static void test_verify_refuses_fifo(void **state)
{
	struct fx *f = *state;
	struct vg_export_request q = request(f);
	struct vg_export_ctx c = context(f);
	struct vg_export_result r;
	struct vg_verify_result vr;
	struct bad_seen seen = { .n = 0 };
	char p[600];

	assert_int_equal(vg_export_run(&c, &q, &r), 0);
	snprintf(p, sizeof(p), "%s/README.txt", r.path);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(mkfifo(p, 0644), 0);
	assert_int_equal(vg_verify_export(r.path, note_bad, &seen, &vr), -VG_EAUTH);
	assert_string_equal(vr.first_bad, "README.txt");
	assert_true(seen.n >= 1);
	snprintf(p, sizeof(p), "%s/fifo.iso", f->dir);
	assert_int_equal(mkfifo(p, 0644), 0);
	assert_true(vg_verify_export(p, NULL, NULL, &vr) < 0);
}

static void note_msg(int ok, const char *file, const char *msg, void *ud)
{
	char *last = ud;

	(void)file;
	if (!ok)
		snprintf(last, 512, "%s", msg);
}

/* An image whose folders make libisofs walk the same blocks over and over
 * (found by fuzz_verify_iso: this 88 kB image kept vigilctl verify busy
 * for over 5 minutes) is refused, saying why, not walked without end. */
static void test_verify_refuses_looping_iso(void **state)
{
	struct vg_verify_result vr;
	char last[512] = "";

	(void)state;
	assert_int_equal(vg_verify_export("tests/data/iso/looping-folders.iso", note_msg, last,
					  &vr), -VG_EFORMAT);
	assert_non_null(strstr(last, "folders loop or repeat"));
	assert_int_equal(vr.videos, 0);
}

static ssize_t pread_cb(void *ud, void *buf, size_t n, int64_t off)
{
	ssize_t r = pread(*(int *)ud, buf, n, (off_t)off);

	return r < 0 ? -VG_EIO : r;
}

/* The MP4 structure check (no decoder) passes an exported video and
 * catches a broken NAL length, a cut file and a file that is not MP4. */
static void test_mp4check_catches_broken_structure(void **state)
{
	struct fx *f = *state;
	struct vg_export_request q = request(f);
	struct vg_export_ctx c = context(f);
	struct vg_export_result r;
	struct vg_mp4_info info;
	char names[8][160], p[600], cp[700], why[200];
	struct stat st;
	int fd;

	assert_int_equal(vg_export_run(&c, &q, &r), 0);
	assert_true(videos(r.path, names, 8) >= 1);
	snprintf(p, sizeof(p), "%s/%s", r.path, names[0]);
	snprintf(cp, sizeof(cp), "%s/copy.mp4", f->dir);
	assert_int_equal(sh("cp %s %s", p, cp), 0);
	fd = open(cp, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(vg_mp4_check(pread_cb, &fd, st.st_size, &info, why, sizeof(why)), 0);
	assert_true(info.pictures > 0);
	assert_true(info.keyframes >= 1);
	/* the last 4 bytes: inside the last picture's NAL units */
	{
		uint8_t ff[4] = { 0xff, 0xff, 0xff, 0xff }, keep[4];
		off_t at = st.st_size;

		/* find the mdat's first sample: after "mdat" */
		char *all = slurp_file(cp);
		char *m = memmem(all, (size_t)st.st_size, "mdat", 4);

		assert_non_null(m);
		at = (off_t)(m - all) + 4;
		free(all);
		assert_int_equal(pread(fd, keep, 4, at), 4);
		assert_int_equal(pwrite(fd, ff, 4, at), 4);
		assert_int_equal(vg_mp4_check(pread_cb, &fd, st.st_size, &info, why, sizeof(why)),
				 -VG_EFORMAT);
		assert_non_null(strstr(why, "picture 1"));
		assert_int_equal(pwrite(fd, keep, 4, at), 4);
	}
	assert_int_equal(vg_mp4_check(pread_cb, &fd, st.st_size - 100, &info, why, sizeof(why)),
			 -VG_EFORMAT);
	close(fd);
	snprintf(p, sizeof(p), "%s/README.txt", r.path);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(vg_mp4_check(pread_cb, &fd, st.st_size, &info, why, sizeof(why)),
			 -VG_EFORMAT);
	close(fd);
}

int main(void)
{
	av_log_set_level(AV_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_export_folder_verifies_and_is_bit_identical,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_frame_count_still_moov_first, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_one_changed_byte_is_caught, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered_clip_is_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_is_cut_at_keyframes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iso_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_given_folder_follows_no_symlink, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_given_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iso_split_over_discs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redacted_region_is_uniform, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redaction_at_the_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redaction_out_of_range_is_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_medium_reads_back_different, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_export_stays_incomplete, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_changed_byte_in_iso_is_caught, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_iso_verify_writes_no_temp_files, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_synthetic_label_and_reference_travel, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_medium_write_error_names_destination, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_verify_refuses_fifo, setup, teardown),
		cmocka_unit_test(test_verify_refuses_looping_iso),
		cmocka_unit_test_setup_teardown(test_mp4check_catches_broken_structure, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
