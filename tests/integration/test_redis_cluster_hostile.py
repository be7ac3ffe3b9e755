"""A cluster node that lies about the slot map: hostile CLUSTER SLOTS replies (overlapping
ranges, a slot past 16383, start after end, port 0, a host with a space, 129 masters) are
refused whole (docs/REDIS.md "Redis Cluster"): counted in /metrics, logged once a minute, no
node learned from them, the aggregator alive; the first honest map is taken and batches apply.

The node is a real redis-server behind a small RESP proxy that answers CLUSTER SLOTS itself
and passes every other command through, one at a time."""
import socket
import threading

import slt_harness as h
import slt_proto as p
from slt_aggr import TOKEN, Aggregator, metric, minute_now, redis_hash
from slt_aggr import http_get as get


def node(host, port):
    return b"*2\r\n$%d\r\n%s\r\n:%d\r\n" % (len(host), host, port)


def ranges(*entries):
    """entries: (start, end, master bytes)."""
    out = b"*%d\r\n" % len(entries)
    for a, b, m in entries:
        out += b"*3\r\n:%d\r\n:%d\r\n" % (a, b) + m
    return out


def read_resp(f):
    """One RESP value from f, as the raw bytes and the value (arrays as lists, bulk as bytes)."""
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise EOFError
    kind, rest = line[:1], line[1:-2]
    if kind in (b"+", b"-", b":"):
        return line, rest
    n = int(rest)
    if kind == b"$":
        data = f.read(n + 2) if n >= 0 else b""
        return line + data, data[:-2] if n >= 0 else None
    if kind == b"*":
        raw, items = line, []
        for _ in range(max(n, 0)):
            r, v = read_resp(f)
            raw += r
            items.append(v)
        return raw, items
    raise EOFError


class SlotsLiar:
    """Listens on a free port; CLUSTER SLOTS gets the next of lies, then the honest map."""

    def __init__(self, upstream_port, lies, honest):
        self.upstream_port = upstream_port
        self.lies = list(lies)
        self.honest = honest
        self.asked = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def answer(self):
        with self.lock:
            self.asked += 1
            return self.lies.pop(0) if self.lies else self.honest

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        up = socket.create_connection(("127.0.0.1", self.upstream_port))
        cf, uf = c.makefile("rb"), up.makefile("rb")
        try:
            while True:
                raw, cmd = read_resp(cf)
                if isinstance(cmd, list) and [x.upper() for x in cmd[:2]] == [b"CLUSTER", b"SLOTS"]:
                    c.sendall(self.answer())
                    continue
                up.sendall(raw)
                c.sendall(read_resp(uf)[0])
        except (EOFError, OSError, ValueError):
            pass
        finally:
            c.close()
            up.close()

    def stop(self):
        self.sock.close()


class RedisClusterHostile(h.TestCase):
    def it_refuses_lying_slot_maps_and_takes_the_honest_one(self):
        tmp = h.TempDir()
        redis = h.Redis(tmp)
        liar = agg = None
        try:
            liar = SlotsLiar(redis.port, [], b"")
            me = node(b"127.0.0.1", liar.port)
            other = node(b"127.0.0.2", 7001)
            lies = [
                ranges((0, 10, me), (10, 16383, other)),  # slot 10 twice
                ranges((0, 16384, me)),  # past the last slot
                ranges((11, 10, me), (0, 9, me)),  # start after end
                ranges((0, 16383, node(b"127.0.0.1", 0))),  # port 0
                ranges((0, 16383, node(b"evil host", 7000))),  # not a host name
                ranges(*[(i, i, node(b"10.9.0.1", 7000 + i)) for i in range(129)]),
            ]
            liar.lies = list(lies)
            liar.honest = ranges((0, 16383, me))
            agg = Aggregator(tmp, None, extra=f"  redis_cluster: ['127.0.0.1:{liar.port}']\n"
                                              "  redis_timeout: 1s\n")
            h.wait_for(lambda: "cluster slot map complete" in agg.log(), timeout=20,
                       what="the honest slot map taken")
            h.wait_for(lambda: get(agg.http_port, "/readyz")[0] == 200, timeout=15,
                       what="/readyz 200")
            refused = metric(agg.http_port,
                             "slitail_aggregator_redis_cluster_slot_maps_refused_total")
            h.check_equal(refused, float(len(lies)), "slot maps refused")
            log = agg.log()
            h.check_equal(log.count("CLUSTER SLOTS reply of"), 1, "refusals logged (once a minute)")
            if "slot 10 is in an earlier range" not in log:
                raise AssertionError("the first refusal does not say why:\n" + log[-2000:])
            for learned in ("127.0.0.2", "10.9.0.1", "evil"):
                if learned in log:
                    raise AssertionError(f"a node of a refused map was learned ({learned}):\n"
                                         + log[-2000:])
            # the honest map routes: a batch applies on the one node
            c = p.ProtoClient("127.0.0.1", agg.port, TOKEN, "liar-test", 3)
            w = c.hello()
            h.check_equal(w.get("t"), p.WELCOME, "hello answered")
            m = minute_now()
            c.send_batch(1, [p.series("checkout", [(m, 7, 2, 0)])])
            h.check_equal(c.recv_ack()["status"], p.APPLIED, "batch status")
            c.close()
            tot = redis_hash(redis, "slt:{s:checkout}:tot")
            h.check_equal((tot.get("g"), tot.get("b")), (7, 2), "tot good, bad")
            if not agg.proc.alive():
                raise AssertionError("aggregator died")
        finally:
            if agg:
                agg.term()
            if liar:
                liar.stop()
            redis.stop()
            tmp.cleanup()


if __name__ == "__main__":
    RedisClusterHostile().run_all()
