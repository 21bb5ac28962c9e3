# vigild started as root drops to its own account (user = in the config)
# once it has opened what needs root, and refuses to start when that
# account does not exist.
. tests/e2e-lib.sh
FAILED=0

if [ "$(id -u)" != 0 ]; then
	skip "privilege drop (needs root to start vigild as root; runs in CI)"
	exit 0
fi
make_tmp
U=vgp$$
trap 'cleanup; userdel "$U" 2>/dev/null; groupdel "$U" 2>/dev/null' EXIT
useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$U"
chmod 755 "$T"
mkdir -p "$T/data"
chown "$U:$U" "$T/data"
chmod 700 "$T/data"
write_conf() { # write_conf USER
	cat >"$T/vigil.conf" <<CONF
site = { name = "Oak Court"; address = "1 Oak Street"; area_manager = "x"; contact = "x"; };
data_dir = "$T/data";
socket = "$T/run/vigil.sock";
user = "$1";
watchdog = "$T/watchdog";
defaults = { width = 160; height = 120; fps = 5; preset = "ultrafast"; segment_seconds = 10; };
cameras = ( { name = "stairs"; device = "synthetic"; purpose = "test"; area = "test"; } );
users = ( { login = "x"; name = "Test Manager"; role = "area_manager"; sites = ( "Oak Court" ); },
  { login = "test-auditor"; name = "Test Auditor"; role = "auditor"; } );
CONF
}

write_conf "no-such-account-$$"
"$VIGILD" -c "$T/vigil.conf" >"$T/refuse.log" 2>&1
rc=$?
check "started as root with a missing account, vigild refuses to run (exit $rc)" [ "$rc" = 1 ]
check "and says how to fix it, at the line of user =" \
	grep -q "vigil.conf:4: user \"no-such-account-$$\": there is no such account on this box; create it" "$T/refuse.log"
check "before making any key or catalog (the config check comes first)" \
	[ ! -e "$T/data/master.key" ] && [ ! -e "$T/data/catalog.db" ]

write_conf "$U"
# A stand-in for /dev/watchdog: the keep-alive ioctl fails on a plain file,
# so vigild writes its keep-alive byte instead, and we can count them.
: >"$T/watchdog"
chmod 600 "$T/watchdog"
"$VIGILD" -c "$T/vigil.conf" >"$T/vigild.log" 2>&1 &
VIGILD_PID=$!
check "vigild's socket appears" wait_for 30 test -S "$T/run/vigil.sock"
uid=$(id -u "$U")
ids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$VIGILD_PID/status")
check "after start-up every uid of vigild is $U's ($ids)" [ "$ids" = "$uid $uid $uid $uid" ]
check "no_new_privs is set" grep -q "^NoNewPrivs:[[:space:]]*1" "/proc/$VIGILD_PID/status"
check "its files belong to $U" [ "$(stat -c %U "$T/data/master.key")" = "$U" ]
check "the socket folder belongs to $U and is open to its group only" \
	[ "$(stat -c '%U %a' "$T/run")" = "$U 750" ]
fed() { [ "$(stat -c %s "$T/watchdog")" -ge 3 ]; }
check "the watchdog (opened as root, before the drop) is fed while the camera records" wait_for 20 fed
kill -TERM "$VIGILD_PID"
wait "$VIGILD_PID"
rc=$?
VIGILD_PID=
check "it still stops cleanly (exit $rc)" [ "$rc" = 0 ]
check "a clean stop disarms the watchdog with its magic close ('V' last)" \
	[ "$(tail -c 1 "$T/watchdog")" = V ]
[ "$FAILED" = 0 ] || cat "$T/vigild.log"
exit 0
