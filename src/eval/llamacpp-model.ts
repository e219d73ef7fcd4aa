/**
 * llamacpp-model — a GGUF model run by llama.cpp through node-llama-cpp (a devDependency, CPU
 * build, `getLlama({gpu: false, build: 'never'})`), timed the way llama-bench does: prompt
 * processing (one batch of n tokens into an empty context) and decoding (n tokens generated one
 * at a time from BOS, greedy). Used by `tritwise bench --model` for the side-by-side.
 *
 * Optional tooling: without node-llama-cpp, open() throws E_UNSUPPORTED.
 */
import { TritwiseError } from '../errors.js';

// node-llama-cpp's types, reduced to what is used here (it is a devDependency, loaded lazily)
interface NlcSequence {
  clearHistory(): Promise<void>;
  evaluateWithoutGeneratingNewTokens(tokens: number[]): Promise<void>;
  evaluate(tokens: number[], opts: { temperature: number }): AsyncGenerator<number>;
}
interface NlcContext {
  getSequence(): NlcSequence;
  dispose(): Promise<void>;
}
interface NlcModel {
  createContext(o: Record<string, unknown>): Promise<NlcContext>;
  dispose(): Promise<void>;
}
interface NlcLlama {
  loadModel(o: { modelPath: string }): Promise<NlcModel>;
  dispose(): Promise<void>;
  readonly cpuMathCores?: number;
}

export const NODE_LLAMA_CPP = 'node-llama-cpp 3.21.1';

export class LlamaCppModel {
  private constructor(
    readonly llama: NlcLlama,
    readonly model: NlcModel,
    readonly ctx: NlcContext,
    readonly seq: NlcSequence,
    readonly threads: number,
  ) {}

  /** Load `path` with a context of `contextSize` tokens on `threads` threads (batch = ubatch = 512). */
  static async open(path: string, threads: number, contextSize: number): Promise<LlamaCppModel> {
    let getLlama: (o: Record<string, unknown>) => Promise<NlcLlama>;
    try {
      ({ getLlama } = (await import('node-llama-cpp')) as unknown as { getLlama: typeof getLlama });
    } catch (e) {
      throw new TritwiseError('E_UNSUPPORTED', 'node-llama-cpp is not installed', { where: 'llama.cpp comparison', expected: `the ${NODE_LLAMA_CPP} devDependency`, got: String(e), cause: e });
    }
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
    const model = await llama.loadModel({ modelPath: path });
    const ctx = await model.createContext({ contextSize, threads, batchSize: 512 });
    return new LlamaCppModel(llama, model, ctx, ctx.getSequence(), threads);
  }

  /** Milliseconds to evaluate `tokens` as one prompt into an empty context. */
  async prompt(tokens: number[]): Promise<number> {
    await this.seq.clearHistory();
    const t0 = performance.now();
    await this.seq.evaluateWithoutGeneratingNewTokens(tokens);
    return performance.now() - t0;
  }

  /** Generate n tokens greedily after `bos` from an empty context: the ids and the milliseconds. */
  async decode(bos: number, n: number): Promise<{ ids: number[]; ms: number }> {
    await this.seq.clearHistory();
    const ids: number[] = [];
    const t0 = performance.now();
    if (n > 0) {
      for await (const t of this.seq.evaluate([bos], { temperature: 0 })) {
        ids.push(Number(t));
        if (ids.length >= n) break;
      }
    }
    return { ids, ms: performance.now() - t0 };
  }

  async dispose(): Promise<void> {
    await this.ctx.dispose();
    await this.model.dispose();
    await this.llama.dispose();
  }
}
