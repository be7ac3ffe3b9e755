"""The Redis link through stunnel, as docs/SECURITY.md shows it: the aggregator talks plain Redis
to a client-side stunnel on loopback, which speaks TLS (verifying the server's certificate and
name) to a server-side stunnel in front of redis-server. A batch goes through and lands in
Redis; a tunnel whose certificate does not verify passes nothing."""
import shutil

import certs
import slt_harness as h
import slt_proto as p
from slt_aggr import Aggregator, minute_now

CLIENT_CONF = """foreground = yes
pid =
[redis]
client = yes
accept = 127.0.0.1:{accept}
connect = 127.0.0.1:{connect}
verifyChain = yes
CAfile = {ca}
checkHost = {host}
"""

SERVER_CONF = """foreground = yes
pid =
[redis-tls]
accept = 127.0.0.1:{accept}
connect = 127.0.0.1:{redis}
cert = {cert}
key = {key}
"""


class RedisStunnel(h.TestCase):
    def it_carries_the_redis_link_over_stunnel(self):
        stunnel = shutil.which("stunnel4") or shutil.which("stunnel")
        if not stunnel:
            print("skip: no stunnel")
            return
        tmp = h.TempDir("slt-stunnel-")
        redis = h.Redis(tmp)
        procs = []
        try:
            ca = certs.CA(tmp)
            cert, key = ca.issue("redis.test", dns=["redis.test"])
            tls_port, plain_port = h.free_port(), h.free_port()
            srv = tmp.write("server.conf", SERVER_CONF.format(
                accept=tls_port, redis=redis.port, cert=cert, key=key))
            cli = tmp.write("client.conf", CLIENT_CONF.format(
                accept=plain_port, connect=tls_port, ca=ca.pem, host="redis.test"))
            procs.append(h.Proc([stunnel, srv], tmp.join("stunnel-server.log")))
            procs.append(h.Proc([stunnel, cli], tmp.join("stunnel-client.log")))
            h.wait_port(tls_port)
            h.wait_port(plain_port)
            aggr = Aggregator(tmp, "redis://127.0.0.1:%d/0" % plain_port)
            aggr.wait_redis()
            c = p.ProtoClient("127.0.0.1", aggr.port, aggr_token(aggr), "tunnel", 1)
            h.check_equal(c.hello()["t"], p.WELCOME, "hello")
            c.send_batch(1, [p.series("tunnelled", [(minute_now(), 7, 0, 0)])])
            h.check_equal(c.recv_ack()["status"], p.APPLIED, "batch through the tunnel")
            c.close()
            h.check_equal(redis.cli("HGET", "slt:{s:tunnelled}:tot", "g"), "7", "count in Redis")
            h.check_equal(aggr.term(), 0, "exit status")
            # a client tunnel that expects another name passes nothing
            bad_port = h.free_port()
            bad = tmp.write("bad.conf", CLIENT_CONF.format(
                accept=bad_port, connect=tls_port, ca=ca.pem, host="other.test"))
            procs.append(h.Proc([stunnel, bad], tmp.join("stunnel-bad.log")))
            h.wait_port(bad_port)
            r = h.run(["redis-cli", "-p", str(bad_port), "PING"], timeout=10)
            if "PONG" in r.stdout:
                raise AssertionError("a tunnel with the wrong name passed traffic")
        finally:
            for pr in procs:
                pr.kill9()
            redis.stop()
            tmp.cleanup()


def aggr_token(aggr):
    with open(aggr.token_path) as f:
        return f.read().strip()


if __name__ == "__main__":
    RedisStunnel().run_all()
