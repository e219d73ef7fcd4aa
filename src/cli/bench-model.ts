/**
 * `tritwise bench --model` — end-to-end tokens/s of a BitNet-shaped random model on the wasm
 * backend, side by side with llama.cpp on the same weights (TQ2_0 GGUF) and with the dense f32
 * model (eval/model-bench.ts). Prints a table and writes JSON.
 */
import { createBackend } from '../backend/registry.js';
import type { ActivationMode } from '../backend/backend.js';
import { BITNET_07B, benchModel, type ModelBenchReport } from '../eval/model-bench.js';
import { fixed, printJson, printTable, writeJsonFile } from './output.js';

export interface BenchModelFlags {
  backend: string;
  threads?: number[];
  llamacpp: boolean;
  dense: boolean;
  layers?: number;
  dim?: number;
  ffn?: number;
  heads?: number;
  vocab?: number;
  prompt?: number;
  decode?: number;
  rounds?: number;
  densePrompt?: number;
  activation?: ActivationMode;
  seed?: number;
  json?: boolean;
  out?: string;
}

export function printModelReport(rep: ModelBenchReport): void {
  const m = rep.machine;
  const s = rep.model.shape;
  const be = (m.backend ?? {}) as Record<string, unknown>;
  process.stdout.write(`model: random ternary, ${s.layers} layers, dim ${s.dim}, ffn ${s.ffn}, ${s.heads} heads, vocab ${s.vocab}; ${(rep.model.ternary_params / 1e6).toFixed(0)} M ternary + ${(rep.model.f32_params / 1e6).toFixed(0)} M f32 parameters; activations ${rep.model.activation}\n`);
  process.stdout.write(`machine: ${m.cpu}, ${m.cores} cores, node ${m.node}, wasm ${String(be.simd ?? '?')}${m.llamacpp ? `, llama.cpp: ${String(m.llamacpp)}` : ''}\n`);
  printTable(
    ['engine', 'threads', 'prompt tokens', 'prompt tok/s', 'decode tokens', 'decode tok/s', '× llama.cpp (prompt / decode)', '× dense f32 (prompt / decode)'],
    rep.results.map((r) => [
      r.name,
      r.threads,
      r.prompt_tokens,
      fixed(r.prompt_tok_s, 2),
      r.decode_tokens,
      fixed(r.decode_tok_s, 2),
      r.decode_vs_llamacpp === undefined ? '' : `${fixed(r.prompt_vs_llamacpp!, 2)} / ${fixed(r.decode_vs_llamacpp, 2)}`,
      r.decode_vs_dense === undefined ? '' : `${fixed(r.prompt_vs_dense!, 2)} / ${fixed(r.decode_vs_dense, 2)}`,
    ]),
  );
  if (rep.agreement) process.stdout.write(`greedy ids from BOS, tritwise vs llama.cpp: the first ${rep.agreement.same_prefix} of ${rep.agreement.compared} agree\n`);
}

export async function runBenchModel(o: BenchModelFlags): Promise<void> {
  const note = o.json ? () => {} : (s: string) => process.stderr.write(`  ${s}\n`);
  const rep = await benchModel({
    shape: { dim: o.dim ?? BITNET_07B.dim, ffn: o.ffn ?? BITNET_07B.ffn, layers: o.layers ?? BITNET_07B.layers, heads: o.heads ?? BITNET_07B.heads, vocab: o.vocab ?? BITNET_07B.vocab },
    threads: o.threads ?? [1, 2],
    prompt: o.prompt,
    decode: o.decode,
    rounds: o.rounds,
    llamacpp: o.llamacpp,
    dense: o.dense,
    densePrompt: o.densePrompt,
    activation: o.activation,
    seed: o.seed,
    makeBackend: (threads) => createBackend(o.backend, { threads }),
    onStep: note,
  });
  if (o.out) writeJsonFile(o.out, rep);
  if (o.json) return printJson(rep);
  printModelReport(rep);
}

/** `tritwise bench --model --profile`: one decode step split into its parts (eval/model-profile.ts). */
export async function runProfileModel(o: BenchModelFlags & { context?: number }): Promise<void> {
  const { profileDecode } = await import('../eval/model-profile.js');
  const threads = o.threads?.[0] ?? 2;
  const rep = await profileDecode({
    shape: { dim: o.dim ?? BITNET_07B.dim, ffn: o.ffn ?? BITNET_07B.ffn, layers: o.layers ?? BITNET_07B.layers, heads: o.heads ?? BITNET_07B.heads, vocab: o.vocab ?? BITNET_07B.vocab },
    threads,
    tokens: o.decode ?? 32,
    context: o.context ?? 0,
    activation: o.activation,
    seed: o.seed,
    makeBackend: (t, extra) => createBackend(o.backend, { threads: t, ...extra }),
  });
  if (o.out) writeJsonFile(o.out, rep);
  if (o.json) return printJson(rep);
  const be = (rep.machine.backend ?? {}) as Record<string, unknown>;
  process.stdout.write(`decode step profile: ${rep.shape.layers} layers, dim ${rep.shape.dim}, ffn ${rep.shape.ffn}, vocab ${rep.shape.vocab}; ${threads} threads, context ${rep.context}, ${rep.tokens} steps; node ${rep.machine.node}, wasm ${String(be.simd ?? '?')}\n`);
  printTable(
    ['part', 'calls/token', 'ms/token', 'share', 'weight MB/token', 'GB/s'],
    rep.rows.map((r) => [r.part, fixed(r.calls_per_token, 0), fixed(r.ms_per_token, 3), `${fixed(100 * r.share, 1)} %`, r.bytes_per_token === undefined ? '' : fixed(r.bytes_per_token / 1e6, 1), r.gbps === undefined ? '' : fixed(r.gbps, 2)]),
  );
  process.stdout.write(`total ${fixed(rep.ms_per_token, 2)} ms/token (${fixed(1000 / rep.ms_per_token, 2)} tok/s; median step ${fixed(rep.median_step_ms, 2)} ms)\n`);
  process.stdout.write(`one 16×${rep.shape.dim} linear call: ${fixed(rep.fixed_call_ms * 1000, 1)} µs on the calling thread, ${fixed(rep.pooled_call_ms * 1000, 1)} µs through the pool\n`);
}
