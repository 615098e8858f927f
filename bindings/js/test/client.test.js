// smtp-component's Client against aiosmtpd: `node --test test/`.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client, SmtpError } from '../src/index.js';
import { startAiosmtpd } from './aiosmtpd.js';

let aio;
before(async () => { aio = await startAiosmtpd('--auth', 'alice:s3cret', '--auth-in-clear'); });
after(async () => { await aio.stop(); });

test('sendmail delivers a string and bytes exactly', async () => {
  const c = new Client({ timeoutMs: 10000 });
  try {
    const greeting = await c.connect('127.0.0.1', aio.port);
    assert.equal(greeting.code, 220);
    assert.deepEqual(await c.sendmail('a@example.com', ['b@example.com'], 'Subject: s\r\n\r\nhello\r\n'), []);
    const bytes = Buffer.from('Subject: b\r\n\r\n\xe9t\xe9\r\n', 'latin1');
    assert.deepEqual(await c.sendmail('a@example.com', 'b@example.com', bytes), []);
    const [first, second] = aio.messages().slice(-2);
    assert.equal(first.envelope.mail_from, 'a@example.com');
    assert.equal(first.data.toString(), 'Subject: s\r\n\r\nhello\r\n');
    assert.deepEqual(second.data, bytes);
    assert.equal((await c.quit()).code, 221);
  } finally { await c.dispose(); }
});

test('refusals: per recipient, and SmtpError with kind when all are refused', async () => {
  const c = new Client();
  try {
    await c.connect(aio.server);
    const refused = await c.sendmail('a@example.com', ['ok@example.com', 'refuse@example.com'], 'x\r\n');
    assert.equal(refused.length, 1);
    assert.equal(refused[0].recipient, 'refuse@example.com');
    assert.equal(refused[0].reply.code, 550);
    await assert.rejects(c.sendmail('a@example.com', ['refuse2@example.com'], 'x\r\n'), (e) => {
      assert.ok(e instanceof SmtpError);
      assert.equal(e.kind, 'recipients-refused');
      assert.equal(e.refusals[0].recipient, 'refuse2@example.com');
      return true;
    });
    await assert.rejects(c.sendmail('a@example.com', ['b@example.com\r\nRCPT TO:<x@y>'], 'x'),
      (e) => e.kind === 'invalid-argument');
  } finally { await c.dispose(); }
});

test('sendMessage, ehlo, login and the steps of a caller\'s own AUTH', async () => {
  const c = new Client();
  try {
    await c.connect(aio.server);
    const ehlo = await c.ehlo();
    assert.equal(ehlo.code, 250);
    assert.ok(await c.hasExtn('size'));
    assert.ok((await c.esmtpFeatures()).some((e) => e.name === 'auth'));
    let step = await c.authStart('LOGIN');
    assert.equal(step.tag, 'challenge');
    step = await c.authContinue('alice');
    step = await c.authContinue('s3cret');
    assert.equal(step.tag, 'done');
    assert.equal(step.val.code, 235);
    const msg = 'From: A <a@example.com>\r\nTo: b@example.com\r\nBcc: c@example.com\r\n\r\nhi\r\n';
    assert.deepEqual(await c.sendMessage(msg), []);
    const last = aio.messages().at(-1);
    assert.deepEqual(last.envelope.rcpt_tos.sort(), ['b@example.com', 'c@example.com']);
    assert.ok(!last.data.toString().includes('Bcc'));
    await c.quit();
    const d = new Client();
    await d.connect(aio.server);
    await assert.rejects(d.login('alice', 'wrong'), (e) => e.kind === 'authentication-error' && e.code === 535);
    await d.dispose();
  } finally { await c.dispose(); }
});

test('errors before connecting and for a closed port', async () => {
  const c = new Client({ timeoutMs: 3000 });
  try {
    await assert.rejects(c.noop(), (e) => e.kind === 'server-disconnected');
    await assert.rejects(c.connect('127.0.0.1', 1), (e) => e.kind === 'io');
    assert.equal(await c.isConnected(), false);
  } finally { await c.dispose(); }
});
