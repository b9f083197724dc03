#pragma once
// Out-of-line part of report/html_report.hpp: the compact data and the page around it.

#include <autointerp/pipeline/atomic_file.hpp>
#include <autointerp/report/colour.hpp>
#include <autointerp/report/escape.hpp>
#include <autointerp/report/html_report.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>

namespace autointerp::report {

namespace detail {

inline void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) v = 0;  // JSON has no NaN or infinity
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.5g", v);
  out += buf;
}

inline void append_uint(std::string& out, std::uint64_t v) { out += std::to_string(v); }

// Numbers packed 5 bits per character, low bits first, in URL-safe base64 letters; a letter from
// the upper half says "more follows". Token ids under 32 take one character, under 1024 two: about
// a third of the size of JSON numbers, and never in need of JSON or HTML escaping.
inline constexpr std::string_view packed_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

inline void append_packed(std::string& out, std::uint64_t v) {
  while (v >= 32) {
    out += packed_alphabet[32 | (v & 31)];
    v >>= 5;
  }
  out += packed_alphabet[v];
}

// The page's style and behaviour. Data arrives in the three script blocks; nothing is fetched.
inline constexpr std::string_view report_head = R"~~(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
:root{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d1d1f;background:#fafafa}
body{margin:0;display:flex;flex-direction:column;height:100vh}
header{padding:8px 14px;border-bottom:1px solid #ddd;background:#fff}
header h1{font-size:17px;margin:0}
header .src{color:#666;font-size:12px}
main{flex:1;display:flex;min-height:0}
#left{width:46%;min-width:340px;display:flex;flex-direction:column;border-right:1px solid #ddd;background:#fff}
#controls{display:flex;gap:8px;padding:8px;align-items:center;border-bottom:1px solid #eee;flex-wrap:wrap;font-size:13px}
#q{flex:1;min-width:160px;padding:4px 6px}
#count{color:#666}
.hdr,.row{display:grid;grid-template-columns:58px 78px 62px 62px 74px 1fr;align-items:center;gap:6px;padding:0 8px}
.hdr{font-weight:600;font-size:12px;color:#444;border-bottom:1px solid #ddd;height:28px;cursor:pointer;user-select:none}
.hdr span[data-dir="1"]::after{content:" \25B2"}
.hdr span[data-dir="-1"]::after{content:" \25BC"}
#list{flex:1;overflow-y:auto;position:relative}
#rows{position:relative}
.row{position:absolute;left:0;right:0;height:26px;cursor:pointer;border-bottom:1px solid #f2f2f2;font-size:13px;white-space:nowrap}
.row:hover{background:#f3f6ff}
.row.sel{background:#dce6ff}
.row span{overflow:hidden;text-overflow:ellipsis}
.num{text-align:right;font-variant-numeric:tabular-nums}
.st{font-size:11px;color:#555}
#detail{flex:1;overflow-y:auto;padding:12px 16px;min-width:0}
#detail h2{font-size:18px;margin:0 0 4px}
.stats{color:#444;margin:4px 0 8px}
.expl{font-size:15px;margin:6px 0 10px;padding:6px 10px;background:#fff;border-left:3px solid #c8191e}
.noexpl{color:#888;font-style:italic;margin:6px 0 10px}
.win{display:flex;gap:10px;padding:5px 0;border-bottom:1px solid #eee}
.wmax{flex:0 0 56px;text-align:right;color:#666;font:12px/1.7 ui-monospace,"DejaVu Sans Mono",monospace}
.wtext{font:13px/1.7 ui-monospace,"DejaVu Sans Mono",Menlo,monospace;white-space:pre-wrap;overflow-wrap:anywhere;min-width:0}
.tok{border-radius:2px}
.tok.act{display:inline-block}
.legend{display:flex;align-items:center;gap:6px;font-size:12px;color:#555;margin:10px 0 4px}
.ramp{display:inline-flex;height:10px;border:1px solid #ccc}
.ramp i{width:4px}
svg.hist rect{fill:#d9553b}
svg.hist text{font-size:10px;fill:#555}
.empty{color:#888;padding:12px}
</style>
)~~";

inline constexpr std::string_view report_body = R"~~(<main>
<section id="left">
<div id="controls"><input id="q" type="search" placeholder="filter: words of explanations, or latents such as 0-99,150" aria-label="filter">
<select id="status" aria-label="status"><option value="">any status</option></select>
<label><input id="live" type="checkbox"> hide dead</label><span id="count"></span></div>
<div class="hdr" id="hdr"><span data-key="1" class="num">latent</span><span data-key="4" class="num">frequency</span><span data-key="5" class="num">max</span><span data-key="3" class="num">windows</span><span data-key="6">status</span><span data-key="7">explanation</span></div>
<div id="list"><div id="rows"></div></div>
</section>
<section id="detail"><div class="empty">Select a latent.</div></section>
</main>
)~~";

inline constexpr std::string_view report_script = R"~~(<script>
(function () {
  'use strict';
  var scriptStart = performance.now();
  var $ = function (id) { return document.getElementById(id); };
  var L = JSON.parse($('ai-list').textContent);
  var latents = L.latents, N = latents.length, palette = L.palette;
  var MOD = 0, IDX = 1, NACT = 2, NWIN = 3, FREQ = 4, MAX = 5, ST = 6, EXPL = 7, ROW = 26;
  var raw = null, offsets = null, strings = null, selected = -1, view = [], lowered = null;
  var sortKey = IDX, sortDir = 1, list = $('list'), rowsEl = $('rows');

  // Windows are parsed per latent, on demand: line k of the examples block is latent k.
  function examples(k) {
    if (raw === null) {
      raw = $('ai-examples').textContent;
      strings = JSON.parse($('ai-strings').textContent);
      offsets = new Array(N + 1);
      var p = 0;
      for (var i = 0; i < N; i++) {
        offsets[i] = p;
        var e = raw.indexOf('\n', p);
        p = e < 0 ? raw.length : e + 1;
      }
      offsets[N] = raw.length;
    }
    var line = raw.slice(offsets[k], offsets[k + 1]);
    return line.trim() ? JSON.parse(line) : [[]];
  }
  var PACKED = {};
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('').forEach(function (c, i) { PACKED[c] = i; });
  function unpack(s) {
    var out = [], v = 0, scale = 1;
    for (var i = 0; i < s.length; i++) {
      var c = PACKED[s[i]] | 0;
      v += (c & 31) * scale;
      if (c & 32) { scale *= 32; } else { out.push(v); v = 0; scale = 1; }
    }
    return out;
  }
  function fmt(v) { return v === 0 ? '0' : Number(v).toPrecision(3); }
  function pct(v) { return v === 0 ? '0%' : (v * 100).toPrecision(3) + '%'; }
  function label(d) { return (L.modules.length > 1 ? L.modules[d[MOD]] + ':' : '') + d[IDX]; }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function parseSpec(q) {
    if (!/^[\d\s,\-]+$/.test(q)) return null;
    var ranges = [];
    q.split(',').forEach(function (part) {
      var m = part.trim().match(/^(\d+)(?:\s*-\s*(\d+))?$/);
      if (m) ranges.push([+m[1], m[2] === undefined ? +m[1] : +m[2]]);
    });
    return ranges;
  }
  function applyView() {
    var q = $('q').value.trim(), st = $('status').value, live = $('live').checked;
    var spec = q ? parseSpec(q) : null, needle = spec ? '' : q.toLowerCase();
    if (needle && lowered === null) lowered = latents.map(function (d) { return String(d[EXPL]).toLowerCase(); });
    view = [];
    for (var k = 0; k < N; k++) {
      var d = latents[k];
      if (st !== '' && d[ST] !== +st) continue;
      if (live && d[NACT] === 0) continue;
      if (spec && !spec.some(function (r) { return d[IDX] >= r[0] && d[IDX] <= r[1]; })) continue;
      if (needle && lowered[k].indexOf(needle) < 0) continue;
      view.push(k);
    }
    var key = sortKey, dir = sortDir;
    view.sort(function (a, b) {
      var x = latents[a][key], y = latents[b][key];
      if (key === ST) { x = L.statuses[x]; y = L.statuses[y]; }
      if (x < y) return -dir;
      if (x > y) return dir;
      return latents[a][IDX] - latents[b][IDX] || latents[a][MOD] - latents[b][MOD];
    });
    $('count').textContent = view.length + ' of ' + N + ' latents';
    Array.prototype.forEach.call($('hdr').children, function (h) {
      h.setAttribute('data-dir', +h.getAttribute('data-key') === sortKey ? String(sortDir) : '0');
    });
    drawRows();
  }

  // Only the rows in sight exist in the DOM, so 10^5 latents scroll as smoothly as 10.
  function drawRows() {
    rowsEl.style.height = view.length * ROW + 'px';
    var top = list.scrollTop, h = list.clientHeight || 800;
    var first = Math.max(0, Math.floor(top / ROW) - 10);
    var last = Math.min(view.length, Math.ceil((top + h) / ROW) + 10);
    var frag = document.createDocumentFragment();
    for (var r = first; r < last; r++) {
      var k = view[r], d = latents[k];
      var row = el('div', k === selected ? 'row sel' : 'row');
      row.style.top = r * ROW + 'px';
      row.setAttribute('data-k', k);
      row.setAttribute('data-latent', d[IDX]);
      row.appendChild(el('span', 'num', label(d)));
      row.appendChild(el('span', 'num', pct(d[FREQ])));
      row.appendChild(el('span', 'num', fmt(d[MAX])));
      row.appendChild(el('span', 'num', String(d[NWIN])));
      row.appendChild(el('span', 'st', L.statuses[d[ST]]));
      var ex = el('span', '', d[EXPL]);
      ex.title = d[EXPL];
      row.appendChild(ex);
      frag.appendChild(row);
    }
    rowsEl.replaceChildren(frag);
  }

  function histogram(counts, max) {
    var NS = 'http://www.w3.org/2000/svg', W = 320, H = 64, n = counts.length;
    var svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('class', 'hist');
    svg.setAttribute('width', W);
    svg.setAttribute('height', H + 16);
    var top = Math.max.apply(null, counts.concat([1]));
    counts.forEach(function (c, i) {
      var bh = c ? Math.max(1, Math.round(H * c / top)) : 0, bw = W / n;
      var r = document.createElementNS(NS, 'rect');
      r.setAttribute('x', (i * bw + 0.5).toFixed(1));
      r.setAttribute('width', Math.max(1, bw - 1).toFixed(1));
      r.setAttribute('y', H - bh);
      r.setAttribute('height', bh);
      var t = document.createElementNS(NS, 'title');
      t.textContent = fmt(max * i / n) + ' to ' + fmt(max * (i + 1) / n) + ': ' + c;
      r.appendChild(t);
      svg.appendChild(r);
    });
    [[0, '0', 'start'], [W, fmt(max), 'end']].forEach(function (a) {
      var t = document.createElementNS(NS, 'text');
      t.setAttribute('x', a[0]);
      t.setAttribute('y', H + 12);
      t.setAttribute('text-anchor', a[2]);
      t.textContent = a[1];
      svg.appendChild(t);
    });
    return svg;
  }

  function select(k, scroll) {
    if (k < 0 || k >= N) return;
    selected = k;
    var d = latents[k], det = $('detail'), ex = examples(k), max = d[MAX];
    try { history.replaceState(null, '', '#' + label(d)); } catch (e) { /* some file: URLs refuse */ }
    det.replaceChildren();
    det.setAttribute('data-latent', d[IDX]);
    det.appendChild(el('h2', '', L.modules[d[MOD]] + ' latent ' + d[IDX]));
    det.appendChild(el('div', 'stats', d[NACT] + ' activations (' + pct(d[FREQ]) + ' of tokens), max ' + fmt(max) +
      ', ' + d[NWIN] + ' windows' + (d[ST] ? ', ' + L.statuses[d[ST]] : '')));
    det.appendChild(d[EXPL] ? el('div', 'expl', d[EXPL]) : el('div', 'noexpl', 'no explanation'));
    det.appendChild(el('div', 'legend', 'activation histogram'));
    det.appendChild(histogram(ex[0], max));
    var legend = el('div', 'legend', 'colour: 0 ');
    var ramp = el('span', 'ramp');
    palette.forEach(function (c, i) { if (i % 4 === 0) { var s = el('i'); s.style.background = c; ramp.appendChild(s); } });
    legend.appendChild(ramp);
    legend.appendChild(document.createTextNode(' ' + fmt(max) + '; hover a token for its value'));
    det.appendChild(legend);
    var wins = el('div', 'windows');
    if (ex.length < 2) wins.appendChild(el('div', 'empty', 'no activating windows'));
    for (var w = 1; w < ex.length; w++) {
      var toks = unpack(ex[w][0]), acts = unpack(ex[w][1]), q = new Array(toks.length).fill(0), wmax = 0;
      for (var j = 0; j + 1 < acts.length; j += 2) { q[acts[j]] = acts[j + 1]; wmax = Math.max(wmax, acts[j + 1]); }
      var line = el('div', 'win'), text = el('span', 'wtext');
      line.appendChild(el('span', 'wmax', fmt(wmax * max / 1000)));
      for (var t = 0; t < toks.length; t++) {
        var s = el('span', q[t] ? 'tok act' : 'tok', strings[toks[t]] || '');
        if (q[t]) {
          var pi = Math.max(1, Math.round(q[t] * (palette.length - 1) / 1000));
          s.style.background = palette[pi];
          if (pi >= L.dark_from) s.style.color = '#fff';
          s.title = fmt(q[t] * max / 1000);
        }
        text.appendChild(s);
      }
      line.appendChild(text);
      wins.appendChild(line);
    }
    det.appendChild(wins);
    if (scroll) {
      var r = view.indexOf(k);
      if (r >= 0 && (r * ROW < list.scrollTop || (r + 1) * ROW > list.scrollTop + list.clientHeight))
        list.scrollTop = Math.max(0, r * ROW - list.clientHeight / 2);
    }
    drawRows();
  }

  L.statuses.forEach(function (s, i) {
    if (!i) return;
    var o = el('option', '', s);
    o.value = String(i);
    $('status').appendChild(o);
  });
  var pending = false;
  list.addEventListener('scroll', function () {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; drawRows(); });
  });
  rowsEl.addEventListener('click', function (e) {
    var row = e.target.closest('.row');
    if (row) select(+row.getAttribute('data-k'), false);
  });
  $('hdr').addEventListener('click', function (e) {
    var key = +(e.target.getAttribute('data-key') || -1);
    if (key < 0) return;
    sortDir = key === sortKey ? -sortDir : (key === IDX || key === EXPL || key === ST ? 1 : -1);
    sortKey = key;
    applyView();
  });
  ['q', 'status', 'live'].forEach(function (id) { $(id).addEventListener('input', applyView); });
  document.addEventListener('keydown', function (e) {
    if (e.target.tagName === 'INPUT' || e.target.tagName === 'SELECT') return;
    var step = e.key === 'ArrowDown' || e.key === 'j' ? 1 : e.key === 'ArrowUp' || e.key === 'k' ? -1 : 0;
    if (!step || !view.length) return;
    e.preventDefault();
    var r = view.indexOf(selected);
    select(view[Math.min(view.length - 1, Math.max(0, r + step))], true);
  });

  applyView();
  var want = decodeURIComponent(location.hash.slice(1)), start = view.length ? view[0] : -1;
  if (want) for (var k = 0; k < N; k++) if (label(latents[k]) === want) { start = k; break; }
  select(start, true);
  // For the browser test: time from navigation start to a usable page, and the share of it spent
  // parsing the HTML (before this script ran).
  document.body.setAttribute('data-parsed-ms', scriptStart.toFixed(1));
  document.body.setAttribute('data-load-ms', performance.now().toFixed(1));
  // Resources the page fetched (none: everything is inline; the browser test checks it).
  document.body.setAttribute('data-resources', String(performance.getEntriesByType('resource').length));
  document.body.setAttribute('data-ready', '1');
})();
</script>
)~~";

// Score columns and histograms: added to the page only when some latent has scores, so a page
// without scores is byte for byte what it was before scores existed. Each piece of script goes
// right after (or before) an anchor, a line of `report_script` that occurs there once.
struct script_insert {
  std::string_view anchor;
  bool after;  // after the anchor, or before it
  std::string_view code;
};

inline constexpr script_insert score_script[] = {
    {"  var MOD = 0, IDX = 1, NACT = 2, NWIN = 3, FREQ = 4, MAX = 5, ST = 6, EXPL = 7, ROW = 26;\n", true,
     R"~~(  // Scores: d[SC][s] = [figure, F1, accuracy, TP, TN, FP, FN, failed] of scorer s (L.scorers[s];
  // the figure is its `figure`, balanced accuracy for classifiers), plus for simulation [token ids,
  // true levels, simulated levels] of one example; null or absent without a score file; column s
  // sorts by key SK + s.
  var SC = 8, SK = 100, scorers = L.scorers;
  scorers.forEach(function (sc, s) {
    var h = el('span', 'num', sc.name);
    h.setAttribute('data-key', String(SK + s));
    h.title = sc.name + ': ' + sc.figure;
    $('hdr').insertBefore(h, $('hdr').lastElementChild);
  });
)~~"},
    {"      if (key === ST) { x = L.statuses[x]; y = L.statuses[y]; }\n", true,
     "      if (key >= SK) { x = scoreOf(latents[a], key - SK); y = scoreOf(latents[b], key - SK); }\n"},
    {"      var ex = el('span', '', d[EXPL]);\n", false,
     R"~~(      for (var si = 0; si < scorers.length; si++) {
        var f = figures(d, si);
        row.appendChild(el('span', 'num sc', f ? fixed3(f[0]) : ''));
      }
)~~"},
    {"  function select(k, scroll) {\n", false,
     R"~~(  function figures(d, s) { var f = d[SC]; return f && f[s] ? f[s] : null; }
  // Simulation: an example's true levels (grey) and simulated levels (blue) over its tokens, 0..10.
  function levelChart(tokens, truth, sim) {
    var NS = 'http://www.w3.org/2000/svg', W = 320, H = 64, n = Math.max(truth.length, 1);
    var svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('class', 'levels');
    svg.setAttribute('width', W);
    svg.setAttribute('height', H + 4);
    [[truth, 'truth'], [sim, 'sim']].forEach(function (series) {
      var pts = series[0].map(function (v, i) {
        return ((i + 0.5) * W / n).toFixed(1) + ',' + (2 + H - H * Math.max(0, Math.min(10, v)) / 10).toFixed(1);
      });
      var line = document.createElementNS(NS, 'polyline');
      line.setAttribute('points', pts.join(' '));
      line.setAttribute('class', series[1]);
      svg.appendChild(line);
    });
    var t = document.createElementNS(NS, 'title');
    t.textContent = tokens.map(function (id, i) {
      return (strings && strings[id] !== undefined ? strings[id] : '') + ' ' + truth[i] + '/' + (+sim[i]).toFixed(1);
    }).join('\n');
    svg.appendChild(t);
    return svg;
  }
  // What a score column sorts by: missing and undefined lowest.
  function scoreOf(d, s) { var f = figures(d, s); return f && f[0] !== null ? f[0] : -1; }
  function fixed3(v) { return v === null ? 'n/a' : v.toFixed(3); }
  // Per scorer: the latent's figures, then the histogram of per-latent balanced accuracy over the
  // whole report with this latent's bin drawn in blue.
  function scoreBlock(d) {
    var box = el('div', 'scores');
    scorers.forEach(function (sc, s) {
      var f = figures(d, s), part = el('div', 'scorer'), n = sc.histogram.length;
      part.setAttribute('data-scorer', sc.name);
      var classifier = sc.figure === 'balanced accuracy';
      part.appendChild(el('div', 'legend', sc.name + ': ' + (!f ? 'not scored' : classifier ? 'balanced accuracy ' +
        fixed3(f[0]) + ', F1 ' + fixed3(f[1]) + ', accuracy ' + fixed3(f[2]) + '; TP ' + f[3] + ', TN ' + f[4] +
        ', FP ' + f[5] + ', FN ' + f[6] + ', failed ' + f[7] : sc.figure + ' ' + fixed3(f[0]) + ', failed ' + f[7])));
      if (f && f.length > 10) part.appendChild(levelChart(f[8], f[9], f[10]));
      var svg = histogram(sc.histogram, 1);
      if (f && f[0] !== null) {
        var bin = Math.min(n - 1, Math.max(0, Math.floor(f[0] * n + 1e-9)));
        svg.children[bin].setAttribute('class', 'here');
      }
      part.appendChild(svg);
      part.appendChild(el('div', 'legend', sc.figure + ' of ' + (sc.scored - sc.undefined) + ' latents' +
        (sc.undefined ? ' (' + sc.undefined + ' more without one)' : '')));
      box.appendChild(part);
    });
    return box;
  }
)~~"},
    {"    det.appendChild(d[EXPL] ? el('div', 'expl', d[EXPL]) : el('div', 'noexpl', 'no explanation'));\n", true,
     "    det.appendChild(scoreBlock(d));\n"},
};

constexpr bool anchored_once(std::string_view anchor) {
  auto at = report_script.find(anchor);
  return at != std::string_view::npos && report_script.find(anchor, at + 1) == std::string_view::npos;
}
static_assert(anchored_once(score_script[0].anchor) && anchored_once(score_script[1].anchor) &&
                  anchored_once(score_script[2].anchor) && anchored_once(score_script[3].anchor) &&
                  anchored_once(score_script[4].anchor),
              "every score insert needs an anchor that occurs once in report_script");

// The script with the score inserts, in the order of their anchors.
inline std::string scored_report_script() {
  std::string out(report_script);
  for (auto const& ins : score_script) {
    auto at = out.find(ins.anchor);
    out.insert(ins.after ? at + ins.anchor.size() : at, ins.code);
  }
  return out;
}

// The style the score columns need, for `n` scorers.
inline std::string score_style(std::size_t n) {
  std::string const k = std::to_string(n);
  return "<style>\n#left{width:calc(46% + " + k + " * 74px);max-width:66%}\n"
         ".hdr,.row{grid-template-columns:58px 78px 62px 62px 74px repeat(" + k + ",68px) 1fr}\n"
         ".scores{display:flex;flex-wrap:wrap;gap:0 24px;margin:0 0 6px}\n.scorer{flex:0 0 320px}\n"
         "svg.hist rect.here{fill:#2f5fd0}\nsvg.levels polyline{fill:none;stroke-width:1.5}\n"
         "svg.levels .truth{stroke:#888}\nsvg.levels .sim{stroke:#2f5fd0}\n</style>\n";
}

}  // namespace detail

inline std::size_t report_builder::intern_scorer(scorer_figures const& figures) {
  for (std::size_t i = 0; i < scorers_.size(); ++i)
    if (scorers_[i].name == figures.scorer) return i;
  scorers_.push_back({figures.scorer, figures.headline_name, 0, 0, std::vector<std::uint32_t>(score_histogram_bins, 0)});
  return scorers_.size() - 1;
}

inline std::uint32_t report_builder::intern(std::string const& token) {
  auto [it, fresh] = string_ids_.try_emplace(token, static_cast<std::uint32_t>(strings_.size()));
  if (fresh) strings_.push_back(visible_text(token));
  return it->second;
}

inline std::uint32_t report_builder::intern_status(std::string const& status) {
  auto it = std::find(statuses_.begin(), statuses_.end(), status);
  if (it != statuses_.end()) return static_cast<std::uint32_t>(it - statuses_.begin());
  statuses_.push_back(status);
  return static_cast<std::uint32_t>(statuses_.size() - 1);
}

inline std::uint32_t report_builder::intern_module(std::string const& module) {
  auto it = std::find(modules_.begin(), modules_.end(), module);
  if (it != modules_.end()) return static_cast<std::uint32_t>(it - modules_.begin());
  modules_.push_back(module);
  return static_cast<std::uint32_t>(modules_.size() - 1);
}

AUTOINTERP_DECL void report_builder::add(latent_view const& v) {
  if (n_latents_++) list_ += ',';
  list_ += '[';
  detail::append_uint(list_, intern_module(v.latent.module));
  list_ += ',';
  detail::append_uint(list_, v.latent.index);
  list_ += ',';
  detail::append_uint(list_, v.n_activations);
  list_ += ',';
  detail::append_uint(list_, v.n_windows);
  list_ += ',';
  detail::append_number(list_, v.frequency);
  list_ += ',';
  detail::append_number(list_, v.max_activation);
  list_ += ',';
  detail::append_uint(list_, intern_status(v.status));
  list_ += ',';
  append_json_string(list_, v.explanation);
  if (!v.scores.empty()) {
    std::vector<scorer_figures const*> by_column;
    for (auto const& f : v.scores) {
      auto const c = intern_scorer(f);
      if (by_column.size() <= c) by_column.resize(c + 1, nullptr);
      if (f.error.empty()) by_column[c] = &f;
    }
    by_column.resize(scorers_.size(), nullptr);
    list_ += ",[";
    for (std::size_t c = 0; c < by_column.size(); ++c) {
      if (c) list_ += ',';
      auto const* f = by_column[c];
      if (!f) {
        list_ += "null";
        continue;
      }
      auto& column = scorers_[c];
      ++column.scored;
      auto const& m = f->metrics;
      if (f->headline) ++column.histogram[unit_interval_bin(*f->headline, column.histogram.size())];
      else ++column.undefined;
      auto optional = [&](std::optional<double> x) {
        if (x && std::isfinite(*x)) detail::append_number(list_, *x);
        else list_ += "null";
      };
      list_ += '[';
      optional(f->headline);
      list_ += ',';
      optional(m.f1);
      list_ += ',';
      optional(f->accuracy);
      for (auto n : {m.counts.true_positives, m.counts.true_negatives, m.counts.false_positives,
                     m.counts.false_negatives, f->failed}) {
        list_ += ',';
        detail::append_uint(list_, n);
      }
      if (!f->trace.tokens.empty()) {  // simulation: [tokens (string ids), true levels, simulated levels]
        list_ += ",[";
        for (std::size_t t = 0; t < f->trace.tokens.size(); ++t) {
          if (t) list_ += ',';
          detail::append_uint(list_, intern(f->trace.tokens[t]));
        }
        list_ += "],[";
        for (std::size_t t = 0; t < f->trace.truth.size(); ++t) {
          if (t) list_ += ',';
          detail::append_number(list_, f->trace.truth[t]);
        }
        list_ += "],[";
        for (std::size_t t = 0; t < f->trace.simulated.size(); ++t) {
          if (t) list_ += ',';
          detail::append_number(list_, f->trace.simulated[t]);
        }
        list_ += ']';
      }
      list_ += ']';
    }
    list_ += ']';
  }
  list_ += ']';

  examples_ += "[[";
  for (std::size_t i = 0; i < v.histogram.size(); ++i) {
    if (i) examples_ += ',';
    detail::append_uint(examples_, v.histogram[i]);
  }
  examples_ += ']';
  double max = v.max_activation > 0 && std::isfinite(v.max_activation) ? v.max_activation : 0;
  for (auto const& w : v.windows) {
    examples_ += ",[\"";
    for (auto const& token : w.tokens) detail::append_packed(examples_, intern(token));
    examples_ += "\",\"";
    for (std::size_t i = 0; i < w.tokens.size() && i < w.activations.size(); ++i) {
      float a = w.activations[i];
      if (!(a > 0) || max == 0) continue;  // also skips NaN
      long q = std::lround(std::min(1.0, a / max) * 1000.0);
      detail::append_packed(examples_, i);
      detail::append_packed(examples_, static_cast<std::uint64_t>(std::max(q, 1L)));
    }
    examples_ += "\"]";
  }
  examples_ += "]\n";
}

AUTOINTERP_DECL std::string report_builder::list_json() const {
  std::string out = "{\"title\":";
  append_json_string(out, options_.title);
  out += ",\"source\":";
  append_json_string(out, options_.source);
  out += ",\"palette\":[";
  constexpr int n_colours = 64;
  int dark_from = n_colours;
  for (int i = 0; i < n_colours; ++i) {
    rgb c = activation_colour(static_cast<float>(i) / (n_colours - 1));
    if (dark_from == n_colours && readable_foreground(c) == rgb{255, 255, 255}) dark_from = i;
    if (i) out += ',';
    append_json_string(out, css_hex(c));
  }
  out += "],\"dark_from\":" + std::to_string(dark_from) + ",\"statuses\":[";
  for (std::size_t i = 0; i < statuses_.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, statuses_[i]);
  }
  out += "],\"modules\":[";
  for (std::size_t i = 0; i < modules_.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, modules_[i]);
  }
  out += ']';
  if (!scorers_.empty()) {
    out += ",\"scorers\":[";
    for (std::size_t i = 0; i < scorers_.size(); ++i) {
      auto const& c = scorers_[i];
      out += i ? ",{\"name\":" : "{\"name\":";
      append_json_string(out, c.name);
      out += ",\"figure\":";
      append_json_string(out, c.figure);
      out += ",\"scored\":" + std::to_string(c.scored) + ",\"undefined\":" + std::to_string(c.undefined) +
             ",\"histogram\":[";
      for (std::size_t b = 0; b < c.histogram.size(); ++b) {
        if (b) out += ',';
        detail::append_uint(out, c.histogram[b]);
      }
      out += "]}";
    }
    out += ']';
  }
  out += ",\"latents\":[";
  out += list_;
  out += "]}";
  return out;
}

AUTOINTERP_DECL std::string report_builder::strings_json() const {
  std::string out = "[";
  for (std::size_t i = 0; i < strings_.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, strings_[i]);
  }
  out += ']';
  return out;
}

AUTOINTERP_DECL std::string report_builder::html() const {
  std::string out;
  out.reserve(detail::report_head.size() + detail::report_body.size() + detail::report_script.size() +
              list_.size() + examples_.size() + strings_.size() * 8 + 4096);
  out += detail::report_head;
  bool const scored = !scorers_.empty();
  if (scored) out += detail::score_style(scorers_.size());
  out += "<title>" + html_escape(options_.title) + "</title>\n</head>\n<body>\n<header><h1>" +
         html_escape(options_.title) + "</h1><div class=\"src\">" + html_escape(options_.source) +
         "</div></header>\n";
  out += detail::report_body;
  out += "<script type=\"application/json\" id=\"ai-list\">";
  out += list_json();
  out += "</script>\n<script type=\"application/json\" id=\"ai-strings\">";
  out += strings_json();
  out += "</script>\n<script type=\"text/plain\" id=\"ai-examples\">";
  out += examples_;
  out += "</script>\n";
  if (scored) out += detail::scored_report_script();
  else out += detail::report_script;
  out += "</body>\n</html>\n";
  return out;
}

AUTOINTERP_DECL result<void> report_builder::write(std::filesystem::path const& path) const {
  return pipeline::write_file_atomically(path, html());
}

}  // namespace autointerp::report
