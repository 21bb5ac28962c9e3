#!/usr/bin/env python3
"""Independent decryptor for vigil clip files (format version 2).

Written from docs/clip-format.md only, with python3-cryptography, so that a
bug shared by the spec reading of src/store/clipfile.c and this file is unlikely.

usage: clipdecrypt.py [--check] KEYFILE WRAPPED CLIP

KEYFILE holds the master key as 32 raw bytes or 64 hex digits. WRAPPED is
the clip's wrapped key (it is not in the clip file; a box keeps it in its
catalog): either 80 hex digits, or the path of a file holding 80 hex digits
or 40 raw bytes. Without --check the authenticated plaintext goes to stdout
(pipe it; it refuses a terminal). With --check it prints a summary. Exit
status: 0 clean, 2 truncated, 3 authentication failure (wrong key or
tampered data; the message says which), 4 not a (supported) clip, 1 usage.
"""
import hashlib
import hmac
import os
import string
import struct
import sys

try:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap
except ImportError:  # pragma: no cover
    sys.stderr.write("clipdecrypt: needs python3-cryptography "
                     "(apt-get install -y python3-cryptography)\n")
    sys.exit(5)

MAGIC = b"VIGILCLP"
VERSION = 2
HEADER_LEN = 56
WRAPPED_LEN = 40
KEY_CHECK_LABEL = b"vigil clip key check"
CHUNK_MAX_LIMIT = 1048576
FINAL = 0x80000000
RECOVERED = 0x40000000
LEN_MASK = 0x3FFFFFFF
TAG_LEN = 16

EXIT_CLEAN, EXIT_USAGE, EXIT_TRUNC, EXIT_AUTH, EXIT_FORMAT = 0, 1, 2, 3, 4


class ClipError(Exception):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code


def load_key(path):
    with open(path, "rb") as f:
        raw = f.read(200)
    if len(raw) == 32:
        return raw
    text = b"".join(raw.split())
    if len(text) == 64:
        try:
            return bytes.fromhex(text.decode("ascii"))
        except ValueError:
            pass
    raise ClipError(EXIT_USAGE, "%s is neither 32 raw bytes nor 64 hex digits" % path)


def load_wrapped(arg):
    """80 hex digits given inline, else a file with 80 hex digits or 40 raw bytes."""
    if len(arg) == 2 * WRAPPED_LEN and all(c in string.hexdigits for c in arg):
        return bytes.fromhex(arg)
    if not os.path.exists(arg):
        raise ClipError(EXIT_USAGE, "wrapped key %r is neither %d hex digits nor a file"
                        % (arg, 2 * WRAPPED_LEN))
    with open(arg, "rb") as f:
        raw = f.read(200)
    if len(raw) == WRAPPED_LEN:
        return raw
    text = b"".join(raw.split())
    if len(text) == 2 * WRAPPED_LEN:
        try:
            return bytes.fromhex(text.decode("ascii"))
        except ValueError:
            pass
    raise ClipError(EXIT_USAGE, "%s holds neither %d hex digits nor %d raw bytes"
                    % (arg, 2 * WRAPPED_LEN, WRAPPED_LEN))


def read_exact(f, n):
    data = f.read(n)
    if len(data) < n:
        raise ClipError(EXIT_TRUNC, "file ends early (truncated)")
    return data


