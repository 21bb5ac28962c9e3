#!/usr/bin/env python3
"""hostile_client.py - a raw control-socket client for the hostile-input
end-to-end tests (tests/e2e/hostile.sh, tests/e2e/flood.sh). Not vigilctl:
it sends what vigilctl never would.

  hostile_client.py SOCK cases MARKER      every hostile case, one line each:
                                           "CASE outcome" (reply, closed,
                                           error:...); MARKER goes into
                                           every payload so the test can
                                           check none of it was stored
  hostile_client.py SOCK hold READY CLIP   open the in-flight cases (stalled
                                           mid-frame, idle, slow reader of
                                           a view of CLIP), write READY,
                                           then wait until killed
  hostile_client.py SOCK flood N SIZE      N connections, each sending one
                                           request of SIZE bytes; prints
                                           how many got an answer or were
                                           closed
  hostile_client.py SOCK idle N READY      hold N idle connections (after
                                           one hello each), write READY,
                                           wait until killed
  hostile_client.py SOCK busy N READY CLIP  N views of CLIP never read (their
                                           handlers stay busy), write READY,
                                           wait until killed
  hostile_client.py SOCK ask CMD [JSON]    one request {"cmd": CMD} (plus the
                                           members of the JSON object, if
                                           given); prints the reply, or
                                           "closed"
"""
import json
import os
import socket
import struct
import sys
import time

VERSION = 1
MAX = 1024 * 1024


def frame(payload, ftype=b"J", version=VERSION, reserved=b"\0\0", length=None):
    if isinstance(payload, str):
        payload = payload.encode("utf-8", "surrogatepass")
    n = len(payload) if length is None else length
    return bytes([version]) + ftype + reserved + struct.pack(">I", n) + payload


