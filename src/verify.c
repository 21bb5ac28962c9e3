/*
 * verify.c - an export checked with nothing but what is on the medium.
 */
#define VG_LOG_MODULE "VFY"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "vigil/crypto.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/sign.h"
#include "vigil/verify.h"

#define MAX_SUMS 4096
#define SMALL_MAX (16 * 1024 * 1024)

extern char **environ;

struct sum {
	char name[160];
	char hex[65];
	char got[65];
	int have;		/* got is valid */
	int64_t frames;		/* from the manifest, -1 if not given */
};

struct vctx {
	const char *dir;
	vg_verify_report_fn fn;
	void *ud;
	struct vg_verify_result *res;
	struct sum *sums;
	int nsums;
};

static void note(struct vctx *v, int ok, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void note(struct vctx *v, int ok, const char *file, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!ok) {
		v->res->problems++;
		if (v->res->first_bad[0] == '\0')
			snprintf(v->res->first_bad, sizeof(v->res->first_bad), "%s",
				 file[0] ? file : "(export)");
	}
	if (v->fn)
		v->fn(ok, file, msg, v->ud);
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Read a small file whole (NUL-terminated). */
static int slurp(const char *dir, const char *name, char **out, size_t *len)
{
	char path[1300];
	struct stat st;
	char *buf;
	ssize_t n;
	size_t got = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -vg_err_from_errno(errno);
	if (fstat(fd, &st) < 0 || st.st_size > SMALL_MAX) {
		close(fd);
		return -VG_EFORMAT;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return -VG_ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

static int hash_file(const char *dir, const char *name, char out[65])
{
	char path[1300];
	struct vg_sha256 s;
	uint8_t d[VG_SHA256_DIGEST_LEN];
	uint8_t *buf = malloc(1024 * 1024);
	int fd, ret = 0;

	if (buf == NULL)
		return -VG_ENOMEM;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return -vg_err_from_errno(errno);
	}
	vg_sha256_init(&s);
	for (;;) {
		ssize_t n = read(fd, buf, 1024 * 1024);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -vg_err_from_errno(errno);
			break;
		}
		if (n == 0)
			break;
		vg_sha256_update(&s, buf, (size_t)n);
	}
	close(fd);
	free(buf);
	if (vg_sha256_final(&s, d) < 0 && ret == 0)
		ret = -VG_ECRYPTO;
	if (ret == 0)
		hex(d, sizeof(d), out);
	return ret;
}

static struct sum *find_sum(struct vctx *v, const char *name)
{
	for (int i = 0; i < v->nsums; i++)
		if (strcmp(v->sums[i].name, name) == 0)
			return &v->sums[i];
	return NULL;
}

static int plain_name(const char *s)
{
	return s[0] != '\0' && s[0] != '.' && strchr(s, '/') == NULL && strchr(s, '\\') == NULL;
}

static void check_signature(struct vctx *v)
{
	char *pem = NULL, *man = NULL, *sig = NULL;
	size_t plen, mlen, slen;
	struct vg_sign_key *k = NULL;
	uint8_t d[VG_SIGN_DIGEST_LEN];

	if (slurp(v->dir, "device-public-key.pem", &pem, &plen) < 0) {
		note(v, 0, "device-public-key.pem", "missing or unreadable");
		goto out;
	}
	if (slurp(v->dir, "manifest.json", &man, &mlen) < 0) {
		note(v, 0, "manifest.json", "missing or unreadable");
		goto out;
	}
	if (slurp(v->dir, "manifest.json.sig", &sig, &slen) < 0) {
		note(v, 0, "manifest.json.sig", "missing or unreadable");
		goto out;
	}
	if (vg_sign_pubkey_parse(pem, &k) < 0) {
		note(v, 0, "device-public-key.pem", "not an ECDSA P-256 public key");
		goto out;
	}
	vg_sign_fingerprint(k, v->res->fingerprint);
	note(v, 1, "device-public-key.pem",
	     "device key fingerprint %s: compare it with the one the device's owner gives you",
	     v->res->fingerprint);
	vg_sign_sha256(man, mlen, d);
	if (vg_sign_verify(k, d, (const uint8_t *)sig, slen) < 0)
		note(v, 0, "manifest.json.sig",
		     "the signature does not match manifest.json: one of them was changed");
	else
		note(v, 1, "manifest.json.sig", "signature of manifest.json verified");
out:
	vg_sign_key_free(k);
	free(pem);
	free(man);
	free(sig);
}

static void check_sums(struct vctx *v)
{
	char *buf = NULL, *line, *save = NULL;
	size_t len;

	if (slurp(v->dir, "SHA256SUMS", &buf, &len) < 0) {
		note(v, 0, "SHA256SUMS", "missing or unreadable");
		return;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct sum *s;
		char *name = line + 66;
		int r;

		if (strlen(line) < 67 || line[64] != ' ' || (line[65] != ' ' && line[65] != '*')) {
			note(v, 0, "SHA256SUMS", "malformed line");
			continue;
		}
		if (!plain_name(name) || v->nsums >= MAX_SUMS || find_sum(v, name)) {
			note(v, 0, "SHA256SUMS", "bad or repeated file name \"%s\"", name);
			continue;
		}
		s = &v->sums[v->nsums++];
		memset(s, 0, sizeof(*s));
		s->frames = -1;
		snprintf(s->name, sizeof(s->name), "%s", name);
		memcpy(s->hex, line, 64);
		s->hex[64] = '\0';
		for (int i = 0; i < 64; i++)
			if (s->hex[i] >= 'A' && s->hex[i] <= 'F')
				s->hex[i] = (char)(s->hex[i] - 'A' + 'a');
		r = hash_file(v->dir, name, s->got);
		v->res->files++;
		if (r < 0) {
			note(v, 0, name, "missing or unreadable (%s)", vg_strerror(r));
			continue;
		}
		s->have = 1;
		if (strcmp(s->got, s->hex) != 0)
			note(v, 0, name, "SHA-256 differs from SHA256SUMS: the file was changed");
		else
			note(v, 1, name, "SHA-256 matches");
	}
	free(buf);
	{
		static const char *const must[] = { "manifest.json", "manifest.json.sig",
						    "device-public-key.pem", "README.txt",
						    "chain-of-custody.json" };

		for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
			if (find_sum(v, must[i]) == NULL)
				note(v, 0, must[i], "not listed in SHA256SUMS");
	}
}

/* Every file the manifest lists must be in SHA256SUMS with the same hash. */
static void check_manifest(struct vctx *v)
{
	json_object *root, *files;
	char path[1300];
	size_t n;

	snprintf(path, sizeof(path), "%s/manifest.json", v->dir);
	root = json_object_from_file(path);
	if (root == NULL) {
		note(v, 0, "manifest.json", "not valid JSON");
		return;
	}
	if (!json_object_object_get_ex(root, "files", &files) ||
	    !json_object_is_type(files, json_type_array)) {
		note(v, 0, "manifest.json", "has no file list");
		json_object_put(root);
		return;
	}
	n = json_object_array_length(files);
	for (size_t i = 0; i < n; i++) {
		json_object *f = json_object_array_get_idx(files, i), *jn, *jh, *jf;
		const char *name, *h;
		struct sum *s;

		if (!json_object_object_get_ex(f, "name", &jn) ||
		    !json_object_object_get_ex(f, "sha256", &jh)) {
			note(v, 0, "manifest.json", "file entry %zu lacks a name or hash", i);
			continue;
		}
		name = json_object_get_string(jn);
		h = json_object_get_string(jh);
		s = find_sum(v, name);
		if (s == NULL) {
			note(v, 0, name, "listed in manifest.json but not in SHA256SUMS");
			continue;
		}
		if (json_object_object_get_ex(f, "frames", &jf))
			s->frames = json_object_get_int64(jf);
		if (!s->have || strcasecmp(h, s->got) != 0)
			note(v, 0, name, "SHA-256 differs from manifest.json");
	}
	json_object_put(root);
}

/* Nothing in the folder that the export did not put there. */
static void check_extra(struct vctx *v)
{
	DIR *d = opendir(v->dir);
	struct dirent *de;

	if (d == NULL) {
		note(v, 0, "", "cannot list the folder");
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, "SHA256SUMS") == 0)
			continue;
		if (find_sum(v, de->d_name) == NULL)
			note(v, 0, de->d_name, "is not part of the export (not in SHA256SUMS)");
	}
	closedir(d);
}

