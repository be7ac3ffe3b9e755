#!/usr/bin/python3
"""Redis memory per SLI per day of retention and per agent id, for sizing (bench/RESULTS.md).

A private redis-server (7.x, default encodings) gets the keys an apply writes (docs/REDIS.md),
through the real aggregator: one agent ships one day of minutes for SLIS SLIs (every minute
one row with non-zero good/bad/excluded), so Redis holds 1,440 minute buckets, 24 hour buckets,
1-2 day buckets, tot and hwm per SLI. used_memory before and after gives bytes per SLI-day.
Then AGENTS more agent ids ship one batch each on every SLI: the growth is the per-agent cost
(a field in every series' hwm, plus the agent's session lease/epoch keys).

  bench/redis_memory.py [SLIS=200] [AGENTS=2000]     (binaries from $SLT_BIN_DIR or build/bin)
"""
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
os.environ.setdefault("SLT_BIN_DIR", os.path.join(HERE, "..", "build", "bin"))

import slt_harness as h  # noqa: E402
import slt_proto as p  # noqa: E402
from slt_aggr import TOKEN, Aggregator  # noqa: E402


SUM = ("local n = 0 for _, k in ipairs(redis.call('KEYS', '*')) do "
       "n = n + redis.call('MEMORY', 'USAGE', k, 'SAMPLES', 0) end return n")


def info_used(redis):
    for line in redis.raw("INFO", "memory").splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    raise AssertionError("no used_memory")


def used(redis):
    """Bytes of every key as MEMORY USAGE counts them (key, value, encoding and expiry
    overhead), so client buffers and allocator noise do not blur the figure."""
    return int(redis.raw("EVAL", SUM, "0").strip())


def main():
    slis = int(os.environ.get("SLIS", "200"))
    agents = int(os.environ.get("AGENTS", "2000"))
    tmp = h.TempDir("slt-mem-")
    redis = h.Redis(tmp)
    aggr = Aggregator(tmp, redis.url, extra="  minute_retention: 2d\n  max_series: 100000\n")
    aggr.wait_redis()
    rng = random.Random(1)
    names = [f"service-{i:04d}-availability" for i in range(slis)]
    day0 = (int(time.time()) // 86400 - 1) * 86400  # yesterday, all of it
    base, base_info = used(redis), info_used(redis)
    c = p.ProtoClient("127.0.0.1", aggr.port, TOKEN, "host-000000.example.internal", 1)
    c.hello()
    seq = 0
    for start in range(0, 1440, 60):  # one batch per hour of minutes
        seq += 1
        series = []
        for n in names:
            rows = [(day0 + 60 * m, rng.randint(1000, 90000), rng.randint(0, 50),
                     rng.randint(0, 200)) for m in range(start, start + 60)]
            series.append(p.series(n, rows, since=1))
        c.send_batch(seq, series)
        a = c.recv_ack()
        if a["status"] != p.APPLIED:
            raise AssertionError(f"batch {seq}: {a!r}")
    c.close()
    after_day, after_day_info = used(redis), info_used(redis)
    per_sli_day = (after_day - base) / slis
    per_sli_day_info = (after_day_info - base_info) / slis
    nkeys_day = int(redis.raw("DBSIZE").strip())
    # per agent id: one batch on every SLI (rows in minutes already there: no new bucket)
    for i in range(agents):
        c = p.ProtoClient("127.0.0.1", aggr.port, TOKEN, f"host-{i + 1:06d}.example.internal", 1)
        c.hello()
        c.send_batch(1, [p.series(n, [(day0, 1, 0, 0)], since=1) for n in names])
        a = c.recv_ack()
        if a["status"] != p.APPLIED:
            raise AssertionError(f"agent {i}: {a!r}")
        c.close()
    after_agents = used(redis)
    per_agent = (after_agents - after_day) / agents
    per_agent_sli = per_agent / slis
    keys = int(redis.raw("DBSIZE").strip())
    print(f"redis {redis.raw('INFO', 'server').split('redis_version:')[1].split()[0]}, "
          f"{slis} SLIs, 1 day of minutes, {agents} more agent ids; {keys} keys")
    per_key = (after_day - base) / nkeys_day
    per_key_info = (after_day_info - base_info) / nkeys_day
    print(f"per SLI per day of minutes (1,440 minute + 24 hour + day buckets, tot, hwm): "
          f"{per_sli_day / 1024:.1f} KiB by MEMORY USAGE, {per_sli_day_info / 1024:.1f} KiB "
          f"by used_memory (with the keyspace and expiry dicts)")
    print(f"per bucket key: {per_key:.0f} B (MEMORY USAGE), {per_key_info:.0f} B (used_memory)")
    # default retention: 2 days of minutes, 35 of hours, 400 of days
    nb = 2 * 1440 + 35 * 24 + 400
    print(f"per series at the default retention ({nb} bucket keys): "
          f"{nb * per_key_info / 1024 / 1024:.2f} MiB (used_memory)")
    print(f"per agent id: {per_agent:.0f} B ({per_agent_sli:.1f} B per SLI it ships: a field "
          f"in the SLI's hwm; plus its session keys)")
    aggr.term()
    redis.stop()
    tmp.cleanup()


if __name__ == "__main__":
    main()
