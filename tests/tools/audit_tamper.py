#!/usr/bin/env python3
"""An attacker without the device key, written from docs/audit-format.md
alone: rewrite rows of a stopped vigil audit log and rebuild the hash chain.

  audit_tamper.py rebuild DB FROM_SEQ KEEP_CP_UPTO
      change the purpose of every row from FROM_SEQ on, recompute the chain
      from there, delete every checkpoint above KEEP_CP_UPTO
  audit_tamper.py head DB HEADFILE SEQ
      write HEADFILE from the database's (genuine) checkpoint at SEQ
  audit_tamper.py witness DB OUT
      the checkpoints as a collector holds them (one syslog-like line each)
"""
import hashlib
import sqlite3
import struct
import sys

TRIGGERS = ("audit_no_update", "audit_no_delete", "checkpoint_no_update", "checkpoint_no_delete")


def row_hash(r, prev):
    e = b"VGA1" + struct.pack(">Qqq", r["seq"], r["time_us"], r["uid"])
    for k in ("login", "role", "action", "object", "purpose", "reference", "outcome", "reason"):
        b = r[k].encode("utf-8")
        e += struct.pack(">I", len(b)) + b
    return hashlib.sha256(e + prev).digest()


def rebuild(db, from_seq, keep_upto):
    c = sqlite3.connect(db)
    c.row_factory = sqlite3.Row
    sql = [r[0] for r in c.execute("select sql from sqlite_master where type='trigger'")]
    for t in TRIGGERS:
        c.execute("drop trigger if exists " + t)
    prev = bytes(32)
    for r in list(c.execute("select * from audit order by seq")):
        r = dict(r)
        if r["seq"] >= from_seq:
            r["purpose"] = "forged: " + r["purpose"]
            r["prev_hash"] = prev
            r["hash"] = row_hash(r, prev)
            c.execute("update audit set purpose=?, prev_hash=?, hash=? where seq=?",
                      (r["purpose"], r["prev_hash"], r["hash"], r["seq"]))
        prev = r["hash"]
    c.execute("delete from checkpoint where seq > ?", (keep_upto,))
    for s in sql:
        c.execute(s)
    c.commit()


def head(db, headfile, seq):
    c = sqlite3.connect(db)
    r = c.execute("select seq, time_us, hash, sig from checkpoint where seq = ? order by id"
                  " limit 1", (seq,)).fetchone()
    with open(headfile, "w") as f:
        f.write("vigil-audit-head 1\nseq %d\ntime_us %d\nhash %s\nsig %s\n"
                % (r[0], r[1], r[2].hex(), r[3].hex()))


def witness(db, out):
    c = sqlite3.connect(db)
    with open(out, "w") as f:
        for s, t, h, g in c.execute("select seq, time_us, hash, sig from checkpoint order by id"):
            f.write('<85>1 - box vigild - checkpoint [vigil-checkpoint@32473 seq="%d" '
                    'time_us="%d" hash="%s" sig="%s"]\n' % (s, t, h.hex(), g.hex()))


if __name__ == "__main__":
    a = sys.argv
    if a[1] == "rebuild":
        rebuild(a[2], int(a[3]), int(a[4]))
    elif a[1] == "head":
        head(a[2], a[3], int(a[4]))
    elif a[1] == "witness":
        witness(a[2], a[3])
    else:
        sys.exit(__doc__)