/* Decode every picture; any decoder error is a problem. */
static void check_video(struct vctx *v, struct sum *s)
{
	AVFormatContext *fmt = NULL;
	AVCodecContext *dec = NULL;
	const AVCodec *c;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *fr = av_frame_alloc();
	char path[1300];
	int64_t frames = 0;
	int vi = -1, ret, bad = 0;

	snprintf(path, sizeof(path), "%s/%s", v->dir, s->name);
	v->res->videos++;
	if (pkt == NULL || fr == NULL || avformat_open_input(&fmt, path, NULL, NULL) < 0 ||
	    avformat_find_stream_info(fmt, NULL) < 0) {
		note(v, 0, s->name, "cannot be opened as a video file");
		goto out;
	}
	for (unsigned i = 0; i < fmt->nb_streams; i++)
		if (vi < 0 && fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO)
			vi = (int)i;
	c = vi >= 0 ? avcodec_find_decoder(fmt->streams[vi]->codecpar->codec_id) : NULL;
	dec = c ? avcodec_alloc_context3(c) : NULL;
	if (dec == NULL || avcodec_parameters_to_context(dec, fmt->streams[vi]->codecpar) < 0) {
		note(v, 0, s->name, "holds no decodable video stream");
		goto out;
	}
	dec->err_recognition = AV_EF_EXPLODE | AV_EF_BITSTREAM | AV_EF_BUFFER;
	if (avcodec_open2(dec, c, NULL) < 0) {
		note(v, 0, s->name, "decoder refused the stream");
		goto out;
	}
	for (;;) {
		int eof = 0;

		ret = av_read_frame(fmt, pkt);
		if (ret == AVERROR_EOF) {
			eof = 1;
		} else if (ret < 0) {
			bad = 1;
			break;
		} else if (pkt->stream_index != vi) {
			av_packet_unref(pkt);
			continue;
		}
		ret = avcodec_send_packet(dec, eof ? NULL : pkt);
		av_packet_unref(pkt);
		if (ret < 0) {
			bad = 1;
			break;
		}
		for (;;) {
			ret = avcodec_receive_frame(dec, fr);
			if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
				break;
			if (ret < 0 || fr->decode_error_flags || (fr->flags & AV_FRAME_FLAG_CORRUPT)) {
				bad = 1;
				break;
			}
			frames++;
			av_frame_unref(fr);
		}
		if (bad || eof)
			break;
	}
	v->res->frames += frames;
	if (bad)
		note(v, 0, s->name, "does not decode cleanly (error after %lld pictures)",
		     (long long)frames);
	else if (s->frames >= 0 && frames != s->frames)
		note(v, 0, s->name, "decoded %lld pictures, manifest.json says %lld",
		     (long long)frames, (long long)s->frames);
	else
		note(v, 1, s->name, "all %lld pictures decode", (long long)frames);
out:
	avcodec_free_context(&dec);
	avformat_close_input(&fmt);
	av_packet_free(&pkt);
	av_frame_free(&fr);
}

