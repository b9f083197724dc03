#!/usr/bin/env bash
# Tests of `autointerp show` (piped and coloured output) and a browser test of `autointerp report`: Debian's chromium (installed by cmake/setup.sh) opens the
# report of the bundled sample headless; --dump-dom shows that the latents and windows are there,
# hostile text stayed text and the page fetched nothing; a screenshot is kept as a build artefact.
# Then the report of a scored run (score columns, sorting by one, histograms of balanced accuracy),
# and 10,000-latent pages without and with scores: each must list every latent, the scored one must
# sort by a score column; their load and sort times are printed (figures, not checks).
# Usage: run_browser_test.sh AUTOINTERP_CLI MAKE_BIG_REPORT SOURCE_DIR WORK_DIR SCREENSHOT.png
set -euo pipefail
cli=$1 big=$2 src=$3 work=$4 screenshot=$5
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAILED: $*"; }
expect_count() { # what, file, extended regex, minimum[, maximum]
  local n
  n=$({ grep -oE -- "$3" "$2" || true; } | wc -l)
  if [ "$n" -ge "$4" ] && [ "$n" -le "${5:-$n}" ]; then ok "$1 ($n)"; else fail "$1: found $n of /$3/ in $2"; fi
}

# `show` first (no browser needed): piped output is plain text with << >> marks and no escapes.
rm -rf "$work"
mkdir -p "$work"
"$cli" show "$src/examples/data/cache" --latent 69 --n 3 >"$work/show.txt"
expect_count "show: header" "$work/show.txt" '^layers\.6 latent 69  max [0-9.]+  31 activations' 1 1
expect_count "show: three windows with << Python>> marked" "$work/show.txt" '<< Python>>' 3
expect_count "show: no escape sequences when piped" "$work/show.txt" $'\x1b' 0 0
"$cli" show "$src/examples/data/cache" --latent 69 --n 3 --color 256 >"$work/show256.txt"
expect_count "show --color 256: tokens shaded" "$work/show256.txt" $'\x1b\\[48;5;[0-9]+m\x1b\\[38;5;(16|231)m Python\x1b\\[0m' 3

chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
  echo "FAILED: chromium is not installed; run cmake/setup.sh (it installs Debian's chromium)"
  exit 1
fi

mkdir -p "$work/run/explanations"
# A run whose explanation for the " Python" latent tries to inject markup.
printf '%s\n' '{"module":"layers.6","latent":69,"status":"explained","explanation":"the word <img src=x onerror=alert(1)> & \"Python\"","attempts":1}' \
  >"$work/run/run.jsonl"
"$cli" report "$src/examples/data/cache" --explanations "$work/run" --out "$work/report.html" 2>"$work/report.log"

# Every fetch would go to a closed port on this machine and no name is resolved: neither the page
# nor Chromium's own background services can reach the network.
browse() { # url, then extra flags
  local url=$1
  shift
  rm -rf "$work/profile"
  timeout 180 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --disable-quic --disable-extensions --no-pings \
    --proxy-server=127.0.0.1:9 --host-resolver-rules="MAP * ~NOTFOUND" \
    --user-data-dir="$work/profile" --window-size=1400,900 "$@" "$url" 2>>"$work/chromium.log"
}

dom=$work/report.dom.html
browse "file://$work/report.html#69" --dump-dom >"$dom"
expect_count "page initialised" "$dom" 'data-ready="1"' 1 1
expect_count "page fetched nothing" "$dom" 'data-resources="0"' 1 1
expect_count "all 2048 latents listed" "$dom" '2048 of 2048 latents' 1 1
expect_count "rows drawn for the visible part of the list" "$dom" '<div class="row( sel)?" data-k="[0-9]+" data-latent="[0-9]+" style="top: [0-9]+px;">' 20 200
expect_count "the selected row is latent 69" "$dom" 'class="row sel"[^>]*data-latent="69"' 1 1
expect_count "latent 69 (planted: \" Python\") is open" "$dom" '<section id="detail" data-latent="69">' 1 1
expect_count "ten windows" "$dom" '<div class="win">' 10 10
expect_count "\" Python\" highlighted in every window, with its value on hover" "$dom" '<span class="tok act" title="[0-9.]+" style="background: rgb\([0-9, ]+\);[^"]*"> Python</span>' 10
expect_count "histogram of 20 bins" "$dom" '<rect ' 20 20
expect_count "hostile explanation shown as text" "$dom" '<div class="expl">the word &lt;img src=x onerror=alert\(1\)&gt; &amp; "Python"</div>' 1 1
expect_count "no element injected" "$dom" '<img' 0 0

