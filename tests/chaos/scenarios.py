"""The chaos scenarios. Each builds an Env (chaoslib), injects its faults while the log writer
writes, then waits until the aggregator's API equals the writer's truth and returns its
figures. `xfail` names the issue item whose fix the scenario waits for: it must not turn CI
red while that item is open, and is reported XPASS once it passes (then remove the mark)."""
import os
import random
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import slt_harness as H
import slt_proto as P
from chaoslib import LAST, Env, ScenarioFailed, TOKEN, XFAIL_WAIT, scale  # noqa

SCENARIOS = []
SANITIZED = "asan" in os.path.abspath(H.BIN) or os.environ.get("CHAOS_SANITIZED") == "1"


def scenario(name, xfail=None, doc=""):
    def reg(fn):
        SCENARIOS.append({"name": name, "fn": fn, "xfail": xfail, "doc": doc or fn.__doc__})
        return fn
    return reg


def rng_for(name):
    seed = int(os.environ.get("CHAOS_SEED", "0")) or int(time.time())
    return random.Random("%s-%d" % (name, seed)), seed


AGENT_RSS_LIMIT_MIB = 10.0


def check_agent_rss(env, figs):
    """The agent's bound during a stall (issue 11); not with sanitizers (shadow memory)."""
    if not SANITIZED and figs["rss_agent_mib"] > AGENT_RSS_LIMIT_MIB:
        raise ScenarioFailed("agent peak RSS %.1f MiB > %.0f MiB"
                             % (figs["rss_agent_mib"], AGENT_RSS_LIMIT_MIB))


# ---- kill -9 storms --------------------------------------------------------------------------

def storm(name, chaos_of, seconds, every, **traffic_kw):
    """Writes for `seconds` while chaos_of(env, rng)(i) injects a fault every `every` =
    (lo, hi) seconds, drawn afresh each time; then waits until exact."""
    env = Env(name)
    try:
        env.start()
        rng, _ = rng_for(name)
        env.traffic(seconds, chaos=chaos_of(env, rng),
                    chaos_every=lambda: rng.uniform(*every), **traffic_kw)
        return env.figures(env.drain())
    finally:
        env.close()


@scenario("agent_kill9_storm")
def agent_kill9_storm():
    """kill -9 the agent at random moments (0.3-1.5 s apart) while the log grows and rotates."""
    def chaos_of(env, rng):
        def chaos(_i):
            time.sleep(rng.uniform(0, 0.5))
            env.kill_agent()
            env.start_agent()
        return chaos
    return storm("agent-kill9", chaos_of, scale(60, 9), (0.3, 1.0))


@scenario("copytruncate_kill9")
def copytruncate_kill9():
    """copytruncate rotation every 2-3 s (the writer is quiet between copy and truncate, as
    the README requires for exactness) while the agent is killed -9 every 1-2 s."""
    def chaos_of(env, rng):
        state = {"next": time.time() + rng.uniform(2, 3)}

        def chaos(_i):
            if time.time() >= state["next"]:
                env.writer.rotate_copytruncate()
                state["next"] = time.time() + rng.uniform(2, 3)
            env.kill_agent()
            env.start_agent()
        return chaos
    return storm("copytruncate", chaos_of, scale(60, 10), (1.0, 2.0), rotate_every=0)


@scenario("aggregator_kill9_storm")
def aggregator_kill9_storm():
    """kill -9 the aggregator every 1-3 s, restarted after 0-1 s, while the agent ships."""
    def chaos_of(env, rng):
        def chaos(_i):
            env.kill_aggr()
            time.sleep(rng.uniform(0, 1.0))
            env.start_aggr(wait_redis=False)
        return chaos
    return storm("aggr-kill9", chaos_of, scale(60, 9), (1.0, 3.0))


@scenario("redis_kill9_storm")
def redis_kill9_storm():
    """kill -9 redis-server (no persistence: it comes back empty) every 2-4 s; the agents refill
    it from their spools (GAP, resend)."""
    def chaos_of(env, rng):
        def chaos(_i):
            env.kill_redis()
            time.sleep(rng.uniform(0.1, 1.0))
            env.redis.start()
        return chaos
    return storm("redis-kill9", chaos_of, scale(60, 9), (2.0, 4.0))


@scenario("kill9_everything")
def kill9_everything():
    """kill -9 a random one of agent, aggregator and redis-server every 1-2 s, each restarted
    after 0-0.5 s, while the log grows and rotates."""
    def chaos_of(env, rng):
        kill = {"agent": env.kill_agent, "aggr": env.kill_aggr, "redis": env.kill_redis}
        start = {"agent": env.start_agent, "aggr": lambda: env.start_aggr(wait_redis=False),
                 "redis": env.redis.start}

        def chaos(_i):
            who = rng.choice(sorted(kill))
            kill[who]()
            time.sleep(rng.uniform(0, 0.5))
            start[who]()
        return chaos
    return storm("kill9-all", chaos_of, scale(90, 12), (1.0, 2.0))


