// Trunk's post_build hook: write X.br (brotli, quality 11) and X.gz (gzip,
// level 9) beside every text and wasm file of the staged bundle, when
// smaller than the file, so the server sends them (server/src/
// static_files.rs) whichever way the bundle was built. `cargo xtask`
// writes the variants again after its build (xtask/src/tools.rs), the gzip
// one by Zopfli: ~5 % smaller than zlib's level 9, too slow for every build.
import { readdirSync, readFileSync, writeFileSync, rmSync, statSync } from 'node:fs';
import { join, extname } from 'node:path';
import { brotliCompressSync, gzipSync, constants } from 'node:zlib';

const EXTS = new Set(['.js', '.wasm', '.css', '.html', '.json', '.svg', '.txt']);
const dir = process.argv[2];
for (const name of readdirSync(dir)) {
  const path = join(dir, name);
  if (!statSync(path).isFile() || !EXTS.has(extname(name))) continue;
  const data = readFileSync(path);
  const br = brotliCompressSync(data, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 11,
      [constants.BROTLI_PARAM_LGWIN]: 22,
      [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  });
  const gz = gzipSync(data, { level: 9 });
  for (const [ext, bytes] of [['br', br], ['gz', gz]]) {
    if (bytes.length < data.length) writeFileSync(`${path}.${ext}`, bytes);
    else rmSync(`${path}.${ext}`, { force: true });
  }
}