def connect(path, timeout=30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        b = s.recv(n - len(buf))
        if not b:
            return None
        buf += b
    return buf


def read_frame(s):
    h = read_exact(s, 8)
    if h is None:
        return None
    n = struct.unpack(">I", h[4:8])[0]
    body = read_exact(s, n)
    if body is None:
        return None
    return chr(h[1]), body


def outcome(s):
    """What vigild did after a case: its reply, or that it closed."""
    try:
        f = read_frame(s)
    except (ConnectionError, socket.timeout, OSError) as e:
        return "closed" if not isinstance(e, socket.timeout) else "no-answer"
    if f is None:
        return "closed"
    try:
        o = json.loads(f[1])
    except ValueError:
        return "reply:unreadable"
    if o.get("ok"):
        return "reply:ok"
    return "reply:refused:" + str(o.get("error", ""))[:60]


def send_case(path, data, then_close_write=False):
    s = connect(path)
    try:
        s.sendall(data)
        if then_close_write:
            s.shutdown(socket.SHUT_WR)
        return outcome(s)
    except (ConnectionError, OSError):
        return "closed"
    finally:
        s.close()


def req(obj):
    return frame(json.dumps(obj))


def cases(path, marker):
    m = marker
    deep = "[" * 100000 + "]" * 100000
    deep_obj = '{"cmd":"clips","x":' + '{"a":' * 5000 + "1" + "}" * 5000 + "}"
    big = '{"cmd":"clips","purpose":"' + "x" * (MAX - 100) + '"}'
    out = []
    table = [
        ("bad-version", frame('{"cmd":"status"}', version=9)),
        ("bad-type", frame('{"cmd":"status"}', ftype=b"Z")),
        ("data-frame-as-request", frame('{"cmd":"status"}', ftype=b"D")),
        ("reserved-bytes", frame('{"cmd":"status"}', reserved=b"\1\0")),
        ("length-over-max", frame(b"", length=0xFFFFFFFF)),
        ("length-lies-short-eof", frame(b'{"cmd":', length=1000)),
        ("half-header-eof", frame('{"cmd":"status"}')[:5]),
        ("empty-frame", frame(b"")),
        ("not-json", frame("this is " + m + " not json")),
        ("json-array", frame('["' + m + '"]')),
        ("json-string", frame('"' + m + '"')),
        ("json-number", frame("12345")),
        ("trailing-garbage", frame('{"cmd":"status"} ' + m)),
        ("nul-inside", frame(b'{"cmd":"status","purpose":"' + m.encode() + b'\0x"}')),
        # Well-formed JSON with a field that is not UTF-8: the text gate's
        # refusal (textfield.h), which audits a short escaped form of the
        # value, so it carries no marker.
        ("bad-utf8", frame(b'{"cmd":"status","purpose":"bad \xff\xfe text"}')),
        ("no-cmd", req({"purpose": m})),
        ("cmd-int", req({"cmd": 7, "purpose": m})),
        ("cmd-null", req({"cmd": None, "purpose": m})),
        ("cmd-object", req({"cmd": {"x": m}})),
        ("unknown-cmd", req({"cmd": "rm -rf /" + m})),
        ("deep-array", frame(deep)),
        ("deep-object", frame(deep_obj)),
        ("huge-purpose", frame(big)),
        ("clip-negative", req({"cmd": "view", "clip": -1, "purpose": "p", "reference": "r"})),
        ("clip-huge", req({"cmd": "view", "clip": 2**63 - 1, "purpose": "p", "reference": "r"})),
        ("clip-overflow", frame('{"cmd":"view","clip":99999999999999999999999,"purpose":"p","reference":"r"}')),
        ("clip-string", req({"cmd": "view", "clip": "../../master.key", "purpose": "p", "reference": "r"})),
        ("clip-float", req({"cmd": "view", "clip": 1.5e300, "purpose": "p", "reference": "r"})),
        ("range-reversed", req({"cmd": "clips", "from_us": 2**62, "to_us": -2**62, "purpose": "p", "reference": "r"})),
        ("camera-traversal", req({"cmd": "clips", "camera": "../../../etc/passwd", "purpose": "p", "reference": "r"})),
        ("snapshot-traversal", req({"cmd": "snapshot", "camera": "../" * 50, "purpose": "p", "reference": "r"})),
        ("purpose-types", req({"cmd": "clips", "purpose": [m], "reference": {"a": m}})),
        ("duplicate-keys", frame('{"cmd":"status","cmd":"status"}')),
    ]
    for name, data in table:
        out.append((name, send_case(path, data)))
    # Many requests on one connection, unknown and malformed, quickly.
    s = connect(path)
    n_ok = 0
    try:
        for i in range(300):
            s.sendall(req({"cmd": "no.such.command." + m, "i": i}))
            if outcome(s).startswith("reply"):
                n_ok += 1
    except (ConnectionError, OSError):
        pass
    s.close()
    out.append(("flood-unknown-300", "answered:%d" % n_ok))
    # Many connections in a row, each a malformed frame.
    answered = 0
    for i in range(300):
        if send_case(path, frame("nope " + m)).startswith("reply"):
            answered += 1
    out.append(("flood-malformed-300", "answered:%d" % answered))
    for name, res in out:
        print(name, res)
    sys.stdout.flush()


def hold(path, ready, clip):
    keep = []
    # A client stalled inside a frame header, one inside a payload.
    s = connect(path)
    s.sendall(frame('{"cmd":"status"}')[:3])
    keep.append(s)
    s = connect(path)
    s.sendall(frame('{"cmd":"status"}')[:12])
    keep.append(s)
    # Idle connections.
    for _ in range(2):
        keep.append(connect(path))
    # A slow reader: asks for footage and does not read it. A tiny
    # receive buffer makes vigild's sends block at once.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
    s.connect(path)
    s.sendall(req({"cmd": "view", "clip": int(clip), "purpose": "hostile test",
                   "reference": "ASB-2"}))
    keep.append(s)
    with open(ready, "w") as f:
        f.write("ready\n")
    # Until killed; a client the test forgot ends on its own.
    time.sleep(900)


def flood(path, n, size):
    answered = closed = 0
    pad = "x" * max(0, size - 60)
    data = frame('{"cmd":"export","purpose":"' + pad + '"}')
    for _ in range(n):
        try:
            s = connect(path, timeout=30)
        except (ConnectionError, OSError):
            closed += 1
            continue
        try:
            s.sendall(data)
        except (ConnectionError, OSError):
            pass
        r = outcome(s)
        s.close()
        if r.startswith("reply"):
            answered += 1
        else:
            closed += 1
    print("answered=%d closed=%d" % (answered, closed))


def idle(path, n, ready):
    keep = []
    for _ in range(n):
        s = connect(path)
        s.sendall(req({"cmd": "hello"}))
        outcome(s)
        keep.append(s)
    with open(ready, "w") as f:
        f.write("ready\n")
    # Until killed; a client the test forgot ends on its own.
    time.sleep(900)


def busy(path, n, ready, clip):
    keep = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
        s.connect(path)
        s.sendall(req({"cmd": "view", "clip": int(clip), "purpose": "flood test",
                       "reference": "ASB-1"}))
        keep.append(s)
    with open(ready, "w") as f:
        f.write("ready\n")
    # Until killed; a client the test forgot ends on its own.
    time.sleep(900)


def ask(path, cmd, args="{}"):
    s = connect(path)
    s.sendall(req(dict(json.loads(args), cmd=cmd)))
    print(outcome(s))


def main():
    path, what = sys.argv[1], sys.argv[2]
    if what == "cases":
        cases(path, sys.argv[3])
    elif what == "hold":
        hold(path, sys.argv[3], sys.argv[4])
    elif what == "flood":
        flood(path, int(sys.argv[3]), int(sys.argv[4]))
    elif what == "idle":
        idle(path, int(sys.argv[3]), sys.argv[4])
    elif what == "busy":
        busy(path, int(sys.argv[3]), sys.argv[4], sys.argv[5])
    elif what == "ask":
        ask(path, *sys.argv[3:5])
    else:
        sys.exit("unknown mode " + what)


if __name__ == "__main__":
    main()
