/**
 * `tritwise bench --model` on a tiny random model: tritwise on wasm, llama.cpp on the exported
 * TQ2_0 GGUF (node-llama-cpp is a devDependency) and the dense f32 baseline, with the JSON report.
 * This checks the command and that both engines run the same weights, not speed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const bin = resolve(import.meta.dirname, '../../bin/tritwise.js');
const dir = mkdtempSync(join(tmpdir(), 'tritwise-bench-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tritwise bench --model', () => {
  it('reports prompt and decode tokens/s for tritwise, llama.cpp and dense f32, with ratios and id agreement', () => {
    const json = join(dir, 'm.json');
    const r = spawnSync(process.execPath, [bin, 'bench', '--model', '--layers', '2', '--dim', '256', '--ffn', '512', '--heads', '4', '--vocab', '512', '--prompt', '24', '--decode', '6', '--rounds', '1', '--threads', '1', '--json', '-o', json], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(JSON.parse(readFileSync(json, 'utf8'))).toEqual(rep);
    expect(rep.model).toMatchObject({ shape: { dim: 256, ffn: 512, layers: 2, heads: 4, vocab: 512 }, activation: 'q8k', ternary_params: 2 * (4 * 256 * 256 + 3 * 256 * 512) });
    expect(rep.model.gguf_bytes).toBeGreaterThan(rep.model.ternary_bytes_tq2_0);
    expect(rep.machine).toMatchObject({ node: process.version, llamacpp: 'node-llama-cpp 3.21.1', backend: { backend: 'wasm', threads: 1 } });
    expect(rep.results.map((x: { name: string }) => x.name)).toEqual(['tritwise-wasm', 'llamacpp-tq2_0', 'dense-f32-wasm']);
    for (const x of rep.results) {
      expect(x.threads).toBe(1);
      expect(x.prompt_tok_s).toBeGreaterThan(0);
      expect(x.decode_tok_s).toBeGreaterThan(0);
      expect(x.prompt_ms).toHaveLength(1);
    }
    const t = rep.results[0];
    expect(t.decode_vs_llamacpp).toBeCloseTo(t.decode_tok_s / rep.results[1].decode_tok_s, 6);
    expect(t.prompt_vs_dense).toBeCloseTo(t.prompt_tok_s / rep.results[2].prompt_tok_s, 6);
    // the same weights in both engines: greedy decoding from BOS starts the same way
    expect(rep.agreement.compared).toBe(6);
    expect(rep.agreement.same_prefix).toBeGreaterThanOrEqual(1);
  });

  it('--profile splits a decode step into linear layers, head, attention and JS, adding up to the step', () => {
    const r = spawnSync(process.execPath, [bin, 'bench', '--model', '--profile', '--layers', '2', '--dim', '256', '--ffn', '512', '--heads', '4', '--vocab', '512', '--decode', '4', '--context', '5', '--threads', '2', '--json'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep).toMatchObject({ shape: { dim: 256, ffn: 512, layers: 2, heads: 4, vocab: 512 }, threads: 2, context: 5, tokens: 4, machine: { backend: { backend: 'wasm', threads: 2 } } });
    const parts = new Map<string, { calls_per_token: number; ms_per_token: number; share: number; bytes_per_token?: number }>(rep.rows.map((x: { part: string }) => [x.part, x]));
    expect([...parts.keys()].slice(0, -1).sort()).toEqual(['RMSNorm, SwiGLU, residual adds (backend)', 'attention', 'gate/up (stacked)', 'output head (f32)', 'q/k/v (stacked)', 'w2', 'wo']);
    // per layer two norms, two adds and one SwiGLU, plus the final norm, on the wasm backend
    expect(parts.get('RMSNorm, SwiGLU, residual adds (backend)')!.calls_per_token).toBe(2 * 5 + 1);
    expect(parts.get('q/k/v (stacked)')).toMatchObject({ calls_per_token: 2, bytes_per_token: (2 * 3 * 256 * 256) / 4 });
    expect(parts.get('w2')).toMatchObject({ calls_per_token: 2, bytes_per_token: (2 * 256 * 512) / 4 });
    expect(parts.get('output head (f32)')).toMatchObject({ calls_per_token: 1, bytes_per_token: 512 * 256 * 4 });
    expect(parts.get('attention')!.calls_per_token).toBe(2);
    const sum = rep.rows.reduce((a: number, x: { ms_per_token: number }) => a + x.ms_per_token, 0);
    expect(sum).toBeCloseTo(rep.ms_per_token, 6);
    expect(rep.rows.reduce((a: number, x: { share: number }) => a + x.share, 0)).toBeCloseTo(1, 6);
    expect(rep.fixed_call_ms).toBeGreaterThan(0);
    expect(rep.pooled_call_ms).toBeGreaterThan(0);
  });

  it('refuses a bad model shape', () => {
    const r = spawnSync(process.execPath, [bin, 'bench', '--model', '--dim', '0'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/expected a positive integer/);
  });
});
