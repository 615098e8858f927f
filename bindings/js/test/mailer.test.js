// sendMail and compose against aiosmtpd, the messages parsed back by Python's `email`
// (a parser nobody here wrote): `node --test test/`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { Client, SmtpError, compose, sendMail } from '../src/index.js';
import { python, startAiosmtpd } from './aiosmtpd.js';

// Reads a message on stdin with Python's email package; prints its structure as JSON.
const PARSE = `
import base64, email, email.policy, json, sys
msg = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
def text(sub):
    part = msg.get_body((sub,))
    return part.get_content().replace("\\r\\n", "\\n") if part is not None else None
print(json.dumps({
    "type": msg.get_content_type(),
    "subject": msg["Subject"],
    "from": [[a.display_name, a.addr_spec] for a in msg["From"].addresses],
    "to": [a.addr_spec for a in msg["To"].addresses] if msg["To"] else [],
    "bcc": msg["Bcc"],
    "messageId": msg["Message-ID"],
    "date": msg["Date"].datetime.timestamp() if msg["Date"] else None,
    "headers": {k: str(v) for k, v in msg.items() if k.startswith("X-")},
    "text": text("plain"),
    "html": text("html"),
    "attachments": [{"filename": a.get_filename(), "type": a.get_content_type(),
                     "content": base64.b64encode(a.get_content()).decode()}
                    for a in msg.iter_attachments()],
}))
`;

function parse(data) {
  return JSON.parse(execFileSync(python, ['-c', PARSE], { input: Buffer.from(data) }));
}

const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.from([...Array(1024).keys()].map((i) => i % 256))]);

let aio;
before(async () => { aio = await startAiosmtpd('--auth', 'alice:s3cret', '--auth-in-clear'); });
after(async () => { await aio.stop(); });

const transport = (extra = {}) => ({ host: '127.0.0.1', port: aio.port, security: 'none', timeoutMs: 10000, ...extra });
const mail = (extra = {}) => ({
  from: { name: 'Ann Example', address: 'ann@example.com' },
  to: ['bob@example.com', { name: 'Carol', address: 'carol@example.com' }],
  bcc: 'hidden@example.com',
  subject: 'Report été',
  text: 'Hello in text.\n',
  html: '<p>Hello in <b>HTML</b>.</p>\n',
  attachments: [{ filename: 'chart.png', contentType: 'image/png', content: PNG }],
  ...extra,
});

test('sendMail: text, HTML and an attachment, parsed back by Python\'s email', async () => {
  const delivery = await sendMail(transport({ credentials: { user: 'alice', password: 's3cret' } }), mail());
  assert.equal(delivery.reply.code, 250);
  assert.deepEqual(delivery.accepted.map((r) => r.recipient),
    ['bob@example.com', 'carol@example.com', 'hidden@example.com']);
  assert.ok(delivery.accepted.every((r) => r.reply.code === 250));
  assert.deepEqual(delivery.refused, []);
  assert.equal(typeof delivery.elapsedMs, 'number');
  const { envelope, data } = aio.messages().at(-1);
  assert.equal(envelope.mail_from, 'ann@example.com');
  assert.equal(envelope.auth_user, 'alice');
  assert.deepEqual(envelope.rcpt_tos.sort(), ['bob@example.com', 'carol@example.com', 'hidden@example.com']);
  assert.ok(!data.toString('latin1').includes('hidden'));
  const msg = parse(data);
  assert.equal(msg.type, 'multipart/mixed');
  assert.equal(msg.subject, 'Report été');
  assert.deepEqual(msg.from, [['Ann Example', 'ann@example.com']]);
  assert.deepEqual(msg.to, ['bob@example.com', 'carol@example.com']);
  assert.equal(msg.bcc, null);
  assert.equal(msg.text, 'Hello in text.\n');
  assert.equal(msg.html, '<p>Hello in <b>HTML</b>.</p>\n');
  assert.equal(msg.attachments.length, 1);
  assert.equal(msg.attachments[0].filename, 'chart.png');
  assert.equal(msg.attachments[0].type, 'image/png');
  assert.deepEqual(Buffer.from(msg.attachments[0].content, 'base64'), PNG);
});

