/**
 * `tritwise finetune` end to end through the built bin: QAT and LoRA outputs load in `run` and
 * `eval`; a run stopped with SIGINT or killed with SIGKILL and started again resumes from its
 * checkpoint and writes exactly the model an uninterrupted run writes; bad flags fail cleanly.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeLlama2c } from '../../src/io/llama2c.js';
import type { DenseTensor } from '../../src/tensor/dense-tensor.js';
import { encodeTokenizerBin, syntheticVocab, tinyConfig, tinyWeights } from '../helpers/models.js';
import { BIN, cli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tritwise-ft-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const f = (n: string) => join(dir, n);

beforeAll(() => {
  const c = tinyConfig({ dim: 32, hiddenDim: 48, nHeads: 4, nKvHeads: 2, sharedClassifier: true, seqLen: 64 });
  writeFileSync(f('tiny.bin'), encodeLlama2c(c, tinyWeights(c) as Map<string, DenseTensor>));
  writeFileSync(f('tok.bin'), encodeTokenizerBin(syntheticVocab(300)));
  const para = 'the cat and the dog ran in the sun and then the cat sat on a mat. a big red hat.';
  writeFileSync(f('text.txt'), Array.from({ length: 40 }, (_, i) => para.split(' ').slice(i % 5).join(' ')).join('\n\n'));
});

const common = ['--tokenizer', f('tok.bin'), '--text', f('text.txt'), '--batch', '2', '--ctx', '16', '--eval-chunks', '2', '--val-fraction', '0.2'];

describe('tritwise finetune', () => {
  it('QAT: trains, reports perplexity before and after, and the output runs and evaluates', () => {
    const r = cli('finetune', f('tiny.bin'), ...common, '--mode', 'qat', '--steps', '8', '--lr', '3e-3', '-o', f('qat'), '--json');
    expect(r.code, r.err).toBe(0);
    const rep = JSON.parse(r.out);
    expect(rep).toMatchObject({ mode: 'qat', steps_done: 8, stopped: 'done', resumed_from: null });
    expect(rep.val_ppl_after).toBeLessThan(rep.val_ppl_before);
    expect(rep.tokens).toBe(8 * 2 * 16);
    const cfg = JSON.parse(readFileSync(join(f('qat'), 'config.json'), 'utf8'));
    expect(cfg.plan.finetune).toMatchObject({ mode: 'qat', quantizer: 'twn', depth: 1 });
    // QAT's cosine ends at lr/100 unless --min-lr says otherwise (docs/finetune.md, QAT fifth pass)
    expect(cfg.plan.finetune.minLr).toBeCloseTo(3e-5, 12);
    const ins = JSON.parse(cli('inspect', f('qat'), '--json').out);
    expect(JSON.stringify(ins)).toContain('layers.0.attention.wq');
    const run = cli('run', f('qat'), '-p', 'the cat', '-n', '5');
    expect(run.code, run.err).toBe(0);
    expect(run.out.startsWith('the cat')).toBe(true);
    const ev = cli('eval', f('qat'), '--text', f('text.txt'), '--ctx', '16', '--limit', '2', '--json');
    expect(ev.code, ev.err).toBe(0);
    expect(JSON.parse(ev.out).perplexity).toBeGreaterThan(1);
  });

  it('--budget-minutes: the run fills the budget counted from the process start, validation included, without --steps', () => {
    const t0 = Date.now();
    const r = cli('finetune', f('tiny.bin'), ...common, '--mode', 'qat', '--budget-minutes', '0.15', '--eval-every', '0', '-o', f('qat-budget'), '--json');
    const wall = (Date.now() - t0) / 1000;
    expect(r.code, r.err).toBe(0);
    const rep = JSON.parse(r.out);
    expect(rep.stopped).toBe('done');
    expect(rep.steps_done).toBeGreaterThan(5);
    expect(rep.history.at(-1).step).toBe(rep.steps_done);
    // the exact stopping rule is tested with a deterministic clock (test/train/budget.test.ts); here, 0.25 s for the
    // scheduler of a machine loaded by the whole suite
    expect(rep.elapsed_s).toBeLessThanOrEqual(9 + 0.25);
    expect(rep.elapsed_s).toBeGreaterThan(0.75 * 9);
    expect(wall).toBeGreaterThan(rep.elapsed_s); // counted from the process start, so within the process's wall time
  });

  it('LoRA: adapters are saved beside the trits, load in run/eval, and merge on request', () => {
    const r = cli('finetune', f('tiny.bin'), ...common, '--mode', 'lora', '--rank', '2', '--targets', 'layers.*.attention.*', '--steps', '4', '-o', f('lora'), '--json');
    expect(r.code, r.err).toBe(0);
    const cfg = JSON.parse(readFileSync(join(f('lora'), 'config.json'), 'utf8'));
    expect(cfg.plan.finetune.minLr).toBeCloseTo(3e-4, 12); // other modes keep lr/10
    expect(Object.keys(cfg.adapters)).toEqual(['layers.0.attention.wq', 'layers.0.attention.wk', 'layers.0.attention.wv', 'layers.0.attention.wo', 'layers.1.attention.wq', 'layers.1.attention.wk', 'layers.1.attention.wv', 'layers.1.attention.wo']);
    expect(cfg.adapters['layers.0.attention.wq']).toEqual({ rank: 2, alpha: 4 });
    expect(cli('run', f('lora'), '-p', 'the', '-n', '4').code).toBe(0);
    const ev = cli('eval', f('lora'), '--text', f('text.txt'), '--ctx', '16', '--limit', '2', '--json');
    expect(ev.code, ev.err).toBe(0);
    const g = cli('export-gguf', f('lora'), '-o', f('lora.gguf'), '--type', 'f32');
    expect(g.code).toBe(2);
    expect(g.err).toMatch(/E_UNSUPPORTED: .*adapters/);
    const m = cli('finetune', f('tiny.bin'), ...common, '--mode', 'lora', '--rank', '2', '--steps', '2', '--merge', 'requantize', '-o', f('lora-merged'), '--restart', '--json');
    expect(m.code, m.err).toBe(0);
    expect(JSON.parse(readFileSync(join(f('lora-merged'), 'config.json'), 'utf8')).adapters).toBeUndefined();
  });

  for (const signal of ['SIGINT', 'SIGKILL'] as const) {
    it(`${signal} mid-run, then the same command again: resumes and writes the same model as an uninterrupted run`, async () => {
      const args = (out: string) => ['finetune', f('tiny.bin'), ...common, '--mode', 'qat', '--steps', '30', '--eval-every', '10', '--checkpoint-every', '1', '-o', f(out)];
      expect(cli(...args(`straight-${signal}`)).code).toBe(0);
      const ckpt = f(`cut-${signal}.train.safetensors`);
      const child = spawn(process.execPath, [BIN, ...args(`cut-${signal}`)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      const code = await new Promise<number | null>((done) => {
        const poll = setInterval(() => {
          if (existsSync(ckpt)) {
            clearInterval(poll);
            child.kill(signal);
          }
        }, 10);
        child.on('exit', (c) => {
          clearInterval(poll);
          done(c);
        });
      });
      if (signal === 'SIGINT') {
        expect(code, err).toBe(130);
        expect(err).toMatch(/stopped at step \d+\/30; checkpoint/);
      }
      expect(existsSync(join(f(`cut-${signal}`), 'model.safetensors'))).toBe(false);
      const again = cli(...args(`cut-${signal}`), '--json');
      expect(again.code, again.err).toBe(0);
      const rep = JSON.parse(again.out);
      expect(rep.resumed_from).toBeGreaterThan(0);
      expect(rep.steps_done).toBe(30);
      expect(readFileSync(join(f(`cut-${signal}`), 'model.safetensors')).equals(readFileSync(join(f(`straight-${signal}`), 'model.safetensors')))).toBe(true);
    });
  }

  it('bad flags and values fail with exit codes 1 and 2', () => {
    expect(cli('finetune', f('tiny.bin'), ...common, '--mode', 'foo', '-o', f('x')).code).toBe(1);
    const lr = cli('finetune', f('tiny.bin'), ...common, '--lr', '-1', '-o', f('x'));
    expect(lr.code).toBe(2);
    expect(lr.err).toMatch(/E_ARG: invalid learning rate \(finetune --lr\)/);
    const ctx = cli('finetune', f('tiny.bin'), ...common, '--ctx', '4096', '-o', f('x'));
    expect(ctx.err).toMatch(/E_ARG: invalid context length/);
    const d = cli('finetune', f('qat'), '--text', f('text.txt'), '--distill', 'kl', '-o', f('x'));
    expect(d.err).toMatch(/E_ARG: distillation needs an f32 teacher/);
    const ramp = cli('finetune', f('tiny.bin'), ...common, '--quant-ramp', '1.5', '-o', f('x'));
    expect(ramp.code).toBe(2);
    expect(ramp.err).toMatch(/E_ARG: invalid quantization ramp \(finetune --quant-ramp\)/);
  });
});
