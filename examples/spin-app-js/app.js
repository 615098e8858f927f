// The Spin-style HTTP app in JavaScript: each POST's body, an RFC 5322 message, goes out
// as a mail through the smtp component's `client` interface (the envelope comes from its
// headers, as smtplib's send_message does). componentize-js builds this into a
// wasi:http component (StarlingMonkey's fetch event serves wasi:http/incoming-handler);
// `wac plug` (or Spin's component dependencies) supplies the import.
//
// Settings come from the environment (spin.toml's `environment`), as in examples/spin-app:
// SMTP_HOST (an IP literal under Spin: no DNS), SMTP_PORT, SMTP_TLS (none, starttls,
// implicit), SMTP_TLS_SERVER_NAME, SMTP_CA_PEM, SMTP_USER and SMTP_PASSWORD, SMTP_DEBUG.
//
// Answers: 200 {"sent":true,"refused":[...]}, 502 {"sent":false,"error":"kind: ..."},
// 405 for other methods, 413 for a body over 25 MiB, 500 for bad settings.
// imports.js is written by ./build: it re-exports these from the interfaces at the
// versions the build's WIT names (so this file follows the WIT package's version).
import { Client, getEnvironment } from './imports.js';

const MAX_BODY = 25 * 1024 * 1024;

addEventListener('fetch', (event) => event.respondWith(handle(event.request)));

async function handle(request) {
  if (request.method !== 'POST') return answer(405, { sent: false, error: 'POST a message (RFC 5322) to send it' });
  const body = new Uint8Array(await request.arrayBuffer());
  if (body.length > MAX_BODY) return answer(413, { sent: false, error: 'the message is too large' });
  let config;
  try {
    config = settings(Object.fromEntries(getEnvironment()));
  } catch (problem) {
    return answer(500, { sent: false, error: String(problem.message ?? problem) });
  }
  try {
    const refused = send(config, body);
    return answer(200, { sent: true, refused: refused.map((r) => ({ recipient: r.recipient, code: r.reply.code, text: r.reply.text })) });
  } catch (e) {
    return answer(502, { sent: false, error: describe(e) });
  }
}

function settings(env) {
  const value = (name) => (env[name] ? env[name] : undefined);
  const host = value('SMTP_HOST');
  if (!host) throw new Error('SMTP_HOST is not set');
  const port = value('SMTP_PORT') === undefined ? undefined : Number(value('SMTP_PORT'));
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) throw new Error(`bad SMTP_PORT ${value('SMTP_PORT')}`);
  const tls = value('SMTP_TLS') ?? 'none';
  if (!['none', 'starttls', 'implicit'].includes(tls)) throw new Error(`bad SMTP_TLS ${tls}: none, starttls or implicit`);
  const user = value('SMTP_USER');
  const password = value('SMTP_PASSWORD');
  if ((user === undefined) !== (password === undefined)) throw new Error('set both SMTP_USER and SMTP_PASSWORD, or neither');
  const debug = Number(value('SMTP_DEBUG') ?? 0);
  if (!(Number.isInteger(debug) && debug >= 0 && debug < 256)) throw new Error(`bad SMTP_DEBUG ${value('SMTP_DEBUG')}`);
  return { host, port, tls, user, password, debug, serverName: value('SMTP_TLS_SERVER_NAME'), caPem: value('SMTP_CA_PEM') };
}

// One SMTP session: connect, TLS, login, send_message, quit. The component's calls are
// synchronous inside the guest; a WIT error is thrown with the smtp-error as payload.
function send(config, message) {
  const client = new Client({ timeoutMs: 30000 });
  try {
    client.setDebuglevel(config.debug);
    const tls = { serverName: config.serverName, extraRootsPem: config.caPem, unsafeAcceptInvalidCerts: false };
    if (config.tls === 'implicit') client.connectTls(config.host, config.port, tls);
    else client.connect(config.host, config.port);
    if (config.tls === 'starttls') client.starttls(tls);
    if (config.user !== undefined) client.login(config.user, config.password, true);
    const refused = client.sendMessage(message, undefined, undefined, [], []);
    try { client.quit(); } catch { /* the message is accepted; a failing QUIT changes nothing */ }
    return refused;
  } finally {
    client.close();
  }
}

// One line naming the smtp-error case, as examples/spin-app's JSON does.
function describe(e) {
  const error = e && e.payload && typeof e.payload.tag === 'string' ? e.payload : null;
  if (!error) return `trap: ${e}`;
  const v = error.val;
  const reply = (r) => `${r.code} ${r.text}`;
  if (typeof v === 'string') return `${error.tag}: ${v}`;
  if (Array.isArray(v)) return `${error.tag}: ${v.map((r) => `${r.recipient} (${reply(r.reply)})`).join(', ')}`;
  if (v && v.sender !== undefined) return `${error.tag}: ${v.sender} (${reply(v.reply)})`;
  return `${error.tag}: ${reply(v)}`;
}

function answer(status, body) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}
