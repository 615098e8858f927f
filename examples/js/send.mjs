// Sends one mail through the smtp WebAssembly component from Node, using the ES module
// that `jco transpile` generated in gen/ (run ./run, which makes it): one call to
// `mailer.send`, which builds the message, connects, sends and quits.
// Usage: node send.mjs HOST:PORT   (or set SMTP_SERVER)
import { mailer } from './gen/smtp.js';

const server = process.argv[2] ?? process.env.SMTP_SERVER;
if (!server) {
  console.error('usage: node send.mjs HOST:PORT (or set SMTP_SERVER)');
  process.exit(2);
}
const from = 'js-host@example.com';
const to = 'someone@example.com';

try {
  // A WIT `result` error is thrown as an Error whose `payload` is the smtp-error variant.
  // Records are objects with camelCase fields; options may be left out, lists may not.
  const delivery = mailer.send(
    { host: server, security: 'none', allowInsecureAuth: false, lmtp: false },
    {
      from: { name: 'Node', address: from }, to: [{ address: to }], cc: [], bcc: [],
      replyTo: [], subject: 'hi from Node ✓', inReplyTo: [], references: [], headers: [],
      text: 'hello\n', attachments: [], options: { requireTls: false },
    },
  );
  console.log(`sent a mail from ${from} to ${to}: ${delivery.reply.code} ${delivery.reply.text}` +
    ` (queue id ${delivery.queueId ?? 'none'}, ${delivery.elapsedMs} ms)`);
} catch (e) {
  const detail = e.payload ? `${e.payload.tag}: ${JSON.stringify(e.payload.val)}` : e.stack;
  console.error(`send.mjs: ${detail}`);
  process.exit(1);
}