@scenario("redis_sigstop")
def redis_sigstop():
    """SIGSTOP redis-server for 30 s (4 s short) twice, SIGCONT in between: a Redis that hangs
    instead of dying (applies time out after redis_timeout, RETRY, reconnect)."""
    env = Env("redis-stop")
    try:
        env.start()
        for _ in range(2):
            env.traffic(2)
            os.kill(env.redis.proc.p.pid, signal.SIGSTOP)
            env.faults += 1
            try:
                env.traffic(scale(30, 4))
            finally:
                os.kill(env.redis.proc.p.pid, signal.SIGCONT)
        env.traffic(2)
        return env.figures(env.drain())
    finally:
        env.close()


@scenario("sighup_storm")
def sighup_storm():
    """SIGHUP (config reload) to the agent and the aggregator every 0.2-0.6 s while the log
    grows and rotates."""
    env = Env("sighup")
    try:
        env.start()
        env.agent.wait_started()
        rng, _ = rng_for("hup")

        def chaos(_i):
            for p in (env.agent.proc, env.aggr):
                if rng.random() < 0.7 and p.alive():
                    p.p.send_signal(signal.SIGHUP)
                    env.faults += 1
        env.traffic(scale(40, 10), chaos=chaos, chaos_every=lambda: rng.uniform(0.2, 0.6))
        figs = env.figures(env.drain())
        for who, p in (("agent", env.agent.proc), ("aggregator", env.aggr)):
            if not p.alive():
                raise ScenarioFailed("%s died on SIGHUP: %s" % (who, env.tail(p)))
        return figs
    finally:
        env.close()


@scenario("many_agents")
def many_agents():
    """Five agents (five hosts' logs, five ids) through the fault proxy while the aggregator is
    killed every 2-4 s and the proxy resets every connection in between."""
    env = Env("many", proxy_agent=True)
    try:
        others = [env.add_agent("web-%d" % k, seed=100000 * k) for k in range(2, 6)]
        env.start()
        for a in others:
            a.start()
        rng, _ = rng_for("many")

        def chaos(i):
            if i % 2:
                env.proxy_agent.reset()
            else:
                env.kill_aggr()
                time.sleep(rng.uniform(0, 0.5))
                env.start_aggr(wait_redis=False)
        env.traffic(scale(60, 10), lines_per_tick=20, chaos=chaos,
                    chaos_every=lambda: rng.uniform(1.0, 2.0))
        return env.figures(env.drain())
    finally:
        env.close()


# ---- the fault proxy ------------------------------------------------------------------------

def proxy_cycle(env, proxy, rng):
    """One fault per call, in a shuffled cycle: latency, bandwidth cap, tiny segments, resets,
    a cut mid-frame, a short black hole, refused connections, and quiet."""
    modes = ["latency", "bandwidth", "segments", "reset", "cut", "blackhole", "refuse",
             "quiet"]
    state = {"order": []}

    def chaos(_i):
        if not state["order"]:
            state["order"] = modes[:]
            rng.shuffle(state["order"])
        mode = state["order"].pop()
        proxy.clear()
        if mode == "latency":
            proxy.set(latency=rng.choice([0.05, 0.2, 0.5]))
        elif mode == "bandwidth":
            proxy.set(bandwidth=rng.choice([2000, 20000]))
        elif mode == "segments":
            proxy.set(segment=rng.choice([1, 3, 7]))
        elif mode == "reset":
            proxy.reset()
        elif mode == "cut":
            proxy.cut_mid(keep=rng.randint(1, 40))
        elif mode == "blackhole":
            proxy.set(blackhole=True)
        elif mode == "refuse":
            proxy.reset()
            proxy.set(refuse=True)
    return chaos


@scenario("proxy_agent_aggregator")
def proxy_agent_aggregator():
    """The fault proxy between agent and aggregator cycles through latency, a bandwidth cap,
    1-7 byte segments, resets, a cut mid-frame and short black holes, one per 1.5 s."""
    return proxy_faults("agent")


@scenario("proxy_aggregator_redis")
def proxy_aggregator_redis():
    """The same fault cycle between the aggregator and Redis (ingest, API and alert
    connections all pass the proxy)."""
    return proxy_faults("redis")


def proxy_faults(where):
    env = Env("proxy-" + where, proxy_agent=where == "agent", proxy_redis=where == "redis")
    proxy = env.proxy_agent or env.proxy_redis
    try:
        env.start()
        H.wait_for(lambda: env.get("/readyz")[0] == 200, timeout=20, what="ready via proxy")
        rng, _ = rng_for(where)
        env.traffic(scale(60, 10), chaos=proxy_cycle(env, proxy, rng), chaos_every=1.5)
        proxy.clear()
        return env.figures(env.drain())
    finally:
        env.close()


