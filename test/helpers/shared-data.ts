/**
 * shared-data — locating ../shared/data for tests that need real models and text.
 *
 * In CI (env CI set) a missing folder or file is a loud failure. Outside CI the test is skipped
 * with a printed reason, never passed silently.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SHARED_DATA = process.env.TRITWISE_DATA ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/data');

/** Path of a shared data file, or null when absent outside CI (after printing why). Throws in CI. */
export function sharedFile(name: string): string | null {
  const p = join(SHARED_DATA, name);
  if (existsSync(p)) return p;
  const msg = `shared test data not found: ${p} (set TRITWISE_DATA or place ../shared/data beside the project)`;
  if (process.env.CI) throw new Error(msg);
  console.warn(`SKIP: ${msg}`);
  return null;
}
