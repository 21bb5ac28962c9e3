# End to end: the clip container against its written spec.
# The committed test vector must still be produced byte for byte and must
# decrypt, with vigil's own reader and with tests/tools/clipdecrypt.py, an
# independent decryptor written from docs/clip-format.md alone. Fresh clips
# (random keys) must round-trip through the independent decryptor too,
# including truncated, tampered and recovered ones. Since format version 2
# the wrapped clip key lives only in the catalog (crypto-shredding), so
# every reader is given it separately and no clip file may contain it.
# Test data here is random bytes, never footage; all of it lives in $T.
. tests/e2e-lib.sh
FAILED=0
make_tmp
VEC=tests/data/clip-vector
PYDEC="python3 tests/tools/clipdecrypt.py"

if [ ! -x "$CLIPVEC" ]; then
	notok "clipvec is built ($CLIPVEC missing: make $CLIPVEC)"
	exit 1
fi

have_py=0
if python3 -c 'import cryptography.hazmat.primitives.keywrap
import cryptography.hazmat.primitives.ciphers.aead' 2>/dev/null; then
	have_py=1
fi
pyskip() {
	tool_missing python3-cryptography "$*"
}

# flip_byte FILE OFFSET: invert one byte in place.
flip_byte() {
	b=$(od -A n -t u1 -j "$2" -N 1 "$1" | tr -d ' ')
	printf "\\$(printf %03o $((255 - b)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# hexdump FILE: the dump format of docs/clip-format.md ("0000: 56 49 ...").
hexdump() {
	od -A n -v -t x1 -w16 "$1" |
		awk '{ printf "%04x:", (NR - 1) * 16; for (i = 1; i <= NF; i++) printf " %s", $i; print "" }'
}

# hex_of FILE: the file as one line of lower-case hex.
hex_of() {
	od -A n -v -t x1 "$1" | tr -d ' \n'
}

# 1. The vector is reproducible and unchanged, and the doc shows it exactly.
mkdir "$T/vec"
"$CLIPVEC" make "$T/vec" >/dev/null
for f in clip.vgc plaintext.bin master.key.hex wrapped-key.hex README; do
	check "clipvec make reproduces $VEC/$f byte for byte" cmp -s "$T/vec/$f" "$VEC/$f"
done
check "vector SHA-256 is the one in docs/clip-format.md" \
	grep -q "$(sha256sum "$VEC/clip.vgc" | cut -d' ' -f1)" docs/clip-format.md
check "wrapped key in docs/clip-format.md is wrapped-key.hex" \
	grep -q "$(cat "$VEC/wrapped-key.hex")" docs/clip-format.md
hexdump "$VEC/clip.vgc" >"$T/vec.dump"
grep -E '^[0-9a-f]{4}: ' docs/clip-format.md >"$T/doc.dump"
check "the hex dump in docs/clip-format.md is clip.vgc byte for byte" \
	cmp -s "$T/vec.dump" "$T/doc.dump"
WK=$(cat "$VEC/wrapped-key.hex")
case $(hex_of "$VEC/clip.vgc") in
*"$WK"*) notok "the vector's clip file does not contain its wrapped key" ;;
*) ok "the vector's clip file does not contain its wrapped key" ;;
esac

# 2. vigil's reader decrypts the committed vector, given the wrapped key.
"$CLIPVEC" decrypt "$VEC/master.key.hex" "$WK" "$VEC/clip.vgc" >"$T/vec.c.out"
check "clipvec decrypts the committed vector to plaintext.bin" \
	cmp -s "$T/vec.c.out" "$VEC/plaintext.bin"

# 3. The independent decryptor agrees (wrapped key from the file, and inline).
if [ $have_py = 1 ]; then
	$PYDEC "$VEC/master.key.hex" "$VEC/wrapped-key.hex" "$VEC/clip.vgc" >"$T/vec.py.out"
	rc=$?
	check "clipdecrypt.py decrypts the committed vector (exit $rc)" [ $rc = 0 ]
	check "clipdecrypt.py output is exactly plaintext.bin" \
		cmp -s "$T/vec.py.out" "$VEC/plaintext.bin"
	$PYDEC "$VEC/master.key.hex" "$WK" "$VEC/clip.vgc" >"$T/vec.py2.out"
	check "clipdecrypt.py takes the wrapped key as hex too" \
		cmp -s "$T/vec.py2.out" "$VEC/plaintext.bin"
