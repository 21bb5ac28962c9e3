#!/usr/bin/env python3
# rawctl.py SOCKET REQUEST-JSON [PATH,PATH...]: a raw control-socket client
# for the end-to-end tests, playing a hostile requester: sends one request
# frame (docs: include/vigil/proto.h), and if vigild asks for descriptors
# ({"need": ...} in a DATA frame) answers with the paths given, opened
# read-only, passed with SCM_RIGHTS (or with none). Prints the reply JSON.
import json
import os
import socket
import struct
import sys


def send(s, obj, fds=()):
    b = json.dumps(obj).encode()
    frame = struct.pack('>BBBBI', 1, ord('J'), 0, 0, len(b)) + b
    if fds:
        socket.send_fds(s, [frame], list(fds))
    else:
        s.sendall(frame)


def recv_exact(s, n):
    b = b''
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            return None
        b += c
    return b


def main():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    send(s, json.loads(sys.argv[2]))
    paths = sys.argv[3].split(',') if len(sys.argv) > 3 and sys.argv[3] else []
    while True:
        h = recv_exact(s, 8)
        if h is None:
            print('{"ok": false, "error": "vigild hung up"}')
            return
        body = recv_exact(s, struct.unpack('>I', h[4:])[0]).decode()
        if chr(h[1]) == 'D':
            if '"need"' in body:
                try:
                    fds = [os.open(p, os.O_RDONLY | os.O_NONBLOCK) for p in paths]
                except OSError as e:
                    send(s, {"ok": False, "error": "rawctl: %s" % e})
                    continue
                send(s, {"ok": True}, fds)
            continue
        print(body)
        return


main()
