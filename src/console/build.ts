// Builds the console's page (part of `npm run build`): bundles src/console/page with esbuild into dist/console
// (one script, one stylesheet, the HTML), so the daemon serves it without anything fetched at run time.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const page = join(root, 'src/console/page');
const out = join(root, 'dist/console');

mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(page, 'main.tsx')],
  outfile: join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  minify: true,
  sourcemap: false,
  target: 'es2022',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
for (const f of ['index.html', 'app.css']) copyFileSync(join(page, f), join(out, f));