else
	pyskip "independent decryption of the committed vector"
fi

# 4. A fresh clip with a random master and clip key.
head -c 32 /dev/urandom >"$T/master.key"
chmod 600 "$T/master.key"
head -c 2500000 /dev/urandom >"$T/input.bin"
"$CLIPVEC" encrypt "$T/master.key" "$T/fresh.vgc" 300000 <"$T/input.bin" >"$T/fresh.wk"
check "clipvec encrypt makes a clip" [ -s "$T/fresh.vgc" ]
FWK=$(cat "$T/fresh.wk")
check "clipvec encrypt prints the wrapped key (80 hex digits)" \
	grep -qxE '[0-9a-f]{80}' "$T/fresh.wk"
case $(hex_of "$T/fresh.vgc") in
*"$FWK"*) notok "the fresh clip file does not contain its wrapped key" ;;
*) ok "the fresh clip file does not contain its wrapped key" ;;
esac
"$CLIPVEC" check "$T/master.key" "$FWK" "$T/fresh.vgc" >/dev/null
check "clipvec check: fresh clip is clean" [ $? = 0 ]
# A second clip under the same master key: its wrapped key unwraps, but is
# not the first clip's key; that is a key error at open, not tampering.
head -c 1000 /dev/urandom | "$CLIPVEC" encrypt "$T/master.key" "$T/second.vgc" >"$T/second.wk"
SWK=$(cat "$T/second.wk")
"$CLIPVEC" check "$T/master.key" "$SWK" "$T/fresh.vgc" >"$T/wrongwk.out" 2>&1
rc=$?
check "clipvec check: another clip's wrapped key exits 3 (got $rc)" [ $rc = 3 ]
check "clipvec check: ... reported as a wrong key, before any chunk" \
	grep -q "wrong key: .*(no chunk was read)" "$T/wrongwk.out"
if [ $have_py = 1 ]; then
	$PYDEC "$T/master.key" "$T/fresh.wk" "$T/fresh.vgc" >"$T/fresh.py.out"
	rc=$?
	check "clipdecrypt.py reads the fresh clip cleanly (exit $rc)" [ $rc = 0 ]
	check "clipdecrypt.py returns the fresh clip's input exactly" \
		cmp -s "$T/fresh.py.out" "$T/input.bin"
	head -c 32 /dev/urandom >"$T/other.key"
	$PYDEC --check "$T/other.key" "$FWK" "$T/fresh.vgc" >/dev/null 2>&1
	rc=$?
	check "clipdecrypt.py: wrong master key is an authentication failure (exit $rc)" [ $rc = 3 ]
	out=$($PYDEC --check "$T/master.key" "$SWK" "$T/fresh.vgc" 2>/dev/null)
	rc=$?
	case "$rc $out" in
	"3 "*"0 chunks, 0 bytes: wrong key: the wrapped key is not this clip's"*)
		ok "clipdecrypt.py: another clip's wrapped key fails the key check" ;;
	*) notok "clipdecrypt.py: another clip's wrapped key fails the key check ($rc: $out)" ;;
	esac
else
	pyskip "independent round trip of a fresh clip"
fi

# 5. Truncated: both readers deliver the complete chunks, then report it.
size=$(wc -c <"$T/fresh.vgc")
head -c $((size - 1000)) "$T/fresh.vgc" >"$T/cut.vgc"
"$CLIPVEC" check "$T/master.key" "$FWK" "$T/cut.vgc" >/dev/null 2>&1
rc=$?
check "clipvec check: truncated clip exits 2 (got $rc)" [ $rc = 2 ]
if [ $have_py = 1 ]; then
	$PYDEC "$T/master.key" "$FWK" "$T/cut.vgc" >"$T/cut.py.out" 2>/dev/null
	rc=$?
	check "clipdecrypt.py: truncated clip exits 2 (got $rc)" [ $rc = 2 ]
	n=$(wc -c <"$T/cut.py.out")
	check "clipdecrypt.py: truncated clip yields 8 whole chunks ($n bytes)" [ "$n" = 2400000 ]
	check "clipdecrypt.py: they are the input's first bytes" \
		cmp -s -n "$n" "$T/cut.py.out" "$T/input.bin"
