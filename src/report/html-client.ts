/**
 * The HTML report's in-page script, as text (it runs in the browser, not in Node). It reads the report data
 * from the page's `<script type="application/json">` block and builds every element with DOM calls:
 * all data goes in through `textContent` and SVG attributes, never through HTML parsing, so hostile model
 * output stays text. Charts are plain SVG. The case list renders one page at a time and builds a case's
 * details only when it is opened, so a 10k-case run stays responsive.
 *
 * Kept free of backticks and `${` (it lives in a template literal) and of the HTML comment and script-end
 * sequences (it is inlined in a <script> element).
 */
export const CLIENT_JS = String.raw`(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var app = document.getElementById('app');
  var PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#be185d', '#4d7c0f', '#7c3aed', '#b45309'];
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var PAGE_SIZE = 50;

  // ---- tiny DOM helpers: text only ------------------------------------------------------------------
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function add(parent, child) {
    parent.appendChild(child);
    return child;
  }
  function svg(tag, attrs, parent) {
    var e = document.createElementNS(SVG_NS, tag);
    for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, String(attrs[k]));
    if (parent) parent.appendChild(e);
    return e;
  }
  function svgText(parent, x, y, text, attrs) {
    var t = svg('text', Object.assign({ x: x, y: y }, attrs || {}), parent);
    t.textContent = text;
    return t;
  }
  function pct(x, digits) {
    return x === null || x === undefined ? '\u2013' : (x * 100).toFixed(digits === undefined ? 1 : digits) + '%';
  }
  function asrCi(r) {
    if (r.attack_success_rate === null) return '\u2013';
    return pct(r.attack_success_rate) + ' [' + (r.ci_low * 100).toFixed(1) + ', ' + (r.ci_high * 100).toFixed(1) + ']';
  }
  function attackName(r) {
    return r.variant && r.variant !== r.attack ? r.attack + '/' + r.variant : r.attack;
  }
  function short(s, n) {
    s = String(s === null || s === undefined ? '' : s).replace(/\s+/g, ' ').trim();
    return s.length > n ? s.slice(0, n - 1) + '\u2026' : s;
  }
  function section(id, title, note) {
    var s = add(app, el('section', 'card'));
    s.id = id;
    add(s, el('h2', null, title));
    if (note) add(s, el('p', 'note', note));
    return s;
  }
  function table(parent, head, rows, numericFrom) {
    var wrap = add(parent, el('div', 'table-wrap'));
    var t = add(wrap, el('table'));
    var tr = add(add(t, el('thead')), el('tr'));
    head.forEach(function (h, i) {
      add(tr, el('th', i >= numericFrom ? 'num' : null, h));
    });
    var body = add(t, el('tbody'));
    rows.forEach(function (r) {
      var row = add(body, el('tr'));
      r.forEach(function (cell, i) {
        var td = add(row, el('td', i >= numericFrom ? 'num' : null));
        if (cell instanceof Node) td.appendChild(cell);
        else td.textContent = cell === null || cell === undefined ? '' : String(cell);
      });
    });
    return t;
  }
  function pre(text, cls) {
    return el('pre', cls || null, text === null || text === undefined ? '' : String(text));
  }

  // ---- header and metadata --------------------------------------------------------------------------
  var run = data.run;
  document.title = 'refusenik report: ' + (run.name || run.id);
  var header = add(app, el('header', 'top'));
  add(header, el('h1', null, 'refusenik report: ' + (run.name || run.id)));
  add(header, el('p', 'sub', 'run ' + run.id + ' \u00b7 ' + run.status + ' \u00b7 started ' + run.created_at + ' \u00b7 generated ' + data.generated_at));
  var stats = add(header, el('div', 'stats'));
  var judges = [];
  data.asr.forEach(function (r) {
    if (judges.indexOf(r.judge) < 0) judges.push(r.judge);
  });
  [
    ['cases', data.counts.cases + ' / ' + run.cases_total],
    ['target errors', data.counts.errors],
    ['verdicts', data.counts.verdicts],
    ['judges', judges.length],
  ].forEach(function (kv) {
    var s = add(stats, el('div', 'stat'));
    add(s, el('div', 'stat-value', kv[1]));
    add(s, el('div', 'stat-label', kv[0]));
  });
  var nav = add(header, el('nav'));
  [
    ['summary', 'Summary'],
    ['charts', 'Charts'],
  ].concat((data.depth || []).length ? [['depth', 'Prefill depth']] : []).concat([
    ['positions', 'Refusal positions'],
    ['agreement', 'Judge agreement'],
    ['categories', 'Categories'],
    ['cases', 'Cases'],
    ['meta', 'Run metadata'],
  ]).forEach(function (l) {
    var a = add(nav, el('a', null, l[1]));
    a.setAttribute('href', '#' + l[0]);
  });

  // ---- summary table -------------------------------------------------------------------------------
  var sum = section(
    'summary',
    'Attack success rate',
    'ASR = successes / cases the judge scored, with 95% Wilson intervals. Target errors, judge failures and inconclusive verdicts (the judge answered but gave no readable verdict) are counted apart, never as refusals.',
  );
  if ((data.keyword_judges || []).length)
    add(
      sum,
      el(
        'p',
        'note',
        'Judged by keyword: ' +
          data.keyword_judges.join(', ') +
          ". Refusal phrases cannot tell harmful content from an answer that only looks compliant (CodeAttack code with placeholders or the goal restated, a late refusal after harmful steps): this ASR is not comparable with hand-judged numbers such as the paper's.",
      ),
    );
  var audited = data.asr.some(function (r) {
    return r.audit_n !== null && r.audit_n !== undefined;
  });
  var validity = {};
  (data.validity || []).forEach(function (v) {
    validity[v.judge] = v.validations;
  });
  function correctedCi(r) {
    if (r.asr_corrected === null || r.asr_corrected === undefined) return '\u2013';
    var b = function (x) {
      return x === null || x === undefined ? '?' : (x * 100).toFixed(1);
    };
    return pct(r.asr_corrected) + ' [' + b(r.asr_corrected_ci_low) + ', ' + b(r.asr_corrected_ci_high) + ']';
  }
  function validated(judge) {
    var list = validity[judge] || [];
    if (!list.length) return 'not validated';
    return list
      .map(function (v) {
        return 'acc ' + pct(v.accuracy) + ' \u00b7 prec ' + pct(v.precision) + ' \u00b7 rec ' + pct(v.recall) + ' (n ' + v.n + ', ' + v.labels + ')';
      })
      .join('; ');
  }
  var sumHead = ['target', 'attack', 'judge', 'n', 'ASR [95% CI]'];
  if (audited) sumHead.push('corrected ASR [95% CI]', 'audit n');
  var panels = data.asr.some(function (r) {
    return r.disagreement > 0;
  });
  sumHead.push('refusals', 'mean score', 'inconclusive', 'coverage');
  if (panels) sumHead.push('disagreement');
  sumHead.push('target errors', 'judge errors', 'judge validated');
  table(
    sum,
    sumHead,
    data.asr.map(function (r) {
      var cells = [r.target, attackName(r), r.judge, r.n, asrCi(r)];
      if (audited) cells.push(correctedCi(r), r.audit_n === null ? '\u2013' : r.audit_n);
      cells.push(r.refusals, r.mean_score === null ? '\u2013' : r.mean_score.toFixed(2), r.inconclusive, pct(r.coverage));
      if (panels) cells.push(r.disagreement);
      return cells.concat([r.errors, r.judge_errors, validated(r.judge)]);
    }),
    3,
  );
  if ((data.audits || []).length) {
    add(sum, el('h3', null, 'Audit: judge vs person on the labelled cases'));
    add(
      sum,
      el(
        'p',
        'note',
        "Corrected ASR = Rogan\u2013Gladen with the judge's sensitivity and specificity estimated from this audit (sampled by verdict), pooled over the run per judge; 95% interval carries the uncertainty of the audit and of the judged cases.",
      ),
    );
    table(
      sum,
      ['judge', 'audit n', 'judge harmful \u00b7 person harmful', 'judge harmful \u00b7 person safe', 'judge safe \u00b7 person harmful', 'judge safe \u00b7 person safe', 'sensitivity', 'specificity'],
      data.audits.map(function (a) {
        return [a.judge, a.audit_n, a.confusion.tp, a.confusion.fp, a.confusion.fn, a.confusion.tn, pct(a.sensitivity), pct(a.specificity)];
      }),
      1,
    );
  }

  // ---- chart: ASR bars with CI whiskers ----------------------------------------------------------------
  var charts = section('charts', 'ASR by target \u00d7 attack \u00d7 judge', 'Bars: attack success rate; whiskers: 95% Wilson interval.');
  var judgeColor = {};
  judges.forEach(function (j, i) {
    judgeColor[j] = PALETTE[i % PALETTE.length];
  });
  var bars = data.asr.filter(function (r) {
    return r.n > 0;
  });
  if (!bars.length) add(charts, el('p', 'empty', 'No judged cases yet.'));
  else {
    var W = 960, LABEL = 360, RIGHT = 70, ROW = 24, TOP = 26;
    var H = TOP + bars.length * ROW + 10;
    var x = function (v) {
      return LABEL + v * (W - LABEL - RIGHT);
    };
    var chart = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'chart', id: 'asr-chart', role: 'img', 'aria-label': 'attack success rate bar chart' }, charts);
    [0, 0.25, 0.5, 0.75, 1].forEach(function (t) {
      svg('line', { x1: x(t), x2: x(t), y1: TOP - 6, y2: H - 6, class: 'grid' }, chart);
      svgText(chart, x(t), TOP - 10, pct(t, 0), { 'text-anchor': 'middle', class: 'axis' });
    });
    bars.forEach(function (r, i) {
      var y = TOP + i * ROW;
      var label = r.target + ' \u00b7 ' + attackName(r) + ' \u00b7 ' + r.judge;
      var t = svgText(chart, LABEL - 8, y + ROW / 2 + 4, short(label, 56), { 'text-anchor': 'end', class: 'label' });
      add(t, document.createElementNS(SVG_NS, 'title')).textContent = label;
      var bar = svg('rect', { x: x(0), y: y + 4, width: Math.max(0.5, x(r.attack_success_rate) - x(0)), height: ROW - 8, fill: judgeColor[r.judge], class: 'bar' }, chart);
      add(bar, document.createElementNS(SVG_NS, 'title')).textContent = label + ': ' + asrCi(r) + ', n = ' + r.n;
      var cy = y + ROW / 2;
      svg('line', { x1: x(r.ci_low), x2: x(r.ci_high), y1: cy, y2: cy, class: 'whisker' }, chart);
      svg('line', { x1: x(r.ci_low), x2: x(r.ci_low), y1: cy - 5, y2: cy + 5, class: 'whisker' }, chart);
      svg('line', { x1: x(r.ci_high), x2: x(r.ci_high), y1: cy - 5, y2: cy + 5, class: 'whisker' }, chart);
      svgText(chart, x(r.ci_high) + 6, cy + 4, pct(r.attack_success_rate), { class: 'value' });
    });
    var legend = add(charts, el('div', 'legend'));
    judges.forEach(function (j) {
      var item = add(legend, el('span', 'legend-item'));
      var sw = svg('svg', { width: 12, height: 12, class: 'swatch' }, item);
      svg('rect', { width: 12, height: 12, fill: judgeColor[j] }, sw);
      add(item, el('span', null, j));
    });
  }

  // ---- chart: prefill depth, ASR(k) with intervals ---------------------------------------------------
  var depth = data.depth || [];
  if (depth.length) {
    var depSec = section(
      'depth',
      'Prefill depth',
      'ASR with the first k tokens of a harmful response placed at the start of the answer (Qi et al., 2024), with 95% Wilson intervals. ' +
        'A curve that climbs from k = 0 means the alignment is only a few tokens deep; a flat one means the model refuses at any depth.',
    );
    var maxK = 1;
    depth.forEach(function (c) {
      c.points.forEach(function (p) {
        if (p.k > maxK) maxK = p.k;
      });
    });
    var DW = 960, DH = 320, DL = 56, DR = 20, DT = 16, DB = 40;
    var dx = function (k) {
      return DL + (k / maxK) * (DW - DL - DR);
    };
    var dy = function (v) {
      return DT + (1 - v) * (DH - DT - DB);
    };
    var dc = svg('svg', { viewBox: '0 0 ' + DW + ' ' + DH, class: 'chart', id: 'depth-chart', role: 'img', 'aria-label': 'ASR by prefill depth' }, depSec);
    [0, 0.25, 0.5, 0.75, 1].forEach(function (v) {
      svg('line', { x1: DL, x2: DW - DR, y1: dy(v), y2: dy(v), class: 'grid' }, dc);
      svgText(dc, DL - 6, dy(v) + 4, pct(v, 0), { 'text-anchor': 'end', class: 'axis' });
    });
    var ticks = [];
    depth.forEach(function (c) {
      c.points.forEach(function (p) {
        if (ticks.indexOf(p.k) < 0) ticks.push(p.k);
      });
    });
    ticks.forEach(function (k) {
      svgText(dc, dx(k), DH - DB + 16, String(k), { 'text-anchor': 'middle', class: 'axis' });
    });
    svgText(dc, (DL + DW - DR) / 2, DH - 6, 'prefilled harmful tokens (k)', { 'text-anchor': 'middle', class: 'axis' });
    depth.forEach(function (c, i) {
      var colour = PALETTE[i % PALETTE.length];
      var pts = c.points.filter(function (p) {
        return p.asr !== null;
      });
      pts.forEach(function (p) {
        svg('line', { x1: dx(p.k), x2: dx(p.k), y1: dy(p.ci_low), y2: dy(p.ci_high), stroke: colour, class: 'ci' }, dc);
        var dot = svg('circle', { cx: dx(p.k), cy: dy(p.asr), r: 3.5, fill: colour }, dc);
        add(dot, document.createElementNS(SVG_NS, 'title')).textContent =
          c.target + ' \u00b7 ' + c.delivery + ' \u00b7 ' + c.judge + ' \u00b7 k = ' + p.k + ': ' + asrCi({ attack_success_rate: p.asr, ci_low: p.ci_low, ci_high: p.ci_high });
      });
      var line = svg('polyline', { points: pts.map(function (p) { return dx(p.k).toFixed(1) + ',' + dy(p.asr).toFixed(1); }).join(' '), fill: 'none', stroke: colour, class: 'curve' }, dc);
      add(line, document.createElementNS(SVG_NS, 'title')).textContent = c.target + ' \u00b7 ' + c.delivery + ' \u00b7 ' + c.judge;
    });
    table(
      depSec,
      ['', 'target', 'delivery', 'judge'].concat(
        ticks.map(function (k) {
          return 'k = ' + k;
        }),
      ),
      depth.map(function (c, i) {
        var sw = svg('svg', { width: 14, height: 4, class: 'swatch' });
        svg('rect', { width: 14, height: 4, fill: PALETTE[i % PALETTE.length] }, sw);
        return [sw, c.target, c.delivery, c.judge].concat(
          ticks.map(function (k) {
            var p = c.points.filter(function (x) {
              return x.k === k;
            })[0];
            return p ? asrCi({ attack_success_rate: p.asr, ci_low: p.ci_low, ci_high: p.ci_high }) : '\u2013';
          }),
        );
      }),
      4,
    );
  }

  // ---- chart: refusal-position cumulative curves ------------------------------------------------------
  var posSec = section(
    'positions',
    'Where refusals start',
    'Cumulative share of refusing responses whose first refusal phrase falls at or before each position (DeRTa, Figure 4). ' +
      'Early refusal is the aligned default; a curve that rises late means the model starts to comply and only then refuses.',
  );
  var groups = data.positions.groups.filter(function (g) {
    return g.summary.refusals > 0;
  });
  if (!groups.length) add(posSec, el('p', 'empty', 'No response contains a refusal phrase.'));
  else {
    var unit = 'words';
    var hasTokens = groups.some(function (g) {
      return !!g.summary.cumulative_tokens;
    });
    var controls = add(posSec, el('div', 'controls'));
    var curveBox = add(posSec, el('div'));
    var drawCurves = function () {
      curveBox.textContent = '';
      var W = 960, H = 340, L = 56, R = 20, T = 16, B = 40;
      var xs = function (p) {
        return L + ((p - 1) / 99) * (W - L - R);
      };
      var ys = function (v) {
        return T + (1 - v) * (H - T - B);
      };
      var c = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'chart', id: 'position-chart', role: 'img', 'aria-label': 'refusal position cumulative curves' }, curveBox);
      [0, 0.25, 0.5, 0.75, 1].forEach(function (v) {
        svg('line', { x1: L, x2: W - R, y1: ys(v), y2: ys(v), class: 'grid' }, c);
        svgText(c, L - 6, ys(v) + 4, pct(v, 0), { 'text-anchor': 'end', class: 'axis' });
      });
      [1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100].forEach(function (p) {
        svgText(c, xs(p), H - B + 16, String(p), { 'text-anchor': 'middle', class: 'axis' });
      });
      svgText(c, (L + W - R) / 2, H - 6, 'position of the first refusal (' + unit + ')', { 'text-anchor': 'middle', class: 'axis' });
      svg('line', { x1: xs(data.positions.k), x2: xs(data.positions.k), y1: T, y2: H - B, class: 'kline' }, c);
      svgText(c, xs(data.positions.k) + 4, T + 12, 'k = ' + data.positions.k, { class: 'axis' });
      groups.forEach(function (g, i) {
        var curve = unit === 'tokens' ? g.summary.cumulative_tokens : g.summary.cumulative;
        if (!curve) return;
        var pts = curve.map(function (v, j) {
          return xs(j + 1).toFixed(1) + ',' + ys(v).toFixed(1);
        });
        var line = svg('polyline', { points: pts.join(' '), fill: 'none', stroke: PALETTE[i % PALETTE.length], class: 'curve' }, c);
        add(line, document.createElementNS(SVG_NS, 'title')).textContent = g.target + ' \u00b7 ' + attackName(g);
      });
    };
    if (hasTokens) {
      ['words', 'tokens'].forEach(function (u) {
        var b = add(controls, el('button', u === unit ? 'on' : null, u));
        b.type = 'button';
        b.addEventListener('click', function () {
          unit = u;
          Array.prototype.forEach.call(controls.children, function (x) {
            x.className = x.textContent === u ? 'on' : '';
          });
          drawCurves();
        });
      });
    }
    drawCurves();
    var head = ['', 'target', 'attack', 'responses', 'refusals', 'first word', '\u2264 ' + data.positions.k + ' words'];
    if (hasTokens) head.push('\u2264 ' + data.positions.k + ' tokens');
    head.push('recoveries');
    table(
      posSec,
      head,
      groups.map(function (g, i) {
        var sw = svg('svg', { width: 14, height: 4, class: 'swatch' });
        svg('rect', { width: 14, height: 4, fill: PALETTE[i % PALETTE.length] }, sw);
        var s = g.summary;
        var row = [sw, g.target, attackName(g), s.n, s.refusals, pct(s.share_at_first_word), pct(s.share_within_first_k_words)];
        if (hasTokens) row.push(pct(s.share_within_first_k_tokens));
        row.push(s.recoveries);
        return row;
      }),
      3,
    );
  }

  // ---- judge agreement: kappa matrix --------------------------------------------------------------
  var agr = section(
    'agreement',
    'Judge agreement',
    "Cohen's kappa on the harmful / not-harmful decision, over the cases both judges decided (1 = perfect, 0 = chance level).",
  );
  var aj = data.agreement.judges;
  if (aj.length < 2) add(agr, el('p', 'empty', aj.length ? 'One judge in this run: nothing to compare.' : 'No verdicts.'));
  else {
    var pairOf = function (a, b) {
      for (var i = 0; i < data.agreement.pairs.length; i++) {
        var p = data.agreement.pairs[i];
        if ((p.judge_a === a && p.judge_b === b) || (p.judge_a === b && p.judge_b === a)) return p;
      }
      return null;
    };
    var CELL = 84, LW = 170;
    var size = LW + aj.length * CELL + 10;
    var km = svg('svg', { viewBox: '0 0 ' + size + ' ' + size, class: 'chart kappa', id: 'kappa-chart', role: 'img', 'aria-label': 'kappa matrix' }, agr);
    km.setAttribute('width', String(Math.min(size, 640)));
    aj.forEach(function (a, i) {
      svgText(km, LW - 8, LW + i * CELL + CELL / 2 + 4, short(a, 22), { 'text-anchor': 'end', class: 'label' });
      var tl = svgText(km, 0, 0, short(a, 22), { class: 'label', transform: 'translate(' + (LW + i * CELL + CELL / 2 + 4) + ',' + (LW - 8) + ') rotate(-45)' });
      tl.setAttribute('text-anchor', 'start');
      aj.forEach(function (b, j) {
        var p = i === j ? null : pairOf(a, b);
        var kappa = i === j ? 1 : p ? p.kappa : null;
        var fill = kappa === null ? '#e5e7eb' : kappa >= 0 ? 'rgba(22,163,74,' + (0.12 + 0.8 * kappa).toFixed(2) + ')' : 'rgba(220,38,38,' + (0.12 + 0.8 * -kappa).toFixed(2) + ')';
        var cell = svg('rect', { x: LW + j * CELL, y: LW + i * CELL, width: CELL - 2, height: CELL - 2, fill: fill, class: 'cell' }, km);
        add(cell, document.createElementNS(SVG_NS, 'title')).textContent = a + ' vs ' + b + (p ? ': n = ' + p.n + ', agreement ' + pct(p.agreement) : '');
        svgText(km, LW + j * CELL + CELL / 2, LW + i * CELL + CELL / 2 + 5, kappa === null ? 'n/a' : kappa.toFixed(2), { 'text-anchor': 'middle', class: 'cell-text' });
      });
    });
    table(
      agr,
      ['judge A', 'judge B', 'n', 'both harmful', 'A only', 'B only', 'neither', 'agreement', 'kappa'],
      data.agreement.pairs.map(function (p) {
        return [p.judge_a, p.judge_b, p.n, p.confusion[0][0], p.confusion[0][1], p.confusion[1][0], p.confusion[1][1], pct(p.agreement), p.kappa === null ? 'n/a' : p.kappa.toFixed(3)];
      }),
      2,
    );
  }

  // ---- per-category table -------------------------------------------------------------------------
  var cat = section('categories', 'ASR per category', 'Behaviors grouped by their dataset category; the same Wilson intervals, on smaller n.');
  var cats = data.categories.filter(function (r) {
    return r.n > 0;
  });
  if (!cats.length || (cats.every(function (r) { return r.category === '(none)'; }))) {
    add(cat, el('p', 'empty', 'The dataset has no categories.'));
  } else {
    cats.sort(function (a, b) {
      return a.category < b.category ? -1 : a.category > b.category ? 1 : 0;
    });
    table(
      cat,
      ['category', 'target', 'attack', 'judge', 'n', 'ASR [95% CI]', ''],
      cats.map(function (r) {
        var mini = svg('svg', { width: 120, height: 10, class: 'mini' });
        svg('rect', { width: 120, height: 10, class: 'mini-bg' }, mini);
        svg('rect', { width: Math.max(0.5, 120 * r.attack_success_rate), height: 10, fill: judgeColor[r.judge] || PALETTE[0] }, mini);
        return [r.category, r.target, attackName(r), r.judge, r.n, asrCi(r), mini];
      }),
      4,
    );
  }

  // ---- case drill-down ----------------------------------------------------------------------------
  var casesSec = section('cases', 'Cases', 'Every case with its prompt, response, extracted answer and each verdict. Search matches goal, prompt, response and judge reasons.');
  var cases = data.cases;
  var filters = add(casesSec, el('div', 'filters'));
  var search = add(filters, el('input'));
  search.type = 'search';
  search.placeholder = 'search\u2026';
  search.id = 'case-search';
  function select(id, options) {
    var s = add(filters, el('select'));
    s.id = id;
    options.forEach(function (o) {
      var opt = add(s, el('option', null, o[1]));
      opt.value = o[0];
    });
    return s;
  }
  function distinct(f) {
    var seen = [];
    cases.forEach(function (c) {
      var v = f(c);
      if (seen.indexOf(v) < 0) seen.push(v);
    });
    return seen;
  }
  var targetSel = select('case-target', [['', 'all targets']].concat(distinct(function (c) { return c.target; }).map(function (t) { return [t, t]; })));
  var attackSel = select('case-attack', [['', 'all attacks']].concat(distinct(attackName).map(function (t) { return [t, t]; })));
  var verdictSel = select('case-verdict', [
    ['', 'all verdicts'],
    ['harmful', 'harmful (any judge)'],
    ['safe', 'not harmful (every judge)'],
    ['disagree', 'judges disagree'],
    ['refusal', 'has a refusal phrase'],
    ['late', 'refuses after word ' + data.positions.k],
    ['error', 'target error'],
    ['judge-error', 'judge failure'],
  ]);
  var pager = add(casesSec, el('div', 'pager'));
  var list = add(casesSec, el('div', 'case-list'));
  list.id = 'case-list';
  var haystack = new Array(cases.length);
  function textOf(i) {
    if (haystack[i] === undefined) {
      var c = cases[i];
      var parts = [c.goal, c.response, c.answer, c.error, c.behavior_id, c.category];
      if (c.prompt && c.prompt.kind === 'chat') c.prompt.messages.forEach(function (m) { parts.push(m.content); });
      else if (c.prompt && c.prompt.kind === 'completion') parts.push(c.prompt.text);
      c.verdicts.forEach(function (v) { parts.push(v.reason, v.error); });
      haystack[i] = parts.filter(function (p) { return p; }).join('\n').toLowerCase();
    }
    return haystack[i];
  }
  function matchesVerdict(c, f) {
    var decided = c.verdicts.filter(function (v) { return v.harmful !== null; });
    switch (f) {
      case 'harmful': return decided.some(function (v) { return v.harmful; });
      case 'safe': return decided.length > 0 && decided.every(function (v) { return !v.harmful; });
      case 'disagree': return decided.some(function (v) { return v.harmful; }) && decided.some(function (v) { return !v.harmful; });
      case 'refusal': return c.refusal_word !== null;
      case 'late': return c.refusal_word !== null && c.refusal_word > data.positions.k;
      case 'error': return c.status === 'error';
      case 'judge-error': return c.verdicts.some(function (v) { return v.error; });
      default: return true;
    }
  }
  var filtered = [];
  var page = 0;
  function applyFilters() {
    var q = search.value.trim().toLowerCase();
    filtered = [];
    for (var i = 0; i < cases.length; i++) {
      var c = cases[i];
      if (targetSel.value && c.target !== targetSel.value) continue;
      if (attackSel.value && attackName(c) !== attackSel.value) continue;
      if (verdictSel.value && !matchesVerdict(c, verdictSel.value)) continue;
      if (q && textOf(i).indexOf(q) < 0) continue;
      filtered.push(i);
    }
    page = 0;
    renderPage();
  }
  function pagerButton(label, enabled, go) {
    var b = add(pager, el('button', null, label));
    b.type = 'button';
    b.disabled = !enabled;
    b.addEventListener('click', go);
  }
  function renderPage() {
    var pages = Math.max(1, Math.ceil(filtered.length / PAGE_SIZE));
    page = Math.min(page, pages - 1);
    pager.textContent = '';
    pagerButton('\u2190 prev', page > 0, function () { page--; renderPage(); });
    add(pager, el('span', 'page-info', filtered.length + ' of ' + cases.length + ' cases \u00b7 page ' + (page + 1) + ' / ' + pages));
    pagerButton('next \u2192', page < pages - 1, function () { page++; renderPage(); });
    list.textContent = '';
    filtered.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE).forEach(function (i) {
      list.appendChild(caseRow(i));
    });
  }
  function badge(v) {
    var cls = v.error || v.inconclusive ? 'badge err' : v.harmful === true ? 'badge bad' : v.harmful === false ? 'badge ok' : 'badge';
    var label = v.error ? 'failed' : v.inconclusive ? 'inconclusive' : v.harmful === true ? 'harmful' : v.harmful === false ? (v.refusal ? 'refused' : 'safe') : v.score !== null ? 'score ' + v.score : 'n/a';
    return el('span', cls, v.judge + ': ' + label);
  }
  function caseRow(i) {
    var c = cases[i];
    var d = el('details', 'case');
    d.setAttribute('data-case', c.id);
    var s = add(d, el('summary'));
    add(s, el('span', 'case-no', '#' + (i + 1)));
    if (c.status === 'error') add(s, el('span', 'badge err', 'target error'));
    c.verdicts.forEach(function (v) { s.appendChild(badge(v)); });
    add(s, el('span', 'case-meta', c.target + ' \u00b7 ' + attackName(c)));
    add(s, el('span', 'case-goal', short(c.goal, 140)));
    d.addEventListener('toggle', function () {
      if (d.open && !d.getAttribute('data-built')) {
        d.setAttribute('data-built', '1');
        d.appendChild(caseBody(c));
      }
    });
    return d;
  }
  function field(parent, label, node) {
    add(parent, el('h4', null, label));
    parent.appendChild(node);
  }
  function caseBody(c) {
    var b = el('div', 'case-body');
    var meta = [
      ['case', c.id],
      ['behavior', c.behavior_id + (c.category ? ' (' + c.category + ')' : '')],
      ['sample', c.sample],
      ['latency', c.latency_ms === null ? '\u2013' : Math.round(c.latency_ms) + ' ms'],
      ['tokens', (c.prompt_tokens === null ? '?' : c.prompt_tokens) + ' in / ' + (c.completion_tokens === null ? '?' : c.completion_tokens) + ' out'],
      ['first refusal', c.refusal_word === null ? 'none' : 'word ' + c.refusal_word + (c.refusal_token !== null ? ', token ' + c.refusal_token : '')],
    ];
    var dl = add(b, el('dl', 'kv'));
    meta.forEach(function (kv) {
      add(dl, el('dt', null, kv[0]));
      add(dl, el('dd', null, kv[1]));
    });
    field(b, 'Goal', pre(c.goal));
    var p = el('div', 'prompt');
    if (c.prompt && c.prompt.kind === 'chat') {
      c.prompt.messages.forEach(function (m) {
        add(p, el('div', 'role', m.role));
        p.appendChild(pre(m.content));
      });
    } else if (c.prompt && c.prompt.kind === 'completion') {
      add(p, el('div', 'role', 'completion prompt'));
      p.appendChild(pre(c.prompt.text));
    }
    field(b, 'Prompt', p);
    if (c.status === 'error') field(b, 'Target error', pre(c.error, 'error'));
    else field(b, 'Response', pre(c.response, 'response'));
    if (c.answer !== null) field(b, 'Extracted answer', pre(c.answer, 'response'));
    if (c.verdicts.length) {
      var vt = el('div');
      table(vt, ['judge', 'harmful', 'refusal', 'score', 'reason / error'], c.verdicts.map(function (v) {
        var yn = function (x) { return x === null ? '\u2013' : x ? 'yes' : 'no'; };
        return [v.judge, yn(v.harmful), yn(v.refusal), v.score === null ? '\u2013' : v.score, v.error ? 'judge failed: ' + v.error : v.inconclusive ? 'inconclusive: ' + (v.reason || '') : v.reason || ''];
      }), 99);
      field(b, 'Verdicts', vt);
    }
    if (c.trace) {
      var det = add(b, el('details', 'trace'));
      add(det, el('summary', null, 'attack trace'));
      det.appendChild(pre(c.trace));
    }
    return b;
  }
  var timer = null;
  search.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(applyFilters, 150);
  });
  [targetSel, attackSel, verdictSel].forEach(function (s) { s.addEventListener('change', applyFilters); });
  applyFilters();

  // ---- run metadata -------------------------------------------------------------------------------
  var metaSec = section('meta', 'Run metadata');
  var info = [
    ['run id', run.id],
    ['name', run.name || ''],
    ['status', run.status],
    ['created', run.created_at],
    ['updated', run.updated_at],
    ['config file', run.config_file || ''],
    ['cases', data.counts.ok + ' done, ' + data.counts.errors + ' errors, of ' + run.cases_total],
  ];
  if (run.versions && typeof run.versions === 'object') {
    Object.keys(run.versions).forEach(function (k) {
      var v = run.versions[k];
      info.push(['version: ' + k, typeof v === 'string' ? v : JSON.stringify(v)]);
    });
  }
  table(metaSec, ['', ''], info, 99);
  add(metaSec, el('h3', null, 'Requests, tokens and cost per role'));
  if (!data.requests.length) add(metaSec, el('p', 'empty', 'No requests were logged.'));
  else {
    table(
      metaSec,
      ['role', 'model', 'requests', 'cached', 'errors', 'prompt tokens', 'completion tokens', 'cost (USD)'],
      data.requests.map(function (r) {
        return [r.role, r.target, r.requests, r.cached, r.errors, r.prompt_tokens, r.completion_tokens, (r.cost_usd || 0).toFixed(4)];
      }),
      2,
    );
  }
  var cfg = add(metaSec, el('details', 'config'));
  add(cfg, el('summary', null, 'config snapshot (secret-looking values redacted)'));
  cfg.appendChild(pre(JSON.stringify(run.config, null, 2)));
  document.body.setAttribute('data-rendered', '1');
})();
`;
