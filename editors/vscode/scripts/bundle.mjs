// Bundle the extension (Node, CommonJS, `vscode` left external) and the chat webview (browser, IIFE)
// with esbuild. `--tests` also bundles test/*.test.ts into dist-test/ for `node --test`.
import { build } from 'esbuild';
import { readdirSync } from 'node:fs';

const common = { bundle: true, sourcemap: false, logLevel: 'warning', legalComments: 'none' };
const production = !process.argv.includes('--dev');

await build({
  ...common,
  entryPoints: ['src/extension.ts'],
  outfile: 'dist/extension.js',
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['vscode'],
  minify: production,
});

await build({
  ...common,
  entryPoints: ['src/webview/chat.ts'],
  outfile: 'dist/chat.js',
  platform: 'browser',
  format: 'iife',
  target: 'es2022',
  minify: production,
});

if (process.argv.includes('--tests')) {
  const tests = readdirSync('test').filter((name) => name.endsWith('.test.ts')).map((name) => `test/${name}`);
  await build({
    ...common,
    entryPoints: tests,
    outdir: 'dist-test',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outExtension: { '.js': '.cjs' },
  });
}
