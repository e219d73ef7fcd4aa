/**
 * shader-source — where the WGSL text comes from. In Node the files in shaders/ are read from
 * disk (node-gpu.ts); the browser bundle registers them at start (the web build inlines them).
 * Each shader may need a prelude the host chooses per device (for example the int8 dot product
 * or the f16 type), prepended by the pipeline cache.
 */
const sources = new Map<string, string>();
let fileLoader: ((name: string) => Promise<string>) | null = null;

export function registerShaderSources(rec: Record<string, string>): void {
  for (const [k, v] of Object.entries(rec)) sources.set(k, v);
}

export function setShaderLoader(f: (name: string) => Promise<string>): void {
  fileLoader = f;
}

export async function shaderSource(name: string): Promise<string> {
  const s = sources.get(name);
  if (s !== undefined) return s;
  if (!fileLoader) fileLoader = (await import('./node-gpu.js')).readShaderFile;
  const text = await fileLoader(name);
  sources.set(name, text);
  return text;
}
