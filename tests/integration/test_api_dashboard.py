"""The dashboard at / in a real headless Chromium (Debian's `chromium`) against an aggregator
holding known data: every SLO card shows the budget left of /api/v1/slos in its status colour,
worst first, its tiers, a partial-window note, and the two uPlot charts drew; at 400 px wide.
The screenshot is kept as an artifact: <build>/artifacts/dashboard-400.png. Skipped when no
chromium is installed."""
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
import urllib.request

from api_common import setup
from slt_harness import BIN, TestCase, check_equal

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
                  "--virtual-time-budget=20000", "--window-size=500,2500"]

# Desktop Chromium lays a page out at least 500 px wide: the dashboard goes in a 400 px iframe
# of this page, served from the same origin (a proxy to the aggregator), which copies the
# frame's DOM and measurements out where --dump-dom sees them.
FRAME = """<!doctype html><html><body style="margin:0">
<iframe id="f" src="/" style="width:400px;height:2400px;border:0"></iframe>
<pre id="out"></pre>
<script>
function poll() {
  const d = document.getElementById('f').contentDocument;
  if (d && d.body && d.body.dataset.loaded === '1') {
    const w = d.defaultView;
    document.getElementById('out').textContent = JSON.stringify(
        {inner: w.innerWidth, scroll: d.documentElement.scrollWidth, html: d.body.innerHTML});
    return;
  }
  setTimeout(poll, 100);
}
poll();
</script></body></html>"""


class Proxy:
    """/frame.html is FRAME; everything else comes from the aggregator."""

    def __init__(self, base):
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/frame.html":
                    body, ctype, code = FRAME.encode(), "text/html", 200
                else:
                    try:
                        with urllib.request.urlopen(base + self.path, timeout=10) as r:
                            body, ctype, code = r.read(), r.headers["Content-Type"], r.status
                    except urllib.error.HTTPError as e:
                        body, ctype, code = e.read(), e.headers["Content-Type"], e.code
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.base = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


class ApiDashboard(TestCase):
    def __init__(self):
        self.tmp, self.redis, self.seed, self.agg = setup()

    def run_chromium(self, *args):
        profile = self.tmp.join("chromium-profile")
        r = subprocess.run([chromium()] + CHROMIUM_FLAGS + ["--user-data-dir=" + profile] +
                           list(args), capture_output=True, text=True, timeout=120)
        return r

    def it_is_self_contained_and_carries_uplot(self):
        code, _, body = self.agg.get("/")
        page = body.decode()
        check_equal(code, 200, "status")
        for bad in ("src=", "<link", "http://", "https://cdn"):
            if bad in page.replace("http://www.w3.org", ""):
                raise AssertionError(f"the page loads something from elsewhere: {bad!r}")
        if "uPlot" not in page or "/api/v1/slos/" not in page:
            raise AssertionError("uPlot or the dashboard script is missing")

    def it_renders_budget_tiers_and_charts_in_chromium(self):
        if not chromium():
            print("skip: no chromium")
            return
        slos = {o["name"]: o for o in self.agg.json("/api/v1/slos")["slos"]}
        proxy = Proxy(self.agg.base)
        try:
            self.check_in_chromium(proxy, slos)
        finally:
            proxy.stop()

    def check_in_chromium(self, proxy, slos):
        r = self.run_chromium("--dump-dom", proxy.base + "/frame.html")
        check_equal(r.returncode, 0, f"chromium exit ({r.stderr[-2000:]})")
        m = re.search(r'<pre id="out">(.*?)</pre>', r.stdout, re.S)
        if not m or not m.group(1):
            raise AssertionError("the page did not finish loading:\n" + r.stdout[-3000:])
        import html as htmlmod
        frame = json.loads(htmlmod.unescape(m.group(1)))
        check_equal(frame["inner"], 400, "frame width")
        # usable at 400 px: nothing wider than the frame (wide tables scroll inside their box)
        check_equal(frame["scroll"], 400, "page width at 400 px")
        dom = frame["html"]
        cards = re.findall(r'<section class="slo" data-slo="([^"]+)" data-status="([^"]+)">(.*?)'
                           r'</section>', dom, re.S)
        check_equal(sorted(c[0] for c in cards), sorted(slos), "one card per SLO")
        # worst budget first
        order = [c[0] for c in cards]
        check_equal(order, sorted(slos, key=lambda n: slos[n]["error_budget_remaining"]),
                    "cards sorted by budget left")
        for name, status, html in cards:
            o = slos[name]
            check_equal(status, o["budget_status"], f"{name} status")
            m = re.search(r'<div class="budget (\w+)" data-value="([^"]+)">([^<]+)</div>', html)
            assert m, html[:2000]
            check_equal(m.group(1), o["budget_status"], f"{name} budget colour class")
            check_equal(m.group(3), "%.1f%%" % (100 * o["error_budget_remaining"]),
                        f"{name} budget left")
            tiers = re.findall(r'data-tier="([^"]+)"', html)
            check_equal(tiers, [a["name"] for a in o["alerts"]], f"{name} tiers")
            if o["partial"] and "Partial window" not in html:
                raise AssertionError(f"{name}: no partial-window note")
            check_equal(len(re.findall(r'class="uplot', html)), 2, f"{name} charts drawn")
            check_equal(len(re.findall(r"<canvas", html)), 2, f"{name} chart canvases")
        rows = re.findall(r'<tr><td>(checkout)</td><td>([^<]+)</td>', dom)
        check_equal(len(rows), 1, "SLI row")
        # the seeded data starts 30 hours ago: the 7-day window is partly covered
        check_equal(slos["checkout-99.9"]["partial"], True, "7d window partial")

        art = os.path.join(os.path.dirname(os.path.abspath(BIN)), "artifacts")
        os.makedirs(art, exist_ok=True)
        shot = os.path.join(art, "dashboard-400.png")
        if os.path.exists(shot):
            os.unlink(shot)
        r = self.run_chromium("--screenshot=" + shot, proxy.base + "/frame.html")
        check_equal(r.returncode, 0, f"chromium screenshot exit ({r.stderr[-2000:]})")
        if not os.path.getsize(shot) > 10000:
            raise AssertionError("screenshot too small")
        with open(shot, "rb") as f:
            head = f.read(24)
        width = int.from_bytes(head[16:20], "big")
        check_equal(width, 500, "screenshot width (the 400 px frame in a 500 px window)")
        print(f"screenshot: {shot}")


if __name__ == "__main__":
    t = ApiDashboard()
    try:
        t.run_all()
    finally:
        t.agg.stop()
        t.redis.stop()
        t.tmp.cleanup()