test('sendMail: refused recipients in the delivery; all refused rejects', async () => {
  const delivery = await sendMail(transport(), mail({ to: ['ok@example.com', 'refuse@example.com'], bcc: [] }));
  assert.deepEqual(delivery.accepted.map((r) => r.recipient), ['ok@example.com']);
  assert.deepEqual(delivery.refused.map((r) => r.recipient), ['refuse@example.com']);
  assert.equal(delivery.refused[0].reply.code, 550);
  const before = aio.messages().length;
  await assert.rejects(sendMail(transport(), mail({ to: 'refuse1@example.com', bcc: [] })), (e) => {
    assert.ok(e instanceof SmtpError);
    assert.equal(e.kind, 'recipients-refused');
    assert.equal(e.refusals[0].reply.code, 550);
    return true;
  });
  assert.equal(aio.messages().length, before);
});

test('sendMail: REQUIRETLS in clear is not-supported and nothing is sent', async () => {
  const before = aio.messages().length;
  await assert.rejects(sendMail(transport(), mail({ requireTls: true })), (e) => {
    assert.ok(e instanceof SmtpError);
    assert.equal(e.kind, 'not-supported');
    assert.match(e.message, /REQUIRETLS/i);
    return true;
  });
  // STARTTLS is the default security, and aiosmtpd here offers none: not-supported.
  await assert.rejects(sendMail({ host: '127.0.0.1', port: aio.port }, mail()), (e) => e.kind === 'not-supported');
  assert.equal(aio.messages().length, before);
});

test('sendMail: bad input rejects with invalid-argument or a TypeError', async () => {
  await assert.rejects(sendMail(transport(), mail({ to: 'not an address' })), (e) => e.kind === 'invalid-argument');
  await assert.rejects(sendMail(transport({ credentials: { user: 'alice', password: 'wrong' } }), mail()),
    (e) => e.kind === 'authentication-error' && e.code === 535);
  await assert.rejects(compose(mail({ headers: { Subject: 'twice' } })), (e) => e.kind === 'invalid-argument');
  await assert.rejects(compose(mail({ to: [42] })), TypeError);
  await assert.rejects(sendMail({ port: 25 }, mail()), TypeError);
});

test('compose: bytes that Python\'s email parses, without Bcc', async () => {
  const data = await compose(mail({
    date: new Date(1700000000 * 1000), messageId: 'abc.123@example.com', headers: { 'X-Mailer': 'tests' },
  }));
  assert.ok(data instanceof Uint8Array);
  assert.ok(Buffer.from(data).includes('\r\n'));
  assert.ok(!Buffer.from(data).includes('hidden@example.com'));
  const msg = parse(data);
  assert.equal(msg.messageId, '<abc.123@example.com>');
  assert.equal(msg.date, 1700000000);
  assert.deepEqual(msg.headers, { 'X-Mailer': 'tests' });
  assert.equal(msg.text, 'Hello in text.\n');
  assert.deepEqual(Buffer.from(msg.attachments[0].content, 'base64'), PNG);
});

test('Client.sendWith and sendBytesWith over an open connection', async () => {
  const c = new Client({ timeoutMs: 10000 });
  try {
    await c.connect(aio.server);
    const delivery = await c.sendWith(mail({ bcc: [] }));
    assert.deepEqual(delivery.accepted.map((r) => r.recipient), ['bob@example.com', 'carol@example.com']);
    assert.equal(await c.isConnected(), true);
    const raw = 'From: a@example.com\r\nSubject: raw\r\n\r\nraw body\r\n';
    const d2 = await c.sendBytesWith('a@example.com', 'z@example.com', raw,
      { dsn: { notify: ['failure'], bestEffort: true } });
    assert.deepEqual(d2.accepted.map((r) => r.recipient), ['z@example.com']);
    assert.equal(aio.messages().at(-1).data.toString(), raw);
    await c.quit();
  } finally { await c.dispose(); }
});

test('sendMail runs off the main thread: timers fire through a 1.5 s server pause', async () => {
  const slow = await startAiosmtpd('--data-delay', '1.5');
  try {
    const ticks = [];
    const timer = setInterval(() => ticks.push(performance.now()), 50);
    const start = performance.now();
    const delivery = await sendMail({ host: '127.0.0.1', port: slow.port, security: 'none' },
      { from: 'slow@example.com', to: 'b@example.com', subject: 'slow', text: 'x' });
    const elapsed = performance.now() - start;
    clearInterval(timer);
    assert.equal(delivery.reply.code, 250);
    assert.equal(slow.messages().length, 1);
    assert.ok(elapsed >= 1400, `sendMail returned after ${elapsed} ms, before the pause ended`);
    const gaps = ticks.slice(1).map((t, i) => t - ticks[i]);
    const longest = Math.max(...gaps);
    assert.ok(ticks.length >= 20, `only ${ticks.length} ticks in ${elapsed} ms`);
    assert.ok(longest < 500, `the event loop stalled for ${longest} ms`);
  } finally { await slow.stop(); }
});
