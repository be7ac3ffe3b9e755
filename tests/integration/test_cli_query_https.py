"""`slitail query` against an aggregator serving its API over https with a bearer token
(aggregator.http_tls, aggregator.api_token_file), certificates made at test time by the
openssl CLI: --ca-file and --token-file get the answer; without them, or with the wrong ones,
it fails with a clear message and exit status 1, and never prints the token."""
import json
import subprocess

from certs import CA
from slt_aggr import Aggregator
from slt_harness import Redis, TempDir, TestCase, binary, check_equal, wait_for

API_TOKEN = "api-t0ken-xyz"


def query(*args):
    return subprocess.run([binary("slitail"), "query"] + list(args), capture_output=True,
                          text=True, timeout=60)


class QueryHttps(TestCase):
    def it_queries_an_https_api_with_a_ca_file_and_a_token_file(self):
        tmp = TempDir("slt-query-https-")
        redis = Redis(tmp)
        agg = None
        try:
            ca, other = CA(tmp, "ca"), CA(tmp, "other")
            cert, key = ca.issue("aggregator", dns=["localhost"], ips=["127.0.0.1"])
            tok = tmp.write("api.token", API_TOKEN + "\n")
            bad = tmp.write("bad.token", "nope\n")
            agg = Aggregator(tmp, redis.url, extra=(
                f"  api_token_file: {tok}\n"
                f"  http_tls: {{cert_file: {cert}, key_file: {key}}}\n"))
            base = f"https://127.0.0.1:{agg.http_port}"
            wait_for(lambda: query("--server", base, "--ca-file", ca.pem, "--token-file", tok,
                                   "slis").returncode == 0, timeout=15, what="the API over https")

            r = query("--server", base, "--ca-file", ca.pem, "--token-file", tok, "--json", "slis")
            check_equal(r.returncode, 0, f"exit ({r.stderr})")
            json.loads(r.stdout)

            r = query("--server", base, "--token-file", tok, "slis")  # system CAs only
            check_equal(r.returncode, 1, "exit without --ca-file")
            if "certificate" not in r.stderr:
                raise AssertionError("no reason given: " + r.stderr)
            r = query("--server", base, "--ca-file", other.pem, "--token-file", tok, "slis")
            check_equal(r.returncode, 1, "exit with the wrong CA")

            r = query("--server", base, "--ca-file", ca.pem, "slis")
            check_equal(r.returncode, 1, "exit without a token")
            if "401" not in r.stderr:
                raise AssertionError("no 401 reported: " + r.stderr)
            r = query("--server", base, "--ca-file", ca.pem, "--token-file", bad, "slis")
            check_equal(r.returncode, 1, "exit with a wrong token")
            if "401" not in r.stderr or "nope" in r.stderr:
                raise AssertionError("wrong token: " + r.stderr)
            r = query("--server", base, "--ca-file", ca.pem, "--token-file",
                      tmp.join("missing"), "slis")
            check_equal(r.returncode, 1, "exit with a missing token file")
            if "cannot read --token-file" not in r.stderr:
                raise AssertionError(r.stderr)

            r = query("--server", f"http://127.0.0.1:{agg.http_port}", "--token-file", tok,
                      "slis")  # plain HTTP to a TLS listener
            check_equal(r.returncode, 1, "exit for http:// to https")
            r = query("--server", "ftp://127.0.0.1:1", "slis")
            check_equal(r.returncode, 2, "exit for a bad --server")
            for out in (r.stdout, r.stderr, agg.log()):
                if API_TOKEN in out:
                    raise AssertionError("the token was printed")
        finally:
            if agg:
                agg.term()
            redis.stop()
            tmp.cleanup()


if __name__ == "__main__":
    QueryHttps().run_all()
