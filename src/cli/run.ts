/**
 * `tritwise run <model> --prompt …` — stream a generation to stdout; tokens per second on stderr.
 */
import type { Command } from 'commander';
import { RUN_BACKEND, addAttentionFlag, addModelFlags, intArg, numArg, openModel, type ModelFlags } from './model-options.js';
import { fixed } from './output.js';

export function registerRun(program: Command): void {
  const cmd = program
    .command('run')
    .description('generate text from a prompt, streaming tokens; prints tokens/s at the end')
    .argument('<model>', 'checkpoint file or folder (llama2.c needs --tokenizer)')
    .option('-p, --prompt <text>', 'the prompt (default: empty, i.e. start from BOS)', '')
    .option('-n, --max-tokens <n>', 'tokens to generate', intArg, 128)
    .option('-t, --temperature <t>', 'sampling temperature (0 = greedy)', numArg, 0)
    .option('--top-p <p>', 'nucleus sampling mass (1 = off)', numArg, 1)
    .option('--seed <s>', 'PRNG seed', intArg, 42);
  addAttentionFlag(addModelFlags(cmd, RUN_BACKEND)).action(async (path: string, opts: ModelFlags & { prompt: string; maxTokens: number; temperature: number; topP: number; seed: number }) => {
    const model = await openModel(path, opts);
    try {
      process.stdout.write(opts.prompt);
      const t0 = performance.now();
      let n = 0;
      for await (const t of model.generate(opts.prompt, { maxTokens: opts.maxTokens, temperature: opts.temperature, topP: opts.topP, seed: opts.seed })) {
        process.stdout.write(t.text);
        n++;
      }
      const s = (performance.now() - t0) / 1000;
      process.stdout.write('\n');
      process.stderr.write(`${n} tokens in ${fixed(s, 2)} s: ${fixed(n / s, 1)} tokens/s (backend ${model.backend.name})\n`);
    } finally {
      await model.dispose();
    }
  });
}
