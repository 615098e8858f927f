// Transpiles the smtp component into gen/ with jco (ES module, TypeScript types). The
// component is SMTP_COMPONENT_WASM, else the checkout's, built by scripts/build-component
// (which rebuilds only when the sources changed). Skips the transpile when gen/ is newer
// than the component. Runs before `npm pack` (prepack), so the tarball carries gen/ and
// needs no build step where it is installed.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
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
if (!existsSync(stamp) || statSync(stamp).mtimeMs < statSync(wasm).mtimeMs) {
  rmSync(gen, { recursive: true, force: true });
  execFileSync(
    join(here, 'node_modules', '.bin', 'jco'),
    ['transpile', wasm, '--name', 'smtp', '--out-dir', gen, '--quiet'],
    { stdio: 'inherit' },
  );
  console.error(`transpiled ${wasm} -> ${gen}`);
}
// The package's version is the component's (its WIT package's): refuse to pack a
// mismatch, as scripts/wit-package does for Cargo.toml and wit/.
const wit = readFileSync(stamp, 'utf8').match(/smtplib:smtp\/client@([0-9]+\.[0-9]+\.[0-9]+[-+.a-zA-Z0-9]*)/);
const { version } = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
if (!wit || wit[1] !== version) {
  console.error(`package.json has version ${version}, the component exports smtplib:smtp/client@${wit && wit[1]}`);
  process.exit(1);
}
