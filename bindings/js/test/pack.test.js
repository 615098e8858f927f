// What a user gets: `npm pack`, the tarball installed into an empty project (no build
// step there), and a script that `await client.sendmail(...)`s to aiosmtpd while a
// setInterval keeps ticking through the server's 1.5 s pause.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startAiosmtpd } from './aiosmtpd.js';

const here = dirname(dirname(fileURLToPath(import.meta.url)));

test('the npm pack tarball installs into an empty project and sends', async () => {
  const work = mkdtempSync(join(tmpdir(), 'smtp-pack-'));
  const aio = await startAiosmtpd('--data-delay', '1.5');
  try {
    const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: here, encoding: 'utf8' })
      .trim().split('\n').pop();
    const project = join(work, 'app');
    execFileSync('mkdir', [project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', join(work, tarball)], { cwd: project });
    writeFileSync(join(project, 'send.mjs'), `
import { Client } from 'smtp-component';
const client = new Client();
await client.connect(process.env.SMTP_SERVER);
let ticks = 0;
const timer = setInterval(() => ticks++, 100);
const refused = await client.sendmail('pack@example.com', ['b@example.com'], 'Subject: packed\\r\\n\\r\\nhi\\r\\n');
clearInterval(timer);
await client.quit();
console.log(JSON.stringify({ refused, ticks }));
`);
    const out = execFileSync('node', ['send.mjs'], { cwd: project, encoding: 'utf8', env: { ...process.env, SMTP_SERVER: aio.server } });
    const { refused, ticks } = JSON.parse(out.trim().split('\n').pop());
    assert.deepEqual(refused, []);
    assert.ok(ticks >= 12, `the interval ticked ${ticks} times in the 1.5 s pause (expected ~15)`);
    const [stored] = aio.messages();
    assert.equal(stored.envelope.mail_from, 'pack@example.com');
    assert.equal(stored.data.toString(), 'Subject: packed\r\n\r\nhi\r\n');
  } finally {
    await aio.stop();
    rmSync(work, { recursive: true, force: true });
  }
});
