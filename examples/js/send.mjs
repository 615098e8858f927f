// Sends one mail through the smtp WebAssembly component from Node, using the ES module
// that `jco transpile` generated in gen/ (run ./run, which makes it).
// Usage: node send.mjs HOST:PORT   (or set SMTP_SERVER)
import { client } from './gen/smtp.js';

const server = process.argv[2] ?? process.env.SMTP_SERVER;
if (!server) {
  console.error('usage: node send.mjs HOST:PORT (or set SMTP_SERVER)');
  process.exit(2);
}
const from = 'js-host@example.com';
const to = 'someone@example.com';

try {
  // A WIT `result` error is thrown as an Error whose `payload` is the smtp-error variant.
  const smtp = new client.Client({}); // client-options: every field optional
  const greeting = smtp.connect(server, undefined);
  console.log(`connected to ${server}: ${greeting.code} ${greeting.text}`);
  const msg = { tag: 'text', val: `From: ${from}\nTo: ${to}\nSubject: hi from Node\n\nhello\n` };
  const refused = smtp.sendmail(from, [to], msg, [], []);
  console.log(`sent a mail from ${from} to ${to}; refused: ${JSON.stringify(refused)}`);
  const bye = smtp.quit();
  console.log(`quit: ${bye.code} ${bye.text}`);
  smtp[Symbol.dispose]();
} catch (e) {
  const detail = e.payload ? `${e.payload.tag}: ${JSON.stringify(e.payload.val)}` : e.stack;
  console.error(`send.mjs: ${detail}`);
  process.exit(1);
}
