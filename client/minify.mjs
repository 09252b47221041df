// Trunk's post_build hook, before precompress.mjs: minify the wasm-bindgen
// glue (livedash-client-*.js, 66 KB as wasm-bindgen writes it: 9.8 KB gzip
// → 7.8) and the stylesheet (style-*.css: 5.1 KB gzip → 3.9) with esbuild,
// already here for ECharts, and drop index.html's comments (they document
// the source, not the page: 1.5 KB gzip → 1.0). Trunk's own minifier stays
// off: its JS minifier is not esbuild's, and it would rewrite the inline
// scripts. File names do not change (Trunk hashed them from the sources and
// index.html refers to them); the stylesheet's `integrity` in index.html is
// rewritten to the minified file's SHA-384.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { transformSync } from 'esbuild';

const dir = process.argv[2];
const sri = (bytes) => `sha384-${createHash('sha384').update(bytes).digest('base64')}`;
// Old integrity value → new one, for index.html.
const integrity = new Map();
for (const name of readdirSync(dir)) {
  const loader = /^livedash-client-.*\.js$/.test(name) ? 'js' : /^style-.*\.css$/.test(name) ? 'css' : null;
  if (!loader) continue;
  const path = join(dir, name);
  const source = readFileSync(path);
  const out = transformSync(source.toString('utf8'), {
    loader,
    minify: true,
    // The glue is an ES module that finds its wasm by import.meta.url.
    format: loader === 'js' ? 'esm' : undefined,
    target: loader === 'js' ? 'es2020' : undefined,
    legalComments: 'none',
    logLevel: 'warning',
  });
  writeFileSync(path, out.code);
  integrity.set(sri(source), sri(Buffer.from(out.code)));
}
const page = join(dir, 'index.html');
const html = readFileSync(page, 'utf8')
  // Comments only (the inline scripts hold none), with the blank lines
  // they would leave.
  .replace(/[ \t]*<!--[\s\S]*?-->[ \t]*\n?/g, '')
  .replace(/integrity="(sha384-[^"]+)"/g, (all, old) =>
    integrity.has(old) ? `integrity="${integrity.get(old)}"` : all);
writeFileSync(page, html);
