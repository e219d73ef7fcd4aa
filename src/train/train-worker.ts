/**
 * train-worker — one data-parallel training thread (parallel.ts). It rebuilds the training
 * model (and the distillation teacher) from the weights in workerData, then answers each
 * message { params, batch, seed, blend? }: copy the parameters (and the QAT blend λ) in, run the loss and its backward pass
 * seeded with `seed`, and send back the gradients (null for a parameter that got none) and the loss.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TritwiseError } from '../errors.js';
import { TrainModel, type Distill } from './llama-train.js';
import { fromWire, type WireModel, type WorkerInit, type WorkerReply, type WorkerStep } from './parallel.js';
import { Tape } from './tape.js';
import { loadWasmGemm } from './wasm-kernels.js';

const init = workerData as WorkerInit;
const build = (m: WireModel, spec = m.spec) => TrainModel.fromWeights(m.config, new Map([...m.weights].map(([k, v]) => [k, fromWire(v)])), spec, m.activations);
const model = build(init.model);
let distill: Distill | undefined;
if (init.teacher && init.distill) {
  const teacher = build(init.teacher, { mode: 'frozen' });
  distill = init.distill.kind === 'kl' ? { kind: 'kl', teacher, alpha: init.distill.alpha, temperature: init.distill.temperature } : { kind: 'cosine', teacher, alpha: init.distill.alpha };
}
const params = [...model.parameters().values()];
const ready = init.wasm ? loadWasmGemm() : Promise.resolve(false);

parentPort!.on('message', async (m: WorkerStep) => {
  await ready;
  try {
    if (m.params.length !== params.length) throw new TritwiseError('E_SHAPE', 'parameter count differs from the main thread', { where: 'training worker', expected: params.length, got: m.params.length });
    params.forEach((p, i) => {
      p.data.set(m.params[i]!);
      p.grad?.fill(0);
    });
    model.quantBlend = m.blend ?? 1;
    const tape = new Tape(true);
    const missing = m.batch.soft ? m.batch.soft.have.includes(0) : false;
    const r = model.loss(tape, m.batch, { ...init.loss, distill });
    tape.backward(r.loss, [m.seed]);
    const grads = params.map((p) => (p.grad ? p.grad.slice() : null));
    // soft targets this thread computed go back to the main thread's cache
    const reply: WorkerReply = { grads, loss: r.loss.data[0]!, ...(missing ? { soft: m.batch.soft } : {}) };
    parentPort!.postMessage(reply, grads.flatMap((g) => (g ? [g.buffer] : [])));
  } catch (e) {
    const err = e as Error & { code?: string };
    parentPort!.postMessage({ error: { message: err.message, code: err.code } } satisfies WorkerReply);
  }
});