@scenario("blackhole")
def blackhole():
    """A black hole (nothing passes, connections stay open) between agent and aggregator for
    60 s (6 s in the short form), then between aggregator and Redis as long; the agent's RSS
    must stay <= 10 MiB meanwhile."""
    env = Env("blackhole", proxy_agent=True, proxy_redis=True)
    try:
        env.start()
        H.wait_for(lambda: env.get("/readyz")[0] == 200, timeout=20, what="ready via proxy")
        hole = scale(60, 6)
        env.traffic(2)
        env.proxy_agent.set(blackhole=True)
        env.traffic(hole)
        env.proxy_agent.clear()
        env.traffic(2)
        env.proxy_redis.set(blackhole=True)
        env.traffic(hole)
        env.proxy_redis.clear()
        figs = env.figures(env.drain())
        check_agent_rss(env, figs)
        return figs
    finally:
        env.close()


@scenario("aggregator_sigstop")
def aggregator_sigstop():
    """SIGSTOP the aggregator for 60 s (6 s short) with the agent connected and writing,
    then SIGCONT; the agent's RSS stays <= 10 MiB while the peer stalls."""
    env = Env("sigstop")
    try:
        env.start()
        env.traffic(2)
        os.kill(env.aggr.p.pid, signal.SIGSTOP)
        env.faults += 1
        try:
            env.traffic(scale(60, 6))
        finally:
            os.kill(env.aggr.p.pid, signal.SIGCONT)
        figs = env.figures(env.drain())
        check_agent_rss(env, figs)
        return figs
    finally:
        env.close()


# ---- the agent's state -----------------------------------------------------------------------

def _damage_state(state, how, rng):
    spool = os.path.join(state, "spool")
    segs = sorted(os.listdir(spool)) if os.path.isdir(spool) else []
    ck = os.path.join(state, "checkpoint")
    if how == "checkpoint-garbage" and os.path.exists(ck):
        n = os.path.getsize(ck)
        with open(ck, "wb") as f:
            f.write(bytes(rng.getrandbits(8) for _ in range(max(n, 16))))
    elif how == "checkpoint-empty" and os.path.exists(ck):
        open(ck, "wb").close()
    elif how == "checkpoint-truncated" and os.path.exists(ck):
        os.truncate(ck, os.path.getsize(ck) // 2)
    elif how == "spool-tail-torn" and segs:
        # what a crash in the middle of an append leaves: a partial record after the last one
        with open(os.path.join(spool, segs[-1]), "ab") as f:
            f.write(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64))))
    elif how == "spool-segment-empty":
        # a crash right after a new segment was created
        n = int(segs[-1].split(".")[0]) + 1 if segs else 1
        os.makedirs(spool, exist_ok=True)
        open(os.path.join(spool, "%020d.seg" % n), "wb").close()
    elif how == "both-checkpoints-garbage":
        for name in ("checkpoint", "checkpoint.prev"):
            p = os.path.join(state, name)
            if os.path.exists(p):
                with open(p, "wb") as f:
                    f.write(b"\xff" * 64)


@scenario("state_damage")
def state_damage():
    """Kill -9 the agent (idle, or in the middle of traffic), then damage its state_dir the
    ways a crash or a bad disk does: checkpoint garbage, empty, truncated; both checkpoints
    garbage; a torn append (partial record) at the spool's tail; a new empty segment. Restart:
    exact every time. (Cutting a record that was already acknowledged is corruption, not a
    crash: README, Guarantees.)"""
    env = Env("state")
    try:
        env.start()
        rng, _ = rng_for("state")
        hows = ["checkpoint-garbage", "checkpoint-empty", "checkpoint-truncated",
                "spool-tail-torn", "spool-segment-empty", "both-checkpoints-garbage"]
        only = os.environ.get("CHAOS_STATE_DAMAGE")
        if only:
            hows = only.split(",")
        rounds = scale(3, 1)
        done = []
        for r in range(rounds):
            for how in hows:
                env.traffic(scale(2, 1.0), rotate_every=0)
                if r % 2 == 0:
                    try:
                        env.drain()  # idle: every batch acknowledged, checkpoint current
                    except ScenarioFailed as e:
                        raise ScenarioFailed("after %s: %s" % (done[-1] if done else "-", e))
                env.kill_agent()
                _damage_state(env.state_dir, how, rng)
                done.append(how)
                env.start_agent()
        env.traffic(1, rotate_every=0)
        return env.figures(env.drain())
    finally:
        env.close()


@scenario("state_lost")
def state_lost():
    """Lossy by design: the agent's state_dir is deleted while it is down and lines are written
    meanwhile; with read_from: end the new epoch starts at the files' ends, so exactly the
    lines written while it was down are not counted (README, Guarantees). The rest is exact."""
    env = Env("state-lost", read_from="end")
    try:
        env.start()
        env.agent.wait_started()
        env.traffic(2, rotate_every=0)
        env.drain()
        env.kill_agent()
        want_before, lines_before, _ = env.truth()
        before = {k: list(v) for k, v in want_before.items()}
        H.run(["rm", "-rf", env.state_dir])
        env.writer.write(500)
        _, lines_down, _ = env.truth()
        lost_lines = lines_down - lines_before
        lost = {k: list(v) for k, v in env.writer.expected.items()}
        env.start_agent()
        env.agent.wait_started()
        time.sleep(0.5)  # the agent opened the file at its end
        before_new = {k: list(v) for k, v in env.writer.expected.items()}
        lines_mark = env.writer.lines
        env.traffic(scale(10, 3), rotate_every=0)
        want = {}
        for k, v in env.writer.expected.items():
            base = before.get(k, [0, 0, 0])
            new = [v[j] - before_new.get(k, [0, 0, 0])[j] for j in range(3)]
            cell = [base[j] + new[j] for j in range(3)]
            if cell != [0, 0, 0]:
                want[k] = cell
        del lost
        drain = env.drain(want=want, lines=lines_before + env.writer.lines - lines_mark)
        figs = env.figures(drain)
        figs["note"] = "lossy by design: %d lines written while down with state_dir lost" \
            % lost_lines
        figs["lost_by_design"] = lost_lines
        return figs
    finally:
        env.close()


