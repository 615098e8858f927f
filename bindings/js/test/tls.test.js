// TLS through the Client: implicit TLS and STARTTLS with a throwaway CA (openssl) given
// as extraRootsPem, a certificate name apart from the IP connected to, and an untrusted
// certificate as SmtpError kind 'tls'.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from '../src/index.js';
import { startAiosmtpd } from './aiosmtpd.js';

let dir, ca, implicit, starttls;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smtp-tls-'));
  const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf');
  ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
  const cert = ['--tls-cert', join(dir, 'server.pem'), '--tls-key', join(dir, 'server.key')];
  implicit = await startAiosmtpd(...cert, '--implicit-tls');
  starttls = await startAiosmtpd(...cert);
});
after(async () => {
  await implicit.stop();
  await starttls.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('connectTls to an IP literal verifies the name given apart', async () => {
  const c = new Client();
  try {
    const greeting = await c.connectTls('127.0.0.1', implicit.port, { serverName: 'localhost', extraRootsPem: ca });
    assert.equal(greeting.code, 220);
    assert.equal(await c.isTls(), true);
    assert.deepEqual(await c.sendmail('tls@example.com', 'b@example.com', 'x\r\n'), []);
    assert.equal(implicit.messages().at(-1).envelope.mail_from, 'tls@example.com');
    await c.quit();
  } finally { await c.dispose(); }
});

test('starttls, and an untrusted certificate rejected as kind tls', async () => {
  const c = new Client();
  try {
    await c.connect('localhost', starttls.port);
    assert.equal((await c.starttls({ extraRootsPem: ca })).code, 220);
    assert.equal(await c.isTls(), true);
    await c.quit();
    await assert.rejects(c.connectTls('localhost', implicit.port), (e) => e.kind === 'tls');
  } finally { await c.dispose(); }
});
