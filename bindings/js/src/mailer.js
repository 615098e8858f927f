// The component's `mailer` interface as Promises: sendMail(transport, mail) builds the
// message, connects, secures, logs in, sends and quits; compose(mail) returns its bytes.
//
// The calls run in a small pool of worker threads (one component instance each, made on
// first use and kept idle, unref'd, for the next call), so a network wait never blocks
// the event loop and concurrent sends do not wait for one another. This module only
// fills in the WIT records' defaults from friendlier camelCase objects and converts the
// delivery back; every behaviour is the component's.
import { Worker } from 'node:worker_threads';
import { SmtpError } from './errors.js';
import { bytes, list } from './values.js';

const WORKER = new URL('./worker.js', import.meta.url);
const MAX_IDLE = 4;
const idle = [];

/** One pooled worker: posts a call and resolves with its answer. */
class PoolWorker {
  #worker;
  #ready;
  #waiter = null;
  #dead = null;

  constructor() {
    this.#worker = new Worker(WORKER, { workerData: { lmtp: false } });
    this.#ready = new Promise((resolve, reject) => {
      this.#worker.once('error', reject);
      this.#worker.once('message', () => resolve());
    });
    this.#ready.catch(() => {});
    this.#worker.on('message', (m) => {
      if (m.ready || !this.#waiter) return;
      const waiter = this.#waiter;
      this.#waiter = null;
      if (m.ok) waiter.resolve(m.value);
      else if (m.error) waiter.reject(new SmtpError(m.error.tag, m.error.val));
      else {
        this.#dead = new Error(`the smtp component trapped: ${m.trap}`);
        waiter.reject(this.#dead);
      }
    });
    const fail = (e) => {
      this.#dead = e;
      if (this.#waiter) this.#waiter.reject(e);
      this.#waiter = null;
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', () => fail(new Error('the smtp worker exited')));
  }

  get dead() { return this.#dead !== null; }

  async call(method, args) {
    await this.#ready;
    if (this.#dead) throw this.#dead;
    this.#worker.ref(); // keep the process alive while a call is in flight
    try {
      return await new Promise((resolve, reject) => {
        this.#waiter = { resolve, reject };
        this.#worker.postMessage({ id: 0, method, args });
      });
    } finally {
      this.#worker.unref();
    }
  }

  terminate() { return this.#worker.terminate(); }
}

async function run(method, args) {
  const worker = idle.pop() ?? new PoolWorker();
  try {
    return await worker.call(method, args);
  } finally {
    // A trapped instance is not reused; a healthy one waits for the next call.
    if (worker.dead || idle.length >= MAX_IDLE) worker.terminate();
    else idle.push(worker);
  }
}

// -- JavaScript values to WIT records -------------------------------------------------

function mailbox(value, what) {
  if (typeof value === 'string') return { address: value };
  if (value && typeof value === 'object' && typeof value.address === 'string') {
    return value.name === undefined || value.name === null
      ? { address: value.address }
      : { name: value.name, address: value.address };
  }
  throw new TypeError(`${what} must be an address string or { name?, address }`);
}

function mailboxes(value, what) {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string' || !(Symbol.iterator in Object(value))) return [mailbox(value, what)];
  return [...value].map((v) => mailbox(v, what));
}

function headers(value) {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) {
    return value.map((h) => (Array.isArray(h) ? { name: h[0], value: h[1] } : { name: h.name, value: h.value }));
  }
  return Object.entries(value).map(([name, v]) => ({ name, value: v }));
}

function date(value) {
  if (value === undefined || value === null) return undefined;
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new TypeError('date is an invalid Date');
    return BigInt(Math.floor(value.getTime() / 1000));
  }
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return BigInt(Math.floor(value));
  throw new TypeError('date must be a Date, or seconds since the epoch');
}

function attachment(a) {
  if (!a || typeof a.filename !== 'string') throw new TypeError('an attachment needs a filename');
  const out = {
    filename: a.filename,
    contentType: a.contentType ?? 'application/octet-stream',
    content: bytes(a.content),
  };
  if (a.contentId !== undefined && a.contentId !== null) out.contentId = a.contentId;
  return out;
}

function dkim(d) {
  if (d === undefined || d === null) return undefined;
  const out = { domain: d.domain, selector: d.selector, privateKeyPem: d.privateKeyPem,
    algorithm: d.algorithm ?? 'rsa-sha256' };
  if (d.signedHeaders !== undefined && d.signedHeaders !== null) out.signedHeaders = list(d.signedHeaders);
  return out;
}

function notify(n) {
  if (n === undefined || n === null) return undefined;
  if (n === 'never') return { tag: 'never' };
  if (typeof n === 'object' && typeof n.tag === 'string') return n; // already the WIT variant
  const events = typeof n === 'string' ? [n] : Array.isArray(n) ? n : Object.keys(n).filter((k) => n[k]);
  const val = {};
  for (const e of events) {
    if (!['success', 'failure', 'delay'].includes(e)) {
      throw new TypeError(`dsn.notify: ${JSON.stringify(e)} is not 'success', 'failure' or 'delay'`);
    }
    val[e] = true;
  }
  return { tag: 'on', val };
}

function dsn(d) {
  if (d === undefined || d === null) return undefined;
  const out = { orcpt: !!d.orcpt, bestEffort: !!d.bestEffort };
  const n = notify(d.notify);
  if (n !== undefined) out.notify = n;
  if (d.ret !== undefined && d.ret !== null) out.ret = d.ret;
  if (d.envid !== undefined && d.envid !== null) out.envid = d.envid;
  return out;
}

/** The WIT `mail-options` from { dkim?, dsn?, requireTls? }. */
export function mailOptions(o = {}) {
  const out = { requireTls: !!o.requireTls };
  const k = dkim(o.dkim);
  const s = dsn(o.dsn);
  if (k !== undefined) out.dkim = k;
  if (s !== undefined) out.dsn = s;
  return out;
}

function optional(out, name, value) {
  if (value !== undefined && value !== null) out[name] = value;
}

/** The WIT `mail` from a friendlier object (see index.d.ts `MailInput`). */
export function toMail(m) {
  if (!m || typeof m !== 'object') throw new TypeError('mail must be an object');
  const out = {
    from: mailbox(m.from, 'mail.from'),
    to: mailboxes(m.to, 'mail.to'),
    cc: mailboxes(m.cc, 'mail.cc'),
    bcc: mailboxes(m.bcc, 'mail.bcc'),
    replyTo: mailboxes(m.replyTo, 'mail.replyTo'),
    subject: m.subject ?? '',
    inReplyTo: list(m.inReplyTo),
    references: list(m.references),
    headers: headers(m.headers),
    attachments: (m.attachments ?? []).map(attachment),
    options: mailOptions({ ...(m.options ?? {}), ...pick(m, ['dkim', 'dsn', 'requireTls']) }),
  };
  if (m.sender !== undefined && m.sender !== null) out.sender = mailbox(m.sender, 'mail.sender');
  optional(out, 'date', date(m.date));
  optional(out, 'messageId', m.messageId);
  optional(out, 'text', m.text);
  optional(out, 'html', m.html);
  return out;
}

function pick(o, names) {
  const out = {};
  for (const n of names) if (o[n] !== undefined) out[n] = o[n];
  return out;
}

function credentials(t) {
  const c = t.credentials;
  if (c === undefined || c === null) return undefined;
  if (typeof c.tag === 'string') return c; // already the WIT variant
  if (c.token !== undefined) {
    return { tag: 'oauth', val: { user: c.user, token: c.token, mechanism: c.mechanism ?? 'xoauth2' } };
  }
  return { tag: 'password', val: { user: c.user, password: c.password } };
}

/** The WIT `transport` from a friendlier object (see index.d.ts `TransportInput`). */
export function toTransport(t) {
  if (!t || typeof t !== 'object' || typeof t.host !== 'string') {
    throw new TypeError('transport must be an object with a host');
  }
  const out = {
    host: t.host,
    security: t.security ?? 'starttls-required',
    allowInsecureAuth: !!t.allowInsecureAuth,
    lmtp: !!t.lmtp,
  };
  optional(out, 'port', t.port);
  if (t.tls !== undefined && t.tls !== null) out.tls = { unsafeAcceptInvalidCerts: false, ...t.tls };
  optional(out, 'credentials', credentials(t));
  optional(out, 'localHostname', t.localHostname);
  optional(out, 'timeoutMs', t.timeoutMs);
  return out;
}

/** The WIT `delivery` with `elapsedMs` as a number (jco gives a bigint). */
export function toDelivery(d) {
  return { ...d, elapsedMs: Number(d.elapsedMs) };
}

// -- the calls -------------------------------------------------------------------------

/** Builds `mail` and sends it as `transport` says; resolves with the delivery report. */
export async function sendMail(transport, mail) {
  const args = [toTransport(transport), toMail(mail)];
  return toDelivery(await run('send', args));
}

/** The RFC 5322 bytes of `mail` (CRLF, DKIM-signed when asked, no Bcc). */
export async function compose(mail) {
  const args = [toMail(mail)];
  return run('compose', args);
}