else
	pyskip "independent reading of a truncated clip"
fi

# 6. Recovered: vigil's recovery writes a final chunk the spec reader accepts.
cp "$T/cut.vgc" "$T/rec.vgc"
"$CLIPVEC" recover "$T/master.key" "$SWK" "$T/rec.vgc" >/dev/null 2>&1
rc=$?
check "clipvec recover with another clip's wrapped key refuses (exit $rc)" [ $rc = 3 ]
check "... and leaves the clip byte for byte as it was" cmp -s "$T/rec.vgc" "$T/cut.vgc"
"$CLIPVEC" recover "$T/master.key" "$FWK" "$T/rec.vgc" >/dev/null
check "clipvec recover on a truncated clip" [ $? = 0 ]
"$CLIPVEC" check "$T/master.key" "$FWK" "$T/rec.vgc" >/dev/null
check "clipvec check: recovered clip is clean" [ $? = 0 ]
case $(hex_of "$T/rec.vgc") in
*"$FWK"*) notok "the recovered clip file does not contain its wrapped key" ;;
*) ok "the recovered clip file does not contain its wrapped key" ;;
esac
if [ $have_py = 1 ]; then
	out=$($PYDEC --check "$T/master.key" "$T/fresh.wk" "$T/rec.vgc")
	rc=$?
	check "clipdecrypt.py reads the recovered clip cleanly (exit $rc)" [ $rc = 0 ]
	case $out in
	*"2400000 bytes: clean (recovered)"*)
		ok "clipdecrypt.py sees 2400000 bytes, marked recovered" ;;
	*) notok "clipdecrypt.py sees 2400000 bytes, marked recovered (said: $out)" ;;
	esac
else
	pyskip "independent reading of a recovered clip"
fi

# 7. Tampered: one byte in the middle of the ciphertext.
cp "$T/fresh.vgc" "$T/bad.vgc"
flip_byte "$T/bad.vgc" 1000000
"$CLIPVEC" check "$T/master.key" "$FWK" "$T/bad.vgc" >/dev/null 2>&1
rc=$?
check "clipvec check: tampered clip exits 3 (got $rc)" [ $rc = 3 ]
if [ $have_py = 1 ]; then
	$PYDEC "$T/master.key" "$FWK" "$T/bad.vgc" >"$T/bad.py.out" 2>/dev/null
	rc=$?
	check "clipdecrypt.py: tampered clip exits 3 (got $rc)" [ $rc = 3 ]
	n=$(wc -c <"$T/bad.py.out")
	check "clipdecrypt.py: only the 3 chunks before the damage come out ($n bytes)" \
		[ "$n" = 900000 ]
else
	pyskip "independent reading of a tampered clip"
fi

# 8. Tampered vector header (last byte of the creation time, offset 55):
# caught by the spec reader too.
cp "$VEC/clip.vgc" "$T/vhdr.vgc"
flip_byte "$T/vhdr.vgc" 55
"$CLIPVEC" check "$VEC/master.key.hex" "$WK" "$T/vhdr.vgc" >/dev/null 2>&1
rc=$?
check "clipvec check: vector with an edited header exits 3 (got $rc)" [ $rc = 3 ]
if [ $have_py = 1 ]; then
	$PYDEC --check "$VEC/master.key.hex" "$WK" "$T/vhdr.vgc" >/dev/null 2>&1
	rc=$?
	check "clipdecrypt.py: vector with an edited header exits 3 (got $rc)" [ $rc = 3 ]
else
	pyskip "independent reading of an edited header"
fi

exit $FAILED
