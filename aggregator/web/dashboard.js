'use strict';
/* The SLO dashboard: one card per SLO, worst budget first (GET /api/v1/slos), its two charts
 * from GET /api/v1/slos/{name}/series, and the SLI totals (GET /api/v1/slis/.../counts). */
const $ = id => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function pct(r, digits) {
  return r === null || r === undefined ? '\u2013' : (100 * r).toFixed(digits) + '%';
}

function burn(x) {
  return x === null || x === undefined ? '\u2013' : x.toFixed(2) + 'x';
}

function dur(s) {
  if (s % 86400 === 0) return s / 86400 + 'd';
  if (s % 3600 === 0) return s / 3600 + 'h';
  return Math.round(s / 60) + 'm';
}

function utc(t) {
  return new Date(t * 1000).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

async function getJSON(u) {
  const r = await fetch(u);
  const j = await r.json();
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}

function row(cells, tag) {
  const tr = el('tr');
  for (const c of cells) {
    if (c instanceof Node) tr.appendChild(c);
    else tr.appendChild(el(tag || 'td', c));
  }
  return tr;
}

function table(head, rows) {
  const wrap = el('div', undefined, 'scroll');
  const t = el('table');
  t.appendChild(row(head, 'th'));
  for (const r of rows) t.appendChild(r);
  wrap.appendChild(t);
  return wrap;
}

function card(o) {
  const c = el('section', undefined, 'slo');
  c.dataset.slo = o.name;
  c.dataset.status = o.budget_status;
  const top = el('div', undefined, 'top');
  const head = el('div');
  head.appendChild(el('h2', o.name));
  head.appendChild(el('div', 'SLI ' + o.sli + ' \u00b7 objective ' + o.objective + '% over ' +
                      dur(o.window_seconds), 'muted'));
  top.appendChild(head);
  const b = el('div');
  const big = el('div', pct(o.error_budget_remaining, 1), 'budget ' + o.budget_status);
  big.dataset.value = String(o.error_budget_remaining);
  b.appendChild(big);
  b.appendChild(el('div', 'error budget left \u00b7 ' + o.budget_status, 'status ' + o.budget_status));
  top.appendChild(b);
  const att = el('div', undefined, 'attainment');
  att.textContent = o.attainment === null
      ? 'attainment: no data (' + (o.attainment_reason || 'no events') + ')'
      : 'attainment ' + pct(o.attainment, 3) + ' (' + o.good + ' good, ' + o.bad + ' bad)';
  top.appendChild(att);
  c.appendChild(top);
  if (o.partial) {
    const cov = o.coverage || {};
    c.appendChild(el('div', cov.first
        ? 'Partial window: data since ' + utc(cov.first) + ' covers ' + pct(cov.fraction, 0) +
          ' of the ' + dur(o.window_seconds) + ' window; the budget assumes nothing before it.'
        : 'Partial window: no data in the ' + dur(o.window_seconds) + ' window yet.', 'note partial'));
  }
  const wins = Object.keys(o.burn_rates);
  c.appendChild(table(['burn rate'].concat(wins),
                      [row(['now'].concat(wins.map(w => burn(o.burn_rates[w]))))]));
  const tiers = o.alerts.map(a => {
    const state = !a.reachable ? 'unreachable' : a.firing
        ? 'firing' + (a.since ? ' since ' + utc(a.since).slice(11) : '') : 'ok';
    const tr = row([a.name, a.severity, a.windows, burn(a.long_burn), burn(a.short_burn),
                    burn(a.threshold)]);
    const td = el('td', state, a.firing ? 'firing' : '');
    tr.appendChild(td);
    tr.dataset.tier = a.name;
    return tr;
  });
  c.appendChild(table(['tier', 'severity', 'windows', 'long', 'short', 'fires at', 'state'],
                      tiers));
  const charts = el('div', undefined, 'charts');
  for (const [k, title] of [['sli', 'SLI against the objective'],
                            ['burndown', 'Error budget left (burn-down)']]) {
    const box = el('div', undefined, 'chart ' + k);
    box.appendChild(el('h3', title));
    charts.appendChild(box);
  }
  c.appendChild(charts);
  return c;
}

function stepFor(win) {
  return win <= 2 * 86400 ? 900 : win <= 60 * 86400 ? 3600 : 86400;
}

async function charts(o, c) {
  const step = stepFor(o.window_seconds);
  const to = Math.ceil(Date.now() / 1000 / step) * step, from = to - o.window_seconds;
  let s;
  try {
    s = await getJSON('api/v1/slos/' + encodeURIComponent(o.name) + '/series?from=' + from +
                      '&to=' + to + '&step=' + step);
  } catch (e) {
    c.querySelector('.charts').appendChild(el('div', 'no series: ' + e.message, 'muted'));
    return;
  }
  const xs = s.series.map(p => p.to);
  const v = (p, k) => p[k] === null || p[k] === undefined ? null : 100 * p[k];
  const sli = s.series.map(p => v(p, 'sli')), roll = s.series.map(p => v(p, 'attainment'));
  const obj = s.series.map(() => o.objective);
  const left = s.series.map(p => v(p, 'error_budget_remaining'));
  const box1 = c.querySelector('.chart.sli'), box2 = c.querySelector('.chart.burndown');
  const width = Math.max(240, Math.min(520, Math.floor(box1.getBoundingClientRect().width) - 4));
  const lo = Math.min(o.objective - (100 - o.objective), ...sli.filter(x => x !== null));
  new uPlot({width, height: 180, scales: {y: {range: [Math.max(0, lo), 100]}},
             series: [{}, {label: 'SLI', stroke: '#1565c0', width: 1},
                      {label: 'rolling', stroke: '#6a1b9a', width: 1.5},
                      {label: 'objective', stroke: '#c62828', dash: [6, 4], width: 1}],
             axes: [{}, {size: 56, values: (u, vals) => vals.map(x => x + '%')}]},
            [xs, sli, roll, obj], box1);
  new uPlot({width, height: 180,
             series: [{}, {label: 'budget left', stroke: '#2e7d32', width: 1.5,
                           fill: 'rgba(46,125,50,.08)'}],
             axes: [{}, {size: 56, values: (u, vals) => vals.map(x => x + '%')}]},
            [xs, left], box2);
}

async function slis() {
  const [len, step] = $('win').value.split(',').map(Number);
  const list = await getJSON('api/v1/slis');
  const to = Math.ceil(Date.now() / 1000 / step) * step, from = to - len;
  const rows = $('rows');
  rows.replaceChildren();
  for (const s of list.slis) {
    const tr = el('tr');
    tr.appendChild(el('td', s.name));
    rows.appendChild(tr);
    try {
      const c = await getJSON('api/v1/slis/' + encodeURIComponent(s.name) + '/counts?from=' +
                              from + '&to=' + to);
      tr.appendChild(el('td', pct(c.ratio, 3)));
      tr.appendChild(el('td', String(c.good)));
      tr.appendChild(el('td', String(c.bad)));
      tr.appendChild(el('td', String(c.excluded)));
    } catch (e) {
      tr.appendChild(el('td', 'error: ' + e.message));
    }
  }
}

async function load() {
  const status = $('status');
  try {
    const j = await getJSON('api/v1/slos');
    /* worst first: the SLO with the least budget left leads */
    const slos = j.slos.slice().sort((a, b) => a.error_budget_remaining - b.error_budget_remaining);
    const box = $('slos');
    box.replaceChildren();
    if (!slos.length) box.appendChild(el('p', 'No SLOs in the config.', 'muted'));
    const cards = slos.map(o => box.appendChild(card(o)));
    await Promise.all(slos.map((o, i) => charts(o, cards[i])));
    await slis();
    status.textContent = 'updated ' + utc(Math.floor(Date.now() / 1000));
    document.body.dataset.loaded = '1';
  } catch (e) {
    status.textContent = 'error: ' + e.message;
  }
}

$('win').addEventListener('change', () => slis().catch(() => {}));
load();
setInterval(load, 60000);