# The screenshot, kept in the build directory.
rm -f "$screenshot"
browse "file://$work/report.html#494" --screenshot="$screenshot" >/dev/null
if [ -s "$screenshot" ] && [ "$(head -c 8 "$screenshot" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; then
  ok "screenshot saved: $screenshot ($(stat -c %s "$screenshot") bytes)"
else
  fail "no PNG screenshot at $screenshot"
fi

# A scored run (offline: the keyword baseline scores): a sortable column per scorer, the latent's
# figures and a histogram of per-latent balanced accuracy per scorer.
env -u OPENROUTER_API_KEY "$cli" explain "$src/examples/data/cache" --module layers.6 --latents 69,119 --min-examples 10 \
  --out "$work/scored" --scorers detection,fuzz >"$work/explain.log" 2>&1
"$cli" show "$src/examples/data/cache" --latent 69 --n 3 --run "$work/scored" >"$work/show_scored.txt"
expect_count "show --run: one line per scorer" "$work/show_scored.txt" \
  '^(detection|fuzz): +balanced accuracy [01]\.[0-9]{3}, F1 [01]\.[0-9]{3}, accuracy [01]\.[0-9]{3}  TP [0-9]+ TN [0-9]+ FP [0-9]+ FN [0-9]+  failed 0$' 2 2
"$cli" report "$src/examples/data/cache" --run "$work/scored" --out "$work/scored.html" 2>>"$work/report.log"
sdom=$work/scored.dom.html
browse "file://$work/scored.html#69" --dump-dom >"$sdom"
expect_count "scored page initialised" "$sdom" 'data-ready="1"' 1 1
expect_count "scored page fetched nothing" "$sdom" 'data-resources="0"' 1 1
expect_count "a column per scorer" "$sdom" '<span class="num" data-key="10[01]" title="(detection|fuzz): balanced accuracy"( data-dir="0")?>(detection|fuzz)</span>' 2 2
expect_count "latent 69's row shows both scores" "$sdom" '<span class="num sc">[01]\.[0-9]{3}</span>' 2
expect_count "latent 69's figures per scorer" "$sdom" '<div class="legend">(detection|fuzz): balanced accuracy [01]\.[0-9]{3}, F1 [01]\.[0-9]{3}, accuracy [01]\.[0-9]{3}; TP [0-9]+, TN [0-9]+, FP [0-9]+, FN [0-9]+, failed 0</div>' 2 2
expect_count "a histogram per scorer beside the activation histogram" "$sdom" '<rect ' 60 60
expect_count "latent 69's bin marked in each" "$sdom" '<rect [^>]*class="here"' 2 2

# Sorting by a score column, clicked by a script appended to a copy of the page: descending puts the
# best first and the unscored last; ascending the unscored first.
sort_check() { # page, copy: the copy runs the check once the page's own script is done
  { head -n -2 "$1"; cat <<'EOF'
<script>
(function () {
  var list = document.getElementById('list'), h = document.querySelector('#hdr [data-key="100"]');
  function rows() { return Array.prototype.slice.call(document.querySelectorAll('#rows .row')); }
  function firsts() { return rows().slice(0, 3).map(function (r) { return r.getAttribute('data-latent'); }).join(' '); }
  function cells() { return rows().map(function (r) { return r.querySelector('.sc').textContent; }); }
  // Numbers ordered by dir, every missing ('') or undefined ('n/a') one at the low end.
  function ordered(c, dir) {
    var v = c.map(function (x) { return /^[0-9.]+$/.test(x) ? +x : -1; });
    for (var i = 1; i < v.length; i++) if ((v[i] - v[i - 1]) * dir < 0) return false;
    return v.length > 0;
  }
  list.scrollTop = 0;
  var t0 = performance.now();
  h.click();
  var ms = performance.now() - t0, desc = firsts(), ok = ordered(cells(), -1);
  h.click();
  var asc = firsts();
  ok = ok && ordered(cells(), 1);
  document.body.setAttribute('data-sort-desc', desc);
  document.body.setAttribute('data-sort-asc', asc);
  document.body.setAttribute('data-sort-ok', ok ? '1' : '0');
  document.body.setAttribute('data-sort-ms', ms.toFixed(1));
})();
</script>
EOF
    printf '</body>\n</html>\n'; } >"$2"
}
sort_check "$work/scored.html" "$work/scored.sort.html"
browse "file://$work/scored.sort.html" --dump-dom >"$work/scored.sort.dom.html"
expect_count "sorted by detection: 69, 119, then the unscored" "$work/scored.sort.dom.html" 'data-sort-desc="69 119 0"' 1 1
expect_count "ascending: the unscored first" "$work/scored.sort.dom.html" 'data-sort-asc="0 1 2"' 1 1
expect_count "score column order holds in both directions" "$work/scored.sort.dom.html" 'data-sort-ok="1"' 1 1

# A large report: 10,000 latents.
"$big" "$work/big.html" 10000
bigdom=$work/big.dom.html
browse "file://$work/big.html#9999" --dump-dom >"$bigdom"
expect_count "10,000 latents listed" "$bigdom" '10000 of 10000 latents' 1 1
expect_count "a latent of the large report opens with its windows" "$bigdom" '<div class="win">' 10 10
expect_count "large page fetched nothing" "$bigdom" 'data-resources="0"' 1 1
parsed=$(grep -oE 'data-parsed-ms="[0-9.]+"' "$bigdom" | grep -oE '[0-9.]+' || echo '?')
usable=$(grep -oE 'data-load-ms="[0-9.]+"' "$bigdom" | grep -oE '[0-9.]+' || echo '?')
echo "report load: 10000 latents, $(stat -c %s "$work/big.html") bytes, HTML parsed after $parsed ms, usable after $usable ms (headless chromium)"

# The same with two scorers' columns, sorted by one.
"$big" "$work/big_scored.html" 10000 scores
sort_check "$work/big_scored.html" "$work/big_scored.sort.html"
bigsort=$work/big_scored.sort.dom.html
browse "file://$work/big_scored.sort.html" --dump-dom >"$bigsort"
expect_count "10,000 scored latents listed" "$bigsort" '10000 of 10000 latents' 1 1
expect_count "10,000 latents sorted by a score column, both directions" "$bigsort" 'data-sort-ok="1"' 1 1
sort_ms=$(grep -oE 'data-sort-ms="[0-9.]+"' "$bigsort" | grep -oE '[0-9.]+' || echo '?')
usable=$(grep -oE 'data-load-ms="[0-9.]+"' "$bigsort" | grep -oE '[0-9.]+' || echo '?')
echo "scored report: 10000 latents, $(stat -c %s "$work/big_scored.html") bytes, usable after $usable ms, sorted by detection in $sort_ms ms (headless chromium)"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
