"""A small aggregator for agent tests: speaks the wire protocol (docs/PROTOCOL.md) and applies
batches with the per-series semantics of docs/REDIS.md, in memory. Faults on demand:

  down()/up()            refuse sessions (close right after accept) / accept again
  ack_delay              seconds to wait before each ACK
  drop_after             close the connection after this many batches (then reset to None)
  retry_next             answer RETRY to the next N batches
  lose_last(n)           forget the last n applied batches (Redis lost its last writes):
                         counts and marks go together, so the agent gets GAP and resends
  reject_token           answer ERROR to a HELLO whose token differs from `token`
  garbage                list of raw byte strings; each new session sends the next one right
                         after WELCOME (a malformed or oversized frame), then goes on
  stall                  after WELCOME, stop reading (the connection stays open) while set

totals() gives {(kind, name, minute): [v0, v1, v2]} of what was applied.
"""
import socket
import struct
import threading
import time

import slt_proto as P


class FakeAggregator:
    def __init__(self, port, token="secret"):
        self.port = port
        self.token = token
        self.lock = threading.RLock()
        self.hwm = {}         # (agent, kind, name) -> (epoch, seq)
        self.applied = []     # list of (agent, epoch, seq, [(kind, name, prev_hwm, rows)])
        self.stats = {"batches": 0, "applied": 0, "duplicate": 0, "gap": 0, "rejected": 0,
                      "retry": 0, "sessions": 0, "auth_failures": 0}
        self.refuse = False
        self.ack_delay = 0.0
        self.drop_after = None
        self.retry_next = 0
        self.seen_tokens = set()
        self.garbage = []
        self.stall = False
        self.conns = []
        self.stopping = False
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", port))
        self.srv.listen(16)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    # ---- control ----
    def down(self):
        with self.lock:
            self.refuse = True
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def up(self):
        with self.lock:
            self.refuse = False

    def stop(self):
        self.stopping = True
        self.down()
        try:
            self.srv.close()
        except OSError:
            pass

    def lose_last(self, n):
        with self.lock:
            for _ in range(min(n, len(self.applied))):
                agent, epoch, seq, parts = self.applied.pop()
                for kind, name, prev, rows in parts:
                    if prev is None:
                        self.hwm.pop((agent, kind, name), None)
                    else:
                        self.hwm[(agent, kind, name)] = prev

    def totals(self):
        out = {}
        with self.lock:
            for _agent, _e, _s, parts in self.applied:
                for kind, name, _prev, rows in parts:
                    for r in rows:
                        acc = out.setdefault((kind, name, r[0]), [0, 0, 0])
                        for i in range(3):
                            acc[i] += r[1 + i]
        return out

    def last_seq(self):
        with self.lock:
            return self.applied[-1][2] if self.applied else 0

    # ---- apply (docs/REDIS.md) ----
    def _apply(self, b):
        agent, epoch, seq = b["agent"], b["epoch"], b["seq"]
        answers = []
        for s in b["series"]:
            key = (agent, s["k"], s["n"])
            cur = self.hwm.get(key)
            if cur is None or epoch > cur[0]:
                answers.append(("apply", 0) if seq == s["since"] else ("gap", s["since"]))
            elif epoch < cur[0]:
                answers.append(("rejected", cur[0]))
            elif seq <= cur[1]:
                answers.append(("dup", 0))
            elif seq == cur[1] + 1:
                answers.append(("apply", 0))
            else:
                answers.append(("gap", cur[1] + 1))
        if any(a == "rejected" for a, _ in answers):
            # nothing is applied; the answer names the stored epoch (the mark)
            return P.REJECTED, max(m for a, m in answers if a == "rejected")
        parts = []
        for s, (a, _) in zip(b["series"], answers):
            if a == "apply":
                key = (agent, s["k"], s["n"])
                parts.append((s["k"], s["n"], self.hwm.get(key), [list(r) for r in s["rows"]]))
                self.hwm[key] = (epoch, seq)
        if parts:
            self.applied.append((agent, epoch, seq, parts))
        gaps = [f for a, f in answers if a == "gap"]
        if gaps:
            return P.GAP, min(gaps)
        if all(a == "dup" for a, _ in answers):
            return P.DUPLICATE, 0
        return P.APPLIED, 0

    # ---- sessions ----
    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            with self.lock:
                if self.refuse:
                    c.close()
                    continue
                self.conns.append(c)
            threading.Thread(target=self._session, args=(c,), daemon=True).start()

    def _session(self, c):
        try:
            c.settimeout(30)
            h = P.recv_frame(c)
            if h.get("t") != P.HELLO:
                return
            self.seen_tokens.add(h.get("token"))
            if self.token is not None and h.get("token") != self.token:
                self.stats["auth_failures"] += 1
                c.sendall(P.encode({"t": P.ERROR, "msg": "authentication failed"}))
                return
            with self.lock:
                self.stats["sessions"] += 1
            c.sendall(P.encode({"t": P.WELCOME, "v": 1, "server": "fake"}))
            with self.lock:
                junk = self.garbage.pop(0) if self.garbage else None
            if junk is not None:
                c.sendall(junk)
            while self.stall and not self.stopping:
                time.sleep(0.05)
            while True:
                b = P.recv_frame(c)
                if b.get("t") != P.BATCH:
                    return
                if self.ack_delay:
                    time.sleep(self.ack_delay)
                with self.lock:
                    if self.refuse:
                        return
                    self.stats["batches"] += 1
                    if self.retry_next > 0:
                        self.retry_next -= 1
                        self.stats["retry"] += 1
                        st, rf = P.RETRY, 0
                    else:
                        st, rf = self._apply(b)
                        self.stats[{P.APPLIED: "applied", P.DUPLICATE: "duplicate",
                                    P.GAP: "gap", P.REJECTED: "rejected"}[st]] += 1
                    ack = {"t": P.ACK, "epoch": b["epoch"], "seq": b["seq"], "status": st}
                    if st == P.GAP:
                        ack["resend_from"] = rf
                    if st == P.REJECTED:
                        ack["reason"], ack["mark"] = P.REJECT_STALE_EPOCH, rf
                    drop = False
                    if self.drop_after is not None:
                        self.drop_after -= 1
                        if self.drop_after <= 0:
                            self.drop_after = None
                            drop = True
                if drop:
                    return  # applied but never acknowledged: the agent resends, we dedup
                c.sendall(P.encode(ack))
        except (OSError, ConnectionError, ValueError, struct.error):
            pass
        finally:
            with self.lock:
                if c in self.conns:
                    self.conns.remove(c)
            try:
                c.close()
            except OSError:
                pass