static int verify_dir(struct vctx *v)
{
	v->sums = calloc(MAX_SUMS, sizeof(*v->sums));
	if (v->sums == NULL)
		return -VG_ENOMEM;
	/* Hashes first, so that a changed file is named before the signature
	 * check reports the manifest and its signature as disagreeing. */
	check_sums(v);
	check_manifest(v);
	check_signature(v);
	check_extra(v);
	for (int i = 0; i < v->nsums; i++) {
		size_t l = strlen(v->sums[i].name);

		if (l > 4 && strcasecmp(v->sums[i].name + l - 4, ".mp4") == 0 && v->sums[i].have)
			check_video(v, &v->sums[i]);
	}
	free(v->sums);
	return v->res->problems ? -VG_EAUTH : 0;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p) < 0 ? -1 : 0;
}

/* xorriso -osirrox on -indev ISO -extract / TMP, without a shell. */
static int extract_iso(const char *iso, const char *tmp)
{
	char *argv[] = { "xorriso", "-osirrox", "on", "-indev", (char *)iso, "-extract", "/",
			 (char *)tmp, NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st, ret;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	ret = posix_spawnp(&pid, "xorriso", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (ret != 0)
		return -VG_ENOENT;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -VG_EIO;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -VG_EFORMAT;
}

/* The export folder inside an extracted image: the root or its one folder. */
static int find_export(const char *root, char *out, size_t len)
{
	char probe[1300];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int found = 0;

	snprintf(probe, sizeof(probe), "%s/manifest.json", root);
	if (stat(probe, &st) == 0) {
		snprintf(out, len, "%s", root);
		return 0;
	}
	d = opendir(root);
	if (d == NULL)
		return -VG_EIO;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(probe, sizeof(probe), "%s/%s/manifest.json", root, de->d_name);
		if (stat(probe, &st) == 0) {
			snprintf(out, len, "%s/%s", root, de->d_name);
			found++;
		}
	}
	closedir(d);
	return found == 1 ? 0 : -VG_EFORMAT;
}

int vg_verify_export(const char *path, vg_verify_report_fn report, void *ud,
		     struct vg_verify_result *res)
{
	struct vg_verify_result local;
	struct vctx v = { 0 };
	struct stat st;
	char tmp[64] = "", dir[1300];
	int ret;

	if (res == NULL)
		res = &local;
	memset(res, 0, sizeof(*res));
	v.fn = report;
	v.ud = ud;
	v.res = res;
	if (path == NULL || stat(path, &st) < 0)
		return -VG_ENOENT;
	if (S_ISDIR(st.st_mode)) {
		v.dir = path;
		return verify_dir(&v);
	}
	snprintf(tmp, sizeof(tmp), "/tmp/vigil-verify.XXXXXX");
	if (mkdtemp(tmp) == NULL)
		return -vg_err_from_errno(errno);
	ret = extract_iso(path, tmp);
	if (ret < 0)
		note(&v, 0, "", "cannot read the ISO image (is xorriso installed?)");
	if (ret == 0) {
		ret = find_export(tmp, dir, sizeof(dir));
		if (ret < 0)
			note(&v, 0, "", "the image holds no export folder");
	}
	if (ret == 0) {
		v.dir = dir;
		ret = verify_dir(&v);
	}
	nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return ret;
}