@scenario("disk_full")
def disk_full():
    """state_dir on a 4 MiB tmpfs (root; SKIP otherwise) that a filler file fills but for
    320 KiB; the aggregator goes down, so the spool grows into the full disk (ENOSPC); the
    aggregator comes back and acknowledges everything. With the filler still there the agent
    must prune what was acknowledged and go on by itself, exact; then the filler goes."""
    if os.geteuid() != 0:
        return {"skip": "needs root for a tmpfs state_dir"}
    env = None
    mnt = None
    try:
        import tempfile
        mnt = tempfile.mkdtemp(prefix="slt-chaos-tmpfs-")
        r = H.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt])
        if r.returncode != 0:
            os.rmdir(mnt)
            mnt = None
            return {"skip": "cannot mount a tmpfs: %s" % r.stderr.strip()}
        # 40 more SLIs make every batch (and so the spool) about 40 times bigger
        extra = "".join("  - { name: copy-%d, input: web, bad: { status: 5xx } }\n" % i
                        for i in range(40))
        env = Env("disk-full", state_dir=os.path.join(mnt, "state"), extra_slis=extra,
                  agent_extra="  spool_max: 1MiB\n  spool_retention: 1s\n")
        env.start()
        env.traffic(2, rotate_every=0)
        env.drain()
        filler = os.path.join(mnt, "filler")
        H.run(["dd", "if=/dev/zero", "of=" + filler, "bs=64k"])  # until ENOSPC
        os.truncate(filler, max(0, os.path.getsize(filler) - 320 * 1024))
        env.kill_aggr()
        end = time.time() + scale(60, 40)
        while time.time() < end and "cannot spool" not in env.agent.output():
            env.traffic(1)
        if "cannot spool" not in env.agent.output():
            raise ScenarioFailed("the spool never hit ENOSPC")
        env.faults += 1
        env.traffic(1)
        env.start_aggr()
        env.traffic(scale(10, 3))
        drain = env.drain(timeout=scale(90, 30))
        os.unlink(filler)
        figs = env.figures(drain)
        figs["note"] = "exact with the disk still full; agent spool_errors %s" % (
            (env.agent.status() or {}).get("counters", {}).get("spool_errors", "?"))
        return figs
    finally:
        if env:
            env.close()
        if mnt:
            H.run(["umount", "-l", mnt])
            os.rmdir(mnt)


# ---- the alert receiver ---------------------------------------------------------------------

class Receiver:
    """An Alertmanager/webhook stand-in whose mode is down, slow, 500 or ok."""

    def __init__(self):
        self.port = H.free_port()
        self.mode = "down"
        self.posts = 0
        self.server = None

    def set(self, mode):
        self.mode = mode
        if mode == "down":
            if self.server:
                self.server.shutdown()
                self.server.server_close()
                self.server = None
            return
        if self.server is None:
            outer = self

            class Handler(BaseHTTPRequestHandler):
                def do_POST(self):
                    n = int(self.headers.get("Content-Length", 0))
                    self.rfile.read(n)
                    if outer.mode == "slow":
                        time.sleep(3)
                    code = 500 if outer.mode == "500" else 200
                    if code == 200:
                        outer.posts += 1
                    self.send_response(code)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

                def log_message(self, *a):
                    pass
            self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
            self.server.daemon_threads = True
            threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.set("down")


@scenario("alert_receiver")
def alert_receiver():
    """Fast-burning SLO (the writer's lines end now) with Alertmanager and the webhook down,
    then slow (3 s answers, timeout 1 s), then answering 500, then healthy: ingest stays exact,
    failures are counted, alerts arrive once the receiver is back, no fd leak."""
    recv = Receiver()
    yaml = ("slos:\n  - { name: avail, sli: availability, objective: 99.9, window: 1d }\n"
            "alerting:\n  interval: 1s\n  timeout: 1s\n"
            "  alertmanager: http://127.0.0.1:%d\n  webhook: http://127.0.0.1:%d/hook\n"
            % (recv.port, recv.port))
    # 200 lines/s, 100 per log second: log time runs 2x real time and ends about now
    phase = scale(15, 4)
    env = Env("alerts", extra_yaml=yaml, spread_s=0.01, hours_back=0)
    env.writer.base_t = int(time.time()) - 2 * 4 * phase - 60
    try:
        env.start()
        for mode in ("down", "slow", "500"):
            recv.set(mode)
            env.faults += 1
            env.traffic(phase, lines_per_tick=20, rotate_every=0)
        failed = env.metric_sum(r'^slitail_alert_notifications_total\{.*outcome="failed"')
        recv.set("ok")
        env.traffic(phase, lines_per_tick=20, rotate_every=0)
        drain = env.drain()
        H.wait_for(lambda: recv.posts > 0, timeout=30, what="an alert delivered after recovery")
        figs = env.figures(drain)
        if failed <= 0:
            raise ScenarioFailed("no failed notification counted while the receiver was bad")
        if figs["fds_aggr"] > 64:
            raise ScenarioFailed("aggregator holds %d fds" % figs["fds_aggr"])
        figs["note"] = "notifications failed %d, delivered %d" % (failed, recv.posts)
        return figs
    finally:
        recv.stop()
        env.close()


