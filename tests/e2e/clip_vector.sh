# End to end: the clip container against its written spec.
# The committed test vector must still be produced byte for byte and must
# decrypt, with vigil's own reader and with tests/tools/clipdecrypt.py, an
# independent decryptor written from docs/clip-format.md alone. Fresh clips
# (random keys) must round-trip through the independent decryptor too,
# including truncated, tampered and recovered ones.
# Test data here is random bytes, never footage; all of it lives in $T.
. tests/e2e/lib.sh
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
	skip "$* (install python3-cryptography)"
}

# flip_byte FILE OFFSET: invert one byte in place.
flip_byte() {
	b=$(od -A n -t u1 -j "$2" -N 1 "$1" | tr -d ' ')
	printf "\\$(printf %03o $((255 - b)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# 1. The vector is reproducible and unchanged.
mkdir "$T/vec"
"$CLIPVEC" make "$T/vec" >/dev/null
for f in clip.vgc plaintext.bin master.key.hex README; do
	check "clipvec make reproduces $VEC/$f byte for byte" cmp -s "$T/vec/$f" "$VEC/$f"
done
check "vector SHA-256 is the one in docs/clip-format.md" \
	grep -q "$(sha256sum "$VEC/clip.vgc" | cut -d' ' -f1)" docs/clip-format.md

# 2. vigil's reader decrypts the committed vector.
"$CLIPVEC" decrypt "$VEC/master.key.hex" "$VEC/clip.vgc" >"$T/vec.c.out"
check "clipvec decrypts the committed vector to plaintext.bin" \
	cmp -s "$T/vec.c.out" "$VEC/plaintext.bin"

# 3. The independent decryptor agrees.
if [ $have_py = 1 ]; then
	$PYDEC "$VEC/master.key.hex" "$VEC/clip.vgc" >"$T/vec.py.out"
	rc=$?
	check "clipdecrypt.py decrypts the committed vector (exit $rc)" [ $rc = 0 ]
	check "clipdecrypt.py output is exactly plaintext.bin" \
		cmp -s "$T/vec.py.out" "$VEC/plaintext.bin"
else
	pyskip "independent decryption of the committed vector"
fi

# 4. A fresh clip with a random master and clip key.
head -c 32 /dev/urandom >"$T/master.key"
chmod 600 "$T/master.key"
head -c 2500000 /dev/urandom >"$T/input.bin"
"$CLIPVEC" encrypt "$T/master.key" "$T/fresh.vgc" 300000 <"$T/input.bin"
check "clipvec encrypt makes a clip" [ -s "$T/fresh.vgc" ]
"$CLIPVEC" check "$T/master.key" "$T/fresh.vgc" >/dev/null
check "clipvec check: fresh clip is clean" [ $? = 0 ]
if [ $have_py = 1 ]; then
	$PYDEC "$T/master.key" "$T/fresh.vgc" >"$T/fresh.py.out"
	rc=$?
	check "clipdecrypt.py reads the fresh clip cleanly (exit $rc)" [ $rc = 0 ]
	check "clipdecrypt.py returns the fresh clip's input exactly" \
		cmp -s "$T/fresh.py.out" "$T/input.bin"
	head -c 32 /dev/urandom >"$T/other.key"
	$PYDEC --check "$T/other.key" "$T/fresh.vgc" >/dev/null 2>&1
	rc=$?
	check "clipdecrypt.py: wrong master key is an authentication failure (exit $rc)" [ $rc = 3 ]
else
	pyskip "independent round trip of a fresh clip"
fi

# 5. Truncated: both readers deliver the complete chunks, then report it.
size=$(wc -c <"$T/fresh.vgc")
head -c $((size - 1000)) "$T/fresh.vgc" >"$T/cut.vgc"
"$CLIPVEC" check "$T/master.key" "$T/cut.vgc" >/dev/null 2>&1
rc=$?
check "clipvec check: truncated clip exits 2 (got $rc)" [ $rc = 2 ]
if [ $have_py = 1 ]; then
	$PYDEC "$T/master.key" "$T/cut.vgc" >"$T/cut.py.out" 2>/dev/null
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
"$CLIPVEC" recover "$T/master.key" "$T/rec.vgc" >/dev/null
check "clipvec recover on a truncated clip" [ $? = 0 ]
"$CLIPVEC" check "$T/master.key" "$T/rec.vgc" >/dev/null
check "clipvec check: recovered clip is clean" [ $? = 0 ]
if [ $have_py = 1 ]; then
	out=$($PYDEC --check "$T/master.key" "$T/rec.vgc")
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
"$CLIPVEC" check "$T/master.key" "$T/bad.vgc" >/dev/null 2>&1
rc=$?
check "clipvec check: tampered clip exits 3 (got $rc)" [ $rc = 3 ]
if [ $have_py = 1 ]; then
	$PYDEC "$T/master.key" "$T/bad.vgc" >"$T/bad.py.out" 2>/dev/null
	rc=$?
	check "clipdecrypt.py: tampered clip exits 3 (got $rc)" [ $rc = 3 ]
	n=$(wc -c <"$T/bad.py.out")
	check "clipdecrypt.py: only the 3 chunks before the damage come out ($n bytes)" \
		[ "$n" = 900000 ]
else
	pyskip "independent reading of a tampered clip"
fi

# 8. Tampered vector header (creation time): caught by the spec reader too.
cp "$VEC/clip.vgc" "$T/vhdr.vgc"
flip_byte "$T/vhdr.vgc" 79
"$CLIPVEC" check "$VEC/master.key.hex" "$T/vhdr.vgc" >/dev/null 2>&1
rc=$?
check "clipvec check: vector with an edited header exits 3 (got $rc)" [ $rc = 3 ]
if [ $have_py = 1 ]; then
	$PYDEC --check "$VEC/master.key.hex" "$T/vhdr.vgc" >/dev/null 2>&1
	rc=$?
	check "clipdecrypt.py: vector with an edited header exits 3 (got $rc)" [ $rc = 3 ]
else
	pyskip "independent reading of an edited header"
fi

exit $FAILED