def chunks(f, master, wrapped):
    """Yield (index, plaintext, flags) for each authenticated chunk."""
    header = f.read(HEADER_LEN)
    if len(header) < len(MAGIC):
        if MAGIC.startswith(header):
            raise ClipError(EXIT_TRUNC, "file ends inside the header")
        raise ClipError(EXIT_FORMAT, "not a vigil clip")
    if header[0:8] != MAGIC:
        raise ClipError(EXIT_FORMAT, "not a vigil clip (bad magic)")
    if len(header) >= 12:
        version, header_len = struct.unpack(">HH", header[8:12])
        if version != VERSION or header_len != HEADER_LEN:
            raise ClipError(EXIT_FORMAT, "unsupported version %d / header length %d"
                            % (version, header_len))
    if len(header) < HEADER_LEN:
        raise ClipError(EXIT_TRUNC, "file ends inside the header")
    clip_id = header[12:28]
    key_check = header[28:44]
    (chunk_max,) = struct.unpack(">I", header[44:48])
    if chunk_max == 0 or chunk_max > CHUNK_MAX_LIMIT:
        raise ClipError(EXIT_FORMAT, "chunk_max %d out of range" % chunk_max)
    if len(wrapped) != WRAPPED_LEN:
        raise ClipError(EXIT_USAGE, "wrapped key is not %d bytes" % WRAPPED_LEN)
    try:
        clip_key = aes_key_unwrap(master, wrapped)
    except InvalidUnwrap:
        raise ClipError(EXIT_AUTH, "wrong key: the wrapped key does not unwrap "
                        "(wrong master key, or wrapped key altered)")
    if len(clip_key) != 32:
        raise ClipError(EXIT_FORMAT, "clip key is not 32 bytes")
    want = hmac.new(clip_key, KEY_CHECK_LABEL + clip_id, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(want, key_check):
        raise ClipError(EXIT_AUTH, "wrong key: the wrapped key is not this clip's "
                        "(key check value differs)")
    h = hashlib.sha256(header).digest()
    aead = AESGCM(clip_key)
    i = 0
    while True:
        field = f.read(4)
        if len(field) < 4:
            raise ClipError(EXIT_TRUNC, "file ends before the final chunk (truncated)")
        (v,) = struct.unpack(">I", field)
        final = bool(v & FINAL)
        recovered = bool(v & RECOVERED)
        length = v & LEN_MASK
        if length > chunk_max:
            raise ClipError(EXIT_FORMAT, "chunk %d longer than chunk_max" % i)
        if recovered and (not final or length != 0):
            raise ClipError(EXIT_FORMAT, "chunk %d: bad RECOVERED chunk" % i)
        body = read_exact(f, length + TAG_LEN)
        nonce = bytes([0, 0, 0, 1 if recovered else 0]) + struct.pack(">Q", i)
        flags = (0x01 if final else 0) | (0x02 if recovered else 0)
        aad = h + struct.pack(">QBI", i, flags, length)
        try:
            # cryptography takes ciphertext || tag and verifies before returning.
            plain = aead.decrypt(nonce, body, aad)
        except InvalidTag:
            raise ClipError(EXIT_AUTH, "chunk %d does not authenticate" % i)
        if final and f.read(1):
            raise ClipError(EXIT_AUTH, "data after the final chunk")
        yield i, plain, flags
        if final:
            return
        i += 1


def main(argv):
    check = False
    args = argv[1:]
    if args and args[0] == "--check":
        check = True
        args = args[1:]
    if len(args) != 3:
        sys.stderr.write(__doc__)
        return EXIT_USAGE
    if not check and sys.stdout.isatty():
        sys.stderr.write("clipdecrypt: refusing to write plaintext to a terminal\n")
        return EXIT_USAGE
    out = sys.stdout.buffer
    n = total = 0
    recovered = False
    try:
        master = load_key(args[0])
        wrapped = load_wrapped(args[1])
        with open(args[2], "rb") as f:
            for _, plain, flags in chunks(f, master, wrapped):
                n += 1
                total += len(plain)
                recovered = bool(flags & 0x02)
                if not check:
                    out.write(plain)
    except ClipError as e:
        out.flush()
        sys.stderr.write("clipdecrypt: %s: %s after %d chunks\n" % (args[2], e, n))
        if check:
            print("%s: %d chunks, %d bytes: %s" % (args[2], n, total, e))
        return e.code
    except OSError as e:
        sys.stderr.write("clipdecrypt: %s\n" % e)
        return EXIT_USAGE
    out.flush()
    if check:
        print("%s: %d chunks, %d bytes: clean%s" % (args[2], n, total,
                                                     " (recovered)" if recovered else ""))
    return EXIT_CLEAN


if __name__ == "__main__":
    sys.exit(main(sys.argv))
