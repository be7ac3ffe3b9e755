"""The dashboard page's script runs against a real aggregator: it lists every SLI with its
ratio and a sparkline, and the SLO table, without throwing. Needs node (skipped without it);
the DOM is a small stub, the fetches are real."""
import json
import re
import shutil
import subprocess

from api_common import setup
from slt_harness import TestCase, check_equal

RUNNER = r"""
const [base, file] = process.argv.slice(2);
const src = require('fs').readFileSync(file, 'utf8');
function mk(tag) {
  return {tag, children: [], attrs: {}, textContent: '', className: '', value: '86400,1800',
          appendChild(c) { this.children.push(c); return c; },
          replaceChildren() { this.children = []; },
          setAttribute(k, v) { this.attrs[k] = v; }, addEventListener() {}};
}
const els = {};
global.document = {getElementById: id => els[id] || (els[id] = mk(id)),
                   createElement: mk, createElementNS: (ns, t) => mk(t)};
const realFetch = fetch;
global.fetch = u => realFetch(base + '/' + u);
global.setInterval = () => 0;
eval(src);
setTimeout(() => {
  const text = e => e.textContent;
  const rows = els.rows.children.map(tr => tr.children.map(td =>
      td.children.length ? 'svg:' + (td.children[0].children.length ? 'path' : 'empty')
                         : text(td)));
  const slos = els.slos.children.length
      ? els.slos.children[0].children.map(tr => tr.children.map(text)) : [];
  console.log(JSON.stringify({status: els.status.textContent, rows, slos}));
}, 2000);
"""


class ApiDashboard(TestCase):
    def __init__(self):
        self.tmp, self.redis, self.seed, self.agg = setup()

    def it_dashboard_script_renders_every_sli_and_slo(self):
        node = shutil.which("node") or shutil.which("nodejs")
        if not node:
            print("skip: no node to run the dashboard's script")
            return
        page = self.agg.get("/")[2].decode()
        script = re.search(r"<script>(.*)</script>", page, re.S).group(1)
        js = self.tmp.write("page.js", script)
        runner = self.tmp.write("runner.js", RUNNER)
        r = subprocess.run([node, runner, self.agg.base, js], capture_output=True, text=True,
                           timeout=30)
        check_equal(r.returncode, 0, f"node exit ({r.stderr})")
        out = json.loads(r.stdout)
        assert out["status"].startswith("updated"), out["status"]
        rows = {row[0]: row for row in out["rows"]}
        check_equal(sorted(rows), sorted(["checkout", 'we"ird\\na\nme']), "rows")
        c = rows["checkout"]
        assert c[1].endswith("%"), c
        check_equal(c[-1], "svg:path", "sparkline")
        check_equal([s[0] for s in out["slos"]], ["SLO", "checkout-99.9", "checkout-90"], "SLO table")


if __name__ == "__main__":
    t = ApiDashboard()
    try:
        t.run_all()
    finally:
        t.agg.stop()
        t.redis.stop()
        t.tmp.cleanup()
