// Transpiles the smtp component into gen/ with jco (ES module, TypeScript types). The
// component is SMTP_COMPONENT_WASM, else the checkout's, built by scripts/build-component
// (which rebuilds only when the sources changed). Skips the transpile when gen/ is newer
// than the component. Runs before `npm pack` (prepack), so the tarball carries gen/ and
// needs no build step where it is installed.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const root = join(here, '..', '..');
let wasm = process.env.SMTP_COMPONENT_WASM;
if (!wasm) {
  const out = execFileSync(join(root, 'scripts', 'build-component'), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  wasm = out.trim().split('\n').pop();
}
const gen = join(here, 'gen');
const stamp = join(gen, 'smtp.js');
if (existsSync(stamp) && statSync(stamp).mtimeMs >= statSync(wasm).mtimeMs) {
  process.exit(0);
}
rmSync(gen, { recursive: true, force: true });
execFileSync(
  join(here, 'node_modules', '.bin', 'jco'),
  ['transpile', wasm, '--name', 'smtp', '--out-dir', gen, '--quiet'],
  { stdio: 'inherit' },
);
console.error(`transpiled ${wasm} -> ${gen}`);
