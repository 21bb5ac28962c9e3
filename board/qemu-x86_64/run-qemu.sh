#!/bin/sh
# run-qemu.sh IMAGEDIR SHAREDIR LOGFILE [KERNEL-ARG...] - boot the image built
# by build-image.sh, with SHAREDIR as the guest's /mnt/share (9p), the serial
# console in LOGFILE, and KERNEL-ARGs appended to the kernel command line
# (e.g. vigil.test=record vigil.seconds=20). Returns when the guest powers off;
# exit status 0 then, 124 if it ran longer than VIGIL_QEMU_TIMEOUT seconds
# (default 300) and was stopped, else qemu's.
#
# LOGFILE "-" puts the console on this terminal instead (interactive use;
# without vigil.test= the guest gives a shell, `exit` powers it off).
# Software emulation (TCG) unless VIGIL_QEMU_ACCEL=kvm: on the development
# machine /dev/kvm exists but a KVM guest spins without ever booting, so KVM
# is opt-in rather than detected.
set -eu
img=${1:?usage: run-qemu.sh IMAGEDIR SHAREDIR LOGFILE [KERNEL-ARG...]}
share=${2:?usage: run-qemu.sh IMAGEDIR SHAREDIR LOGFILE [KERNEL-ARG...]}
logf=${3:?usage: run-qemu.sh IMAGEDIR SHAREDIR LOGFILE [KERNEL-ARG...]}
shift 3

for f in vmlinuz initrd.img; do
	[ -f "$img/$f" ] || { echo "run-qemu: no $img/$f (make image)" >&2; exit 1; }
done
[ -d "$share" ] || { echo "run-qemu: no shared folder $share" >&2; exit 1; }

case ${VIGIL_QEMU_ACCEL:-tcg} in
kvm)	accel="-accel kvm -cpu host" ;;
*)	# TCG: "max" gives the guest SSE4/AVX so libx264 runs its SIMD paths.
	accel="-accel tcg,thread=multi -cpu max" ;;
esac
if [ "$logf" = - ]; then
	serial="-serial mon:stdio"
else
	serial="-serial file:$logf"
fi

# -nodefaults: no VGA, NIC or floppy to probe; -no-reboot: a panic (panic=-1)
# ends qemu instead of looping.
# shellcheck disable=SC2086
exec timeout -k 10 "${VIGIL_QEMU_TIMEOUT:-300}" qemu-system-x86_64 \
	-nodefaults -no-user-config -display none -no-reboot \
	$accel -smp 2 -m 1024 \
	-kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
	-append "console=ttyS0 panic=-1 quiet $*" \
	$serial \
	-virtfs "local,path=$share,mount_tag=share,security_model=none,id=share"
