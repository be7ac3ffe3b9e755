"""A private Redis Cluster on loopback for integration tests: N masters with one replica each
(redis-server --cluster-enabled yes, joined by redis-cli --cluster create), killable nodes,
resharding, and reads that follow the slot map (redis-cli -c)."""
import os
import subprocess
import time

import slt_harness as h


class RedisCluster:
    def __init__(self, tmp, masters=3, replicas=1, node_timeout_ms=1000):
        self.tmp = tmp
        self.nodes = {}  # port -> Proc
        ports = []
        for _ in range(masters * (1 + replicas)):
            port = h.free_port()
            # the cluster bus is port + 10000: it must be free as well
            while port + 10000 > 65535 or not self._free(port + 10000) or port in ports:
                port = h.free_port()
            ports.append(port)
        self.ports = ports
        for port in ports:
            self._start(port, node_timeout_ms)
        r = h.run(["redis-cli", "--cluster", "create"] +
                  [f"127.0.0.1:{p}" for p in ports] +
                  ["--cluster-replicas", str(replicas), "--cluster-yes"])
        if r.returncode != 0:
            raise AssertionError("cluster create failed:\n" + r.stdout + r.stderr)
        self.wait_ok()

    @staticmethod
    def _free(port):
        import socket
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def _start(self, port, node_timeout_ms):
        d = self.tmp.join(f"cluster-{port}")
        os.makedirs(d, exist_ok=True)
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(node_timeout_ms),
                "--cluster-replica-validity-factor", "0",
                "--maxmemory-policy", "noeviction"]
        self.nodes[port] = h.Proc(argv, os.path.join(d, "redis.log"))
        h.wait_port(port)

    def seeds(self):
        return [f"127.0.0.1:{p}" for p in self.ports[:2]]

    def cli(self, port, *args):
        r = h.run(["redis-cli", "-p", str(port), "--raw"] + [str(a) for a in args])
        return r.stdout.strip()

    def alive(self):
        return [p for p in self.ports if self.nodes[p].alive()]

    def info(self, port):
        out = {}
        for line in self.cli(port, "CLUSTER", "INFO").splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                out[k] = v.strip()
        return out

    def masters(self):
        """[(port, node id)] of the masters that own slots, as a live node sees them."""
        out = []
        for line in self.cli(self.alive()[0], "CLUSTER", "NODES").splitlines():
            f = line.split()
            if "master" in f[2] and "fail" not in f[2] and len(f) > 8:
                out.append((int(f[1].split(":")[1].split("@")[0]), f[0]))
        return sorted(out)

    def wait_ok(self, timeout=30):
        def ok():
            for p in self.alive():
                i = self.info(p)
                if i.get("cluster_state") != "ok" or i.get("cluster_slots_assigned") != "16384":
                    return False
            # every live node agrees on the masters
            return len(self.masters()) >= 1
        h.wait_for(ok, timeout=timeout, interval=0.2, what="cluster state ok")

    def kill_master(self, port):
        """SIGKILLs a master and waits until its replica took over its slots."""
        self.nodes[port].kill9()

        def promoted():
            live = self.alive()
            for p in live:
                i = self.info(p)
                if i.get("cluster_state") != "ok":
                    return False
            return all(mp != port for mp, _ in self.masters())
        h.wait_for(promoted, timeout=30, interval=0.2, what="replica promoted")

    def reshard(self, src_id, dst_id, slots):
        r = h.run(["redis-cli", "--cluster", "reshard", f"127.0.0.1:{self.alive()[0]}",
                   "--cluster-from", src_id, "--cluster-to", dst_id,
                   "--cluster-slots", str(slots), "--cluster-yes",
                   "--cluster-pipeline", "20"])
        if r.returncode != 0:
            raise AssertionError("reshard failed:\n" + r.stdout[-2000:] + r.stderr[-2000:])

    def hgetall(self, key):
        """HGETALL following the slot map (redis-cli -c)."""
        r = h.run(["redis-cli", "-c", "-p", str(self.alive()[0]), "--raw", "HGETALL", key])
        out = [x for x in r.stdout.split("\n") if x != ""]
        return {out[i]: int(out[i + 1]) for i in range(0, len(out), 2)}

    def stop(self):
        for proc in self.nodes.values():
            if proc.alive():
                proc.kill9()
