/**
 * `tritwise serve` — serve the browser demo (dist/web, built by `npm run build`) over HTTP, with
 * the cross-origin isolation headers (COOP same-origin, COEP require-corp) that make
 * SharedArrayBuffer — and so the WASM backend's shared memory and worker threads — available.
 * Files outside the demo folder are never served.
 */
import type { Command } from 'commander';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TritwiseError } from '../errors.js';
import { intArg } from './model-options.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** dist/web of this package. */
export function demoRoot(): string {
  return fileURLToPath(new URL('../../dist/web/', import.meta.url));
}

export interface DemoServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function serveDemo(opts: { root?: string; host?: string; port?: number } = {}): Promise<DemoServer> {
  const root = opts.root ?? demoRoot();
  if (!existsSync(join(root, 'index.html'))) {
    throw new TritwiseError('E_IO', 'the browser demo is not built', { where: root, expected: 'index.html and tritwise-demo.js from `npm run build`', got: 'missing' });
  }
  const server = createServer((req, res) => {
    const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cross-Origin-Resource-Policy': 'same-origin', 'Cache-Control': 'no-store' };
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      res.writeHead(400, headers).end('bad request');
      return;
    }
    const file = normalize(join(root, path.endsWith('/') ? path + 'index.html' : path));
    if (!file.startsWith(normalize(root.endsWith(sep) ? root : root + sep)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new TritwiseError('E_IO', 'cannot listen', { where: `${opts.host ?? '127.0.0.1'}:${opts.port ?? 8080}`, got: e.message, cause: e })));
    server.listen(opts.port ?? 8080, opts.host ?? '127.0.0.1', () => resolve());
  });
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : opts.port;
  const host = opts.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    server,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the browser demo (WebGPU with a WASM fallback) with cross-origin isolation headers')
    .option('--port <n>', 'port (0 = any free port)', intArg, 8080)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .action(async (o: { port: number; host: string }) => {
      const s = await serveDemo({ host: o.host, port: o.port });
      process.stdout.write(`tritwise demo at ${s.url} (Ctrl-C to stop)\n`);
      await new Promise<void>((resolve) => {
        const stop = () => void s.close().then(resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
