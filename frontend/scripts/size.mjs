#!/usr/bin/env node
// Reports the gzip size of the JavaScript a first visit downloads (the entry
// chunk and everything it imports statically, recursively) and of all the
// JavaScript in the build, from dist/.vite/manifest.json (build.manifest in
// vite.config.ts). Exits 1 when the initial JS is over the budget.
//
// Usage: node scripts/size.mjs [distDir]   (env SIZE_BUDGET_KB overrides the budget)
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

/** Budget for the initial JS, in kB of gzip (1 kB = 1000 bytes, as Vite prints). */
const BUDGET_KB = Number(process.env.SIZE_BUDGET_KB ?? 130);

const dist = resolve(process.argv[2] ?? 'dist');

/** @typedef {{ file: string, src?: string, isEntry?: boolean, isDynamicEntry?: boolean, imports?: string[], dynamicImports?: string[] }} Chunk */

/** @returns {Record<string, Chunk>} */
function readManifest() {
  const path = join(dist, '.vite', 'manifest.json');
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    console.error(`size: cannot read ${path} (run "npm run build" first): ${err instanceof Error ? err.message : err}`);
    process.exit(2);
  }
}

/** @param {string} file */
function sizes(file) {
  const buf = readFileSync(join(dist, file));
  return { raw: buf.length, gzip: gzipSync(buf, { level: 9 }).length };
}

const kb = (/** @type {number} */ bytes) => (bytes / 1000).toFixed(2);

const manifest = readManifest();
const entries = Object.keys(manifest).filter((key) => manifest[key]?.isEntry);
if (entries.length === 0) {
  console.error('size: the manifest has no entry chunk');
  process.exit(2);
}

// Entry chunks plus their static imports, recursively: what loads before the app runs.
const initial = new Set();
const visit = (/** @type {string} */ key) => {
  const chunk = manifest[key];
  if (!chunk || initial.has(chunk.file)) return;
  initial.add(chunk.file);
  for (const dep of chunk.imports ?? []) visit(dep);
};
entries.forEach(visit);

const jsFiles = [...new Set(Object.values(manifest).map((c) => c.file))].filter((f) => f.endsWith('.js')).sort();
const rows = jsFiles.map((file) => ({ file, initial: initial.has(file), ...sizes(file) }));

const sum = (/** @type {typeof rows} */ rs, /** @type {'raw' | 'gzip'} */ k) => rs.reduce((n, r) => n + r[k], 0);
const initialRows = rows.filter((r) => r.initial);
const initialGzip = sum(initialRows, 'gzip');

const width = Math.max(...rows.map((r) => r.file.length), 'total JS'.length);
const line = (/** @type {string} */ name, /** @type {string} */ kind, /** @type {number} */ raw, /** @type {number} */ gz) =>
  `${name.padEnd(width)}  ${kind.padEnd(7)}  ${kb(raw).padStart(9)}  ${kb(gz).padStart(9)}`;

console.log(`${'file'.padEnd(width)}  ${'load'.padEnd(7)}  ${'raw kB'.padStart(9)}  ${'gzip kB'.padStart(9)}`);
for (const r of rows) console.log(line(r.file, r.initial ? 'initial' : 'lazy', r.raw, r.gzip));
console.log('-'.repeat(width + 31));
console.log(line('initial JS', '', sum(initialRows, 'raw'), initialGzip));
console.log(line('total JS', '', sum(rows, 'raw'), sum(rows, 'gzip')));

if (initialGzip > BUDGET_KB * 1000) {
  console.error(`\nsize: initial JS is ${kb(initialGzip)} kB gzip, over the ${BUDGET_KB} kB budget`);
  process.exit(1);
}
console.log(`\nsize: initial JS ${kb(initialGzip)} kB gzip, within the ${BUDGET_KB} kB budget`);
