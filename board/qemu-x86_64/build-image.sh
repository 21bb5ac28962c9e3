#!/bin/sh
# build-image.sh OUTDIR - build the qemu-x86_64 board image into OUTDIR:
#   OUTDIR/vmlinuz      Debian's kernel (the version linux-image-amd64 depends on)
#   OUTDIR/initrd.img   busybox-static, the kernel modules listed in ./modules
#                       with their dependencies, v4l2-ctl, vigild/vigilctl/clipvec
#                       when built, every shared library they link, the board's
#                       vigil.conf and the init script
#   OUTDIR/manifest.txt what went into the initramfs, one path a line
#   OUTDIR/kernel-version
#
# Nothing is installed on the host except the tools that do the work: the
# kernel and busybox packages are fetched with `apt-get download` and unpacked
# with `dpkg-deb -x` into a cache (BUILD/board/qemu-x86_64/cache, reused by
# later builds). Environment: BUILD (default build), KERNEL_PKG (default: the
# linux-image-*-amd64 that linux-image-amd64 depends on).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${1:?usage: build-image.sh OUTDIR}
BUILD=${BUILD:-build}
case $BUILD in
/*) build_abs=$BUILD ;;
*) build_abs=$top/$BUILD ;;
esac
cache=$build_abs/board/qemu-x86_64/cache

say() { echo "build-image: $*" >&2; }
die() { say "error: $*"; exit 1; }

# Host tools, by the Debian package that provides them.
need_tools() {
	missing=""
	for pair in cpio:cpio depmod:kmod modprobe:kmod xz:xz-utils gzip:gzip \
		    dpkg-deb:dpkg apt-get:apt ldd:libc-bin v4l2-ctl:v4l-utils \
		    qemu-system-x86_64:qemu-system-x86; do
		cmd=${pair%%:*}
		pkg=${pair#*:}
		if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ] &&
		   [ ! -x "/sbin/$cmd" ]; then
			case " $missing " in *" $pkg "*) ;; *) missing="$missing $pkg" ;; esac
		fi
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		die "missing host packages:$missing - run as root, or: sudo apt-get install$missing"
	fi
	say "installing host packages:$missing"
	export DEBIAN_FRONTEND=noninteractive
	sh "$top/scripts/apt-get.sh" update -qq
	# shellcheck disable=SC2086
	sh "$top/scripts/apt-get.sh" install -y -qq --no-install-recommends $missing >/dev/null
}

# Fetch a Debian package into the cache and unpack it once; prints the
# directory it was unpacked into.
fetch_pkg() {
	pkg=$1
	dest=$cache/$pkg
	if [ ! -e "$dest/.unpacked" ]; then
		mkdir -p "$cache/debs"
		rm -f "$cache/debs/${pkg}"_*.deb
		say "downloading $pkg"
		# apt-get download runs as the _apt user when it can; the cache
		# may not be writable by it, which only costs a warning.
		(cd "$cache/debs" && sh "$top/scripts/apt-get.sh" download -q "$pkg") 2>&1 | grep -v '^W:' >&2 || true
		deb=$(ls "$cache/debs/${pkg}"_*.deb 2>/dev/null | head -n 1)
		if [ -z "$deb" ]; then
			[ "$(id -u)" = 0 ] || die "cannot download $pkg (apt lists stale? run apt-get update as root)"
			sh "$top/scripts/apt-get.sh" update -qq
			(cd "$cache/debs" && sh "$top/scripts/apt-get.sh" download -q "$pkg") 2>&1 | grep -v '^W:' >&2 || true
			deb=$(ls "$cache/debs/${pkg}"_*.deb 2>/dev/null | head -n 1)
			[ -n "$deb" ] || die "cannot download $pkg"
		fi
		rm -rf "$dest"
		mkdir -p "$dest"
		dpkg-deb -x "$deb" "$dest"
		touch "$dest/.unpacked"
	fi
	echo "$dest"
}

need_tools
PATH=$PATH:/usr/sbin:/sbin

if [ -z "${KERNEL_PKG:-}" ]; then
	KERNEL_PKG=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
	if [ -z "$KERNEL_PKG" ] && [ "$(id -u)" = 0 ]; then
		sh "$top/scripts/apt-get.sh" update -qq
		KERNEL_PKG=$(apt-cache depends linux-image-amd64 2>/dev/null |
			awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
	fi
	[ -n "$KERNEL_PKG" ] || die "cannot tell which kernel linux-image-amd64 depends on"
fi
kver=${KERNEL_PKG#linux-image-}
kroot=$(fetch_pkg "$KERNEL_PKG")
bbroot=$(fetch_pkg busybox-static)
[ -f "$kroot/boot/vmlinuz-$kver" ] || die "no vmlinuz-$kver in $KERNEL_PKG"
[ -x "$bbroot/bin/busybox" ] || die "no bin/busybox in busybox-static"
if [ ! -e "$kroot/lib/modules/$kver/.depmod-done" ]; then
	depmod -b "$kroot" "$kver"
	touch "$kroot/lib/modules/$kver/.depmod-done"
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
root=$out/rootfs
rm -rf "$root"
mkdir -p "$root"
for d in bin sbin usr/bin usr/sbin usr/libexec/vigil-board lib/x86_64-linux-gnu lib64 \
	 etc/vigil etc/board proc sys dev run tmp mnt/share root var/lib/vigil; do
	mkdir -p "$root/$d"
done

# busybox: the shell and the applets; init installs the applet links.
cp "$bbroot/bin/busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"

# Kernel modules: each listed module after its dependencies, in load order,
# each file once. A module built into this kernel needs nothing.
mdir=$kroot/lib/modules/$kver
: >"$root/etc/board/modules.load"
grep -v '^[[:space:]]*#' "$here/modules" | grep -v '^[[:space:]]*$' |
while read -r name opts; do
	deps=$(modprobe -d "$kroot" -S "$kver" --show-depends "$name") ||
		die "module $name not found in $KERNEL_PKG"
	echo "$deps" | while read -r verb path _; do
		[ "$verb" = insmod ] || continue
		rel=${path#"$mdir"/}
		case $rel in
		*.ko.xz) dst=${rel%.xz}; dec="xz -dc" ;;
		*.ko.zst) dst=${rel%.zst}; dec="zstd -dc" ;;
		*.ko.gz) dst=${rel%.gz}; dec="gzip -dc" ;;
		*) dst=$rel; dec="cat" ;;
		esac
		[ -e "$root/lib/modules/$kver/$dst" ] && continue
		mkdir -p "$(dirname "$root/lib/modules/$kver/$dst")"
		# busybox insmod cannot read compressed modules: unpack here.
		$dec "$path" >"$root/lib/modules/$kver/$dst"
		mod=$(basename "$dst" .ko | tr - _)
		if [ "$mod" = "$(echo "$name" | tr - _)" ]; then
			echo "$dst${opts:+ $opts}" >>"$root/etc/board/modules.load"
		else
			echo "$dst" >>"$root/etc/board/modules.load"
		fi
	done
done
[ -s "$root/etc/board/modules.load" ] || die "no modules resolved"
echo "$kver" >"$root/etc/board/kernel-version"

# Copy a binary and every shared library it links (as ldd resolves them on
# this host, which runs the same Debian release as the image).
copy_libs() {
	ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
	while read -r lib; do
		[ -e "$root$lib" ] && continue
		mkdir -p "$(dirname "$root$lib")"
		cp -L "$lib" "$root$lib"
	done
}
install_bin() {
	src=$1
	dst=$2
	mkdir -p "$(dirname "$root$dst")"
	cp -L "$src" "$root$dst"
	chmod 0755 "$root$dst"
	copy_libs "$src"
}

install_bin "$(command -v v4l2-ctl)" /usr/bin/v4l2-ctl
for pair in vigild:/usr/sbin/vigild vigilctl:/usr/bin/vigilctl tests/clipvec:/usr/bin/clipvec; do
	src=$build_abs/${pair%%:*}
	if [ -x "$src" ]; then
		install_bin "$src" "${pair#*:}"
	else
		say "note: $src not built, not in the image"
	fi
done
# The font vigild burns the date, time and camera name in with (and the
# synthetic camera labels itself with): without it the overlay cannot be
# drawn.
font=/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf
if [ -r "$font" ]; then
	mkdir -p "$root$(dirname "$font")"
	cp "$font" "$root$font"
else
	say "note: $font missing (apt-get install fonts-dejavu-core): no overlay in the image"
fi
# The box's time zone (vigil.conf timezone, Europe/London by default): the
# overlay shows GMT/BST from it, and vigild refuses a zone it cannot find.
zone=/usr/share/zoneinfo/Europe/London
if [ -r "$zone" ]; then
	mkdir -p "$root$(dirname "$zone")"
	cp "$zone" "$root$zone"
else
	say "note: $zone missing (apt-get install tzdata): vigild will refuse the config"
fi
# The loader finds libraries through ld.so.cache, as on a Debian system.
printf '/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n' >"$root/etc/ld.so.conf"
ldconfig -r "$root"

# Users: root, and vigil for the daemon to drop to.
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
vigil:x:990:990:vigil CCTV daemon:/var/lib/vigil:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
video:x:44:vigil
vigil:x:990:
EOF

cp "$here/init" "$root/init"
chmod 0755 "$root/init"
cp "$here/guest-test.sh" "$root/usr/libexec/vigil-board/guest-test.sh"
chmod 0755 "$root/usr/libexec/vigil-board/guest-test.sh"
# vigil.conf, and the variants the guest tests use (vigil-nv12.conf, ...).
for conf in "$here"/*.conf; do
	cp "$conf" "$root/etc/vigil/${conf##*/}"
	chmod 0644 "$root/etc/vigil/${conf##*/}"
done

# Uncompressed cpio: the kernel copies it in far less time than it takes to
# inflate a gzip one under software emulation, and the disk cost is only
# in build/.
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) \
	>"$out/initrd.img.tmp"
mv "$out/initrd.img.tmp" "$out/initrd.img"
cp "$kroot/boot/vmlinuz-$kver" "$out/vmlinuz"
echo "$kver" >"$out/kernel-version"
(cd "$root" && find . -mindepth 1 ! -type d | LC_ALL=C sort) >"$out/manifest.txt"
say "image in $out: kernel $kver, initrd $(du -h "$out/initrd.img" | cut -f1)," \
	"$(wc -l <"$out/manifest.txt") files"