# ---- hostile frames from an authenticated peer -------------------------------------------------

def hostile_client(env, agent="mallory", epoch=1):
    c = P.ProtoClient("127.0.0.1", env.port, TOKEN, agent, epoch)
    w = c.hello()
    if w.get("t") != P.WELCOME:
        raise ScenarioFailed("hostile peer not welcomed: %r" % (w,))
    return c


def send_hostile(c, seq, series, tries=3):
    """Sends one batch; while it is answered RETRY resends it (as an honest agent would).
    Returns the statuses."""
    out = []
    for _ in range(tries):
        try:
            c.send_batch(seq, series)
            a = c.recv_ack()
        except (OSError, ConnectionError) as e:
            out.append("closed: %s" % e)
            break
        out.append(P.STATUS_NAMES.get(a["status"], a["status"]))
        if a["status"] != P.RETRY:
            break
        time.sleep(0.3)
    return out


def hostile_minutes(n, hours_back=40):
    """n distinct minutes inside minute retention that the writer never uses."""
    base = (int(time.time()) // 3600 - hours_back) * 3600
    return [base + 60 * i for i in range(n)]


def check_not_retry(statuses, what):
    if statuses and statuses[-1] == "retry":
        raise ScenarioFailed("%s answered RETRY forever (%s)" % (what, ",".join(statuses)))


@scenario("hostile_tot_overflow")
def hostile_tot_overflow():
    """An authenticated peer sends one batch of 1025 rows of 2^53 on the honest SLI
    `availability` (its tot would pass 2^63): REJECTED whole, none of its rows written, the
    honest agent keeps being applied exactly, tot equals the truth."""
    env = Env("tot-overflow")
    try:
        env.start()
        env.traffic(2)
        ms = hostile_minutes(1025)
        for m in ms:
            env.hostile_cells[("availability", m)] = True
        c = hostile_client(env)
        rows = [(m, 2 ** 53, 0, 0) for m in ms]
        st = send_hostile(c, 1, [P.series("availability", rows)])
        env.faults += 1
        c.close()
        env.traffic(scale(10, 3))
        drain = env.drain(timeout=scale(90, 30))
        check_not_retry(st, "the overflowing batch")
        want, _, _ = env.truth()
        good = sum(v[0] for (sli, _m), v in want.items() if sli == "availability")
        tot = env.metric('slitail_sli_events_total{sli="availability",result="good"}')
        if int(tot) != good:
            raise ScenarioFailed("tot good %d, truth %d" % (tot, good))
        figs = env.figures(drain)
        figs["note"] = "hostile batch: %s" % ",".join(st)
        return figs
    finally:
        env.close()


@scenario("hostile_row_minutes")
def hostile_row_minutes():
    """Batches whose rows hold a good minute and then a minute near 2^62 or 2^63 (EXPIREAT out
    of range, retention arithmetic overflow) or two days ahead: REJECTED with nothing written,
    aggregator alive, honest agent exact."""
    env = Env("row-minutes")
    try:
        env.start()
        env.traffic(2)
        c = hostile_client(env)
        sts = []
        ms = hostile_minutes(4)
        two_days = (int(time.time()) // 60 + 2 * 1440) * 60
        for seq, (m, far) in enumerate(zip(ms, [2 ** 62, 2 ** 63 - 1, 2 ** 62 + 2 ** 61,
                                                two_days]), start=1):
            env.hostile_cells[("availability", m)] = True
            if far == two_days:
                env.hostile_cells[("availability", far)] = True
            rows = [(m, 5, 1, 0), (far - far % 60, 1, 0, 0)]
            sts.append(send_hostile(c, seq, [P.series("availability", rows)]))
            env.faults += 1
        c.close()
        env.traffic(scale(10, 3))
        drain = env.drain(timeout=scale(90, 30))
        for s in sts:
            check_not_retry(s, "a batch with a far row minute")
        figs = env.figures(drain)
        figs["note"] = "hostile batches: %s" % " ".join(",".join(s) for s in sts)
        return figs
    finally:
        env.close()


@scenario("hostile_epoch_max")
def hostile_epoch_max():
    """A token holder says HELLO as the honest agent's id with epoch 2^53-1 and sends an empty
    batch on every SLI: the honest agent must not have its batches dropped (it recovers, or
    the hostile epoch is refused)."""
    env = Env("epoch-max")
    try:
        env.start()
        env.traffic(2)
        env.drain()
        epoch = 2 ** 53 - 1
        c = hostile_client(env, agent="web-1", epoch=epoch)
        series = [P.series(n, []) for n in ("availability", "latency", "api")]
        series.append(P.series("web", [], kind=P.INPUT))
        st = send_hostile(c, 1, series)
        env.faults += 1
        c.close()
        env.traffic(scale(10, 3))
        drain = env.drain(timeout=scale(90, 30))
        figs = env.figures(drain)
        figs["note"] = "hostile batch: %s" % ",".join(st)
        return figs
    finally:
        env.close()


def documented_default(key):
    """The default of a config key from docs/CONFIG.md (None when not documented)."""
    import re
    try:
        with open(os.path.join(H.SRC, "docs", "CONFIG.md")) as f:
            for line in f:
                m = re.match(r"\| `%s` \| \w+ \| `([^`]*)`" % re.escape(key), line)
                if m:
                    return m.group(1)
    except OSError:
        pass
    return None


# a metric whose name says it counts two live sessions with one agent id
DUP_METRIC = r"(?i)^slitail_\w*(duplicate\w*(agent|session|id)|(agent|session|id)\w*duplicate)\w*"


@scenario("hostile_duplicate_id")
def hostile_duplicate_id():
    """Two real agents on two hosts' logs configured with the same agent id: both counted
    exactly, or one refused in full (not 95% lost); either way /metrics counts the conflict
    (a metric named like slitail_..._duplicate_agent_..., see DUP_METRIC)."""
    env = Env("dup-id")
    try:
        a2 = env.add_agent("web-1", seed=100000)
        w2 = env.writers[1]
        env.start()
        a2.start()
        end = time.time() + scale(30, 8)
        while time.time() < end:
            env.write_all(60)
            time.sleep(0.1)
        env.faults += 1
        env.writers = [env.writer]
        want_a, lines_a, _ = env.truth()
        want_b = {k: list(v) for k, v in w2.expected.items()}
        both = {k: list(v) for k, v in want_a.items()}
        for k, v in want_b.items():
            acc = both.setdefault(k, [0, 0, 0])
            for j in range(3):
                acc[j] += v[j]
        options = [("both", both, lines_a + w2.lines), ("a", want_a, lines_a),
                   ("b", want_b, w2.lines)]
        t0 = time.time()
        timeout = min(scale(90, 30), XFAIL_WAIT["limit"] or 90)
        got = None
        while time.time() - t0 < timeout and got is None:
            for label, want, lines in options:
                d, _ = env.compare(want, lines)
                if d == 0:
                    got = label
                    break
            time.sleep(1)
        if got is None:
            d, detail = env.compare(both, lines_a + w2.lines)
            raise ScenarioFailed("neither both agents nor one in full: difference to both %s"
                                 " (%s)" % (d, detail))
        figs = env.figures(time.time() - t0)
        figs["lines"] = lines_a + w2.lines
        dup = env.metric_sum(DUP_METRIC)
        if dup <= 0:
            raise ScenarioFailed("%s counted, but no metric in /metrics counts two sessions with"
                                 " one agent id" % ("both agents" if got == "both" else
                                                    "one agent"))
        figs["note"] = "%s counted; duplicate-id metric %d" % (
            "both agents" if got == "both" else "agent " + got + " alone", dup)
        return figs
    finally:
        env.close()


@scenario("hostile_series_flood")
def hostile_series_flood():
    """A token holder sends batches of 4096 new series names each (205k names in the full run,
    41k short): /api/v1/slis answers within 1 s, /metrics still lists the honest SLIs, the
    series set stays within the documented max_series, the honest agent stays exact."""
    env = Env("series-flood")
    try:
        env.start()
        env.traffic(1)
        c = hostile_client(env)
        nb = scale(50, 10)
        m = hostile_minutes(1)[0]
        sts = []
        for b in range(nb):
            names = ["flood-%d-%d" % (b, i) for i in range(4096)]
            sts.append(send_hostile(c, b + 1, [P.series(n, [(m, 1, 0, 0)], since=b + 1)
                                                for n in names], tries=1)[-1])
            if sts[-1] not in ("applied", "duplicate"):
                break
        env.faults += 1
        c.close()
        env.traffic(scale(5, 2))
        drain = env.drain(timeout=scale(90, 30))
        t0 = time.time()
        code, _ = env.get("/api/v1/slis", timeout=30)
        slis_s = time.time() - t0
        body = env.get("/metrics", timeout=30)[1]
        missing = [n for n in ("availability", "latency", "api")
                   if 'slitail_sli_events_total{sli="%s"' % n not in body]
        if missing:
            raise ScenarioFailed("/metrics lost the honest SLIs %s" % missing)
        if code != 200 or slis_s > 1.0:
            raise ScenarioFailed("/api/v1/slis answered %s in %.2f s" % (code, slis_s))
        bound = documented_default("max_series")
        scard = int(env.redis.raw("SCARD", "slt:series").strip() or 0)
        if bound is not None and scard > int(bound):
            raise ScenarioFailed("%d series in Redis, max_series %s" % (scard, bound))
        figs = env.figures(drain)
        figs["note"] = "batches %s; series in Redis %d; /slis %.2f s" % (
            ",".join(sorted(set(sts))), scard, slis_s)
        return figs
    finally:
        env.close()


@scenario("hostile_api_overflow")
def hostile_api_overflow():
    """The first /metrics scrape with no series at all, then batches of one row of 2^53 each,
    good and bad in turn on one minute of a peer's own SLI, up to good + bad = 2^63 or until
    refused: counts, /slis, /slos and /metrics answer and the aggregator lives (run against
    build-asan/bin the sanitizers abort on int64 overflow)."""
    env = Env("api-overflow")
    try:
        env.start_aggr()
        code, _ = env.get("/metrics")
        env.faults += 1
        if code != 200:
            raise ScenarioFailed("first /metrics scrape answered %s" % code)
        c = hostile_client(env)
        m = hostile_minutes(1)[0]
        # one row of 2^53 per batch (the largest delta), good and bad in turn, until refused
        st, sent = [], 0
        for seq in range(1, 1025):
            row = (m, 2 ** 53, 0, 0) if seq % 2 else (m, 0, 2 ** 53, 0)
            st = send_hostile(c, seq, [P.series("mallory-sli", [row])], tries=1)
            if st[-1] != "applied":
                break
            sent += 2 ** 53
        env.faults += 1
        c.close()
        for path in ("/api/v1/slis/mallory-sli/counts?from=%d&to=%d" % (m, m + 60),
                     "/api/v1/slis", "/metrics", "/api/v1/slos"):
            code, body = env.get(path)
            if not env.aggr.alive():
                raise ScenarioFailed("aggregator died on %s: %s" % (path, env.tail(env.aggr)))
            if code not in (200, 400, 404, 500):
                raise ScenarioFailed("%s answered %s" % (path, code))
        env.start_agent()
        env.traffic(scale(5, 2))
        figs = env.figures(env.drain())
        figs["note"] = "good + bad of one minute reached 2^%.2f, then %s" % (
            __import__("math").log2(sent) if sent else 0, st[-1])
        return figs
    finally:
        env.close()


class SilentSockets:
    """A slowloris: keeps `n` connections to a loopback port open without sending a byte and
    connects again as soon as the server closes one."""

    def __init__(self, port, n):
        self.port = port
        self.n = n
        self.held = []
        self.connects = 0
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()

    def _run(self):
        import select
        import socket
        while not self.stop_flag.is_set():
            while len(self.held) < self.n and not self.stop_flag.is_set():
                try:
                    self.held.append(socket.create_connection(("127.0.0.1", self.port),
                                                              timeout=2))
                    self.connects += 1
                except OSError:
                    time.sleep(0.05)
                    break
            r = select.select(self.held, [], [], 0.05)[0] if self.held else []
            for c in r:  # closed by the server (a deadline, a cap): connect again at once
                self.held.remove(c)
                c.close()
            if r:
                time.sleep(0.02)

    def stop(self):
        self.stop_flag.set()
        if self.thread.is_alive():
            self.thread.join()
        for c in self.held:
            c.close()
        self.held = []


@scenario("preauth_silent_sockets")
def preauth_silent_sockets():
    """max_agents: 50 and 60 sockets that connect and never say HELLO: the real agent still
    gets in (unauthenticated sockets have their own cap) and is exact; /healthz answers."""
    env = Env("preauth", aggr_extra="  max_agents: 50\n")
    loris = SilentSockets(env.port, 60)
    try:
        env.start_aggr()
        loris.start()
        H.wait_for(lambda: len(loris.held) >= 60, timeout=10, what="60 silent sockets")
        env.start_agent()
        env.traffic(scale(10, 3))
        drain = env.drain(timeout=scale(60, 20))
        if env.get("/healthz")[0] != 200:
            raise ScenarioFailed("/healthz did not answer")
        figs = env.figures(drain)
        figs["faults"] += loris.connects
        return figs
    finally:
        loris.stop()
        env.close()


@scenario("auth_flood")
def auth_flood():
    """A client on 127.0.0.2 tries wrong tokens as fast as it can for 20 s (5 s short) while
    the real agent (127.0.0.1) ships: the agent stays exact, failures are throttled and
    logged once per address per interval (at most 20 log lines)."""
    env = Env("auth-flood")
    try:
        env.start()
        log0 = env.aggr.output().count("\n")
        stop = time.time() + scale(20, 5)
        tries = [0]

        def flood():
            import socket
            while time.time() < stop:
                try:
                    s = socket.socket()
                    s.settimeout(2)
                    s.bind(("127.0.0.2", 0))
                    s.connect(("127.0.0.1", env.port))
                    s.sendall(P.hello("mallory", 1, "wrong-token-%d" % tries[0]))
                    P.recv_frame(s)
                    tries[0] += 1
                except (OSError, ConnectionError, ValueError):
                    pass
                finally:
                    s.close()
        t = threading.Thread(target=flood, daemon=True)
        t.start()
        env.traffic(scale(20, 5))
        t.join()
        env.faults += tries[0]
        drain = env.drain(timeout=scale(60, 20))
        lines = env.aggr.output().count("\n") - log0
        rate = tries[0] / scale(20, 5)
        figs = env.figures(drain)
        figs["note"] = "%d wrong tokens answered (%.0f/s), %d aggregator log lines" % (
            tries[0], rate, lines)
        if lines > 20:
            raise ScenarioFailed(figs["note"] + ": not logged once per address per interval")
        return figs
    finally:
        env.close()


@scenario("http_slowloris_healthz")
def http_slowloris_healthz():
    """300 HTTP connections that never send a request (reconnected as soon as they are
    closed) fill the API's 256 connections and whatever else is open: /healthz and /readyz
    still answer (at least one of 3 probes 1 s apart, 2 s timeout, as an orchestrator does)."""
    env = Env("slowloris")
    loris = SilentSockets(env.http, 300)
    try:
        env.start()
        loris.start()
        H.wait_for(lambda: len(loris.held) >= 300, timeout=20, what="300 silent connections")
        env.faults += 1
        env.traffic(scale(10, 3))
        bad = []
        for path in ("/healthz", "/readyz"):
            # an orchestrator gives up after 3 failed probes in a row
            codes = []
            for _ in range(3):
                codes.append(env.get(path, timeout=2)[0])
                if codes[-1] == 200:
                    break
                time.sleep(1)
            if codes[-1] != 200:
                bad.append("%s failed 3 probes in a row (%s)" % (path, codes))
        loris.stop()
        drain = env.drain()
        if bad:
            raise ScenarioFailed("; ".join(bad))
        return env.figures(drain)
    finally:
        loris.stop()
        env.close()


def _rename_input(config, old, new):
    text = open(config).read()
    text = text.replace("{ name: %s," % old, "{ name: %s," % new)
    text = text.replace("input: %s\n" % old, "input: %s\n" % new)
    with open(config, "w") as f:
        f.write(text)


def input_rename(read_from):
    """The agent is stopped, lines are written, the input is renamed in the config (web ->
    web2) and the agent started again: it counts every line once, or refuses to start naming
    the rename (then the old name is put back and it must be exact)."""
    env = Env("rename-" + read_from, read_from=read_from)
    try:
        env.start()
        env.agent.wait_started()
        env.traffic(3, rotate_every=1.0)
        env.drain()
        env.agent.term()
        env.writer.write(300)
        _rename_input(env.config, "web", "web2")
        env.faults += 1
        env.start_agent()
        note = "positions kept across the rename"
        try:
            H.wait_for(lambda: not env.agent.alive(), timeout=3, what="agent refusal")
            out = env.agent.output()
            if "renam" not in out.lower():
                raise ScenarioFailed("agent exited without naming the rename: %s"
                                     % env.tail(env.agent.proc))
            note = "refused: " + [x for x in out.split("\n") if "renam" in x.lower()][-1][-120:]
            _rename_input(env.config, "web2", "web")
            env.start_agent()
        except TimeoutError:
            pass
        env.traffic(scale(8, 3), rotate_every=1.0)
        figs = env.figures(env.drain(timeout=scale(60, 25)))
        figs["note"] = note
        return figs
    finally:
        env.close()


@scenario("input_rename_beginning")
def input_rename_beginning():
    """input_rename with read_from: beginning (today every file is counted again)."""
    return input_rename("beginning")


@scenario("input_rename_end")
def input_rename_end():
    """input_rename with read_from: end (today the lines written while down are skipped)."""
    return input_rename("end")


@scenario("spool_name_overflow")
def spool_name_overflow():
    """A spool file whose number overflows strtoull (20 nines) appears in state_dir/spool
    while the agent is down: it starts anyway (the file skipped with a clear message) and is
    exact."""
    env = Env("spool-name")
    try:
        env.start()
        env.traffic(2)
        env.kill_agent()
        with open(os.path.join(env.state_dir, "spool", "9" * 20 + ".seg"), "wb") as f:
            f.write(b"\0" * 64)
        env.start_agent()
        env.traffic(scale(5, 2))
        if not env.agent.alive():
            raise ScenarioFailed("agent refused to start: %s" % env.tail(env.agent.proc))
        return env.figures(env.drain(timeout=scale(60, 20)))
    finally:
        env.close()


@scenario("redis_evicting_policy")
def redis_evicting_policy():
    """Redis runs with maxmemory-policy allkeys-lru: the aggregator warns at start (buckets
    could be evicted) naming maxmemory-policy, and still counts exactly."""
    env = Env("evicting")
    try:
        env.redis.cli("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        env.faults += 1
        env.start()
        env.traffic(scale(5, 2))
        figs = env.figures(env.drain())
        if "maxmemory-policy" not in env.aggr.output():
            raise ScenarioFailed("no warning naming maxmemory-policy at start")
        return figs
    finally:
        env.close()
