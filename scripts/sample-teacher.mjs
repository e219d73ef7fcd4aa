#!/usr/bin/env node
/**
 * sample-teacher — self-distillation text for plan QAT (issue 6): stories sampled from the f32
 * model itself (temperature 1, top-p 1, i.e. the teacher's own distribution), one per paragraph.
 * The samples cannot overlap the scored stories (they are not taken from any file), and they are
 * as plentiful as the time spent sampling.
 *
 *   node scripts/sample-teacher.mjs --tokens 1000000 [--seed 1] [--data ../shared/data] -o samples.txt
 *
 * Each sample starts from BOS and ends at BOS/EOS (the llama2.c stories models end a story with
 * BOS) or at the context length. Every sample is kept (they are all the teacher's distribution).
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Model } from '../dist/nn/model.js';

const { values: a } = parseArgs({ options: { data: { type: 'string', default: '../shared/data' }, tokens: { type: 'string', default: '1000000' }, seed: { type: 'string', default: '1' }, temperature: { type: 'string', default: '1' }, backend: { type: 'string', default: 'wasm' }, out: { type: 'string', short: 'o' } } });
if (!a.out) throw new Error('-o <file> is required');
const model = await Model.load(`${a.data}/stories260K.bin`, { tokenizer: `${a.data}/tok512.bin`, backend: a.backend });
const tok = model.requireTokenizer();
const want = Number(a.tokens);
// written one sample at a time, so a stopped run keeps what it sampled
writeFileSync(a.out, '');
let kept = 0, n = 0, i = 0;
const t0 = performance.now();
while (n < want) {
  const ids = [];
  for await (const t of model.generate([tok.bos], { maxTokens: model.config.seqLen - 1, temperature: Number(a.temperature), seed: Number(a.seed) * 1_000_003 + i, stopAtEos: false })) {
    if (t.id === tok.bos || t.id === tok.eos) break;
    ids.push(t.id);
  }
  i++;
  const text = tok.decode(ids).trim().replace(/\n\s*\n/g, '\n');
  if (!text) continue;
  appendFileSync(a.out, (kept++ ? '\n\n' : '') + text);
  n += ids.length;
  if (i % 200 === 0) process.stderr.write(`${i} samples, ${n} tokens, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
}
appendFileSync(a.out, '\n');
process.stderr.write(`${kept} samples, ${n} tokens, ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
await model.dispose();
