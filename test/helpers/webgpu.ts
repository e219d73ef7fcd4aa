/**
 * webgpu — the test helper that opens the webgpu backend. Without an adapter (no GPU and no
 * software driver installed) the webgpu tests are skipped with the reason printed — except
 * under CI (env CI set), where .ci/run installs lavapipe and a missing adapter is a failure.
 */
import { WebGpuBackend } from '../../src/backend/webgpu/webgpu-backend.js';

let probe: Promise<string | null> | null = null;

/** null when an adapter opens, else the reason it does not. */
export function webgpuUnavailable(): Promise<string | null> {
  probe ??= WebGpuBackend.create()
    .then(async (b) => {
      await b.dispose();
      return null;
    })
    .catch((e: Error) => e.message);
  return probe;
}
