// smtp-component for Node: a Promise API over the smtp WebAssembly component.
//
// Each Client runs its own component instance in a worker thread, so a network wait
// (a slow server, a TLS handshake, a timeout) never blocks the event loop: the main
// thread only posts a call and awaits its answer. Method names are the WIT `client`
// resource's in camelCase; trailing option lists and records may be left out; a message
// may be a string or bytes; a WIT error rejects with an SmtpError whose `kind` is the
// smtp-error case name.
import { Worker } from 'node:worker_threads';
import { SmtpError } from './errors.js';
import { mailOptions, toDelivery, toMail } from './mailer.js';
import { bytes, list } from './values.js';

export { SmtpError };
export { sendMail, compose } from './mailer.js';

const WORKER = new URL('./worker.js', import.meta.url);

function message(msg) {
  if (typeof msg === 'string') return { tag: 'text', val: msg };
  return { tag: 'bytes', val: bytes(msg) };
}

function tlsConfig(config = {}) {
  return { unsafeAcceptInvalidCerts: false, ...config };
}

/** An SMTP (or LMTP) session with one server: the WIT `client` resource. */
export class Client {
  #worker;
  #pending = new Map();
  #next = 0;
  #ready;
  #dead = null;

  /** An unconnected SMTP client; `options` is the WIT client-options (all optional). */
  constructor(options = {}, { lmtp = false } = {}) {
    this.#worker = new Worker(WORKER, { workerData: { lmtp } });
    this.#worker.unref();
    this.#ready = new Promise((resolve, reject) => {
      this.#worker.once('error', reject);
      this.#worker.once('message', () => resolve());
    });
    this.#worker.on('message', (m) => this.#answer(m));
    this.#worker.on('error', (e) => this.#fail(e));
    this.#worker.on('exit', () => this.#fail(new Error('the smtp worker exited')));
    this.#ready.catch(() => {});
    this.#created = this.#call('new', [options]);
    this.#created.catch(() => {});
  }

  #created;

  /** An unconnected LMTP client (LHLO, port 24, one reply per recipient). */
  static lmtp(options = {}) {
    return new Client(options, { lmtp: true });
  }

  #answer(m) {
    if (m.ready) return;
    const waiter = this.#pending.get(m.id);
    if (!waiter) return;
    this.#pending.delete(m.id);
    if (this.#pending.size === 0) this.#worker.unref();
    if (m.ok) waiter.resolve(m.value);
    else if (m.error) waiter.reject(new SmtpError(m.error.tag, m.error.val));
    else waiter.reject(new Error(`the smtp component trapped: ${m.trap}`));
  }

  #fail(error) {
    this.#dead = error;
    for (const waiter of this.#pending.values()) waiter.reject(error);
    this.#pending.clear();
  }

  async #call(method, args) {
    await this.#ready;
    if (method !== 'new') await this.#created;
    if (this.#dead) throw this.#dead;
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.ref(); // keep the process alive while a call is in flight
      this.#worker.postMessage({ id, method, args });
    });
  }

  connect(host, port) { return this.#call('connect', [host, port]); }
  connectTls(host, port, config) { return this.#call('connectTls', [host, port, tlsConfig(config)]); }
  starttls(config) { return this.#call('starttls', [tlsConfig(config)]); }
  isTls() { return this.#call('isTls', []); }
  login(user, password, initialResponseOk = true) {
    return this.#call('login', [user, password, initialResponseOk]);
  }
  loginWith(mechanism, user, secret, initialResponseOk = true) {
    return this.#call('loginWith', [mechanism, user, secret, initialResponseOk]);
  }
  authStart(mechanism, initialResponse) {
    const first = initialResponse === undefined ? undefined : bytes(initialResponse);
    return this.#call('authStart', [mechanism, first]);
  }
  authContinue(response) { return this.#call('authContinue', [bytes(response)]); }
  authCancel() { return this.#call('authCancel', []); }
  allowInsecureAuth(allow = true) { return this.#call('allowInsecureAuth', [allow]); }
  setDebuglevel(level) { return this.#call('setDebuglevel', [level]); }
  helo(name) { return this.#call('helo', [name]); }
  ehlo(name) { return this.#call('ehlo', [name]); }
  ehloOrHeloIfNeeded() { return this.#call('ehloOrHeloIfNeeded', []); }
  hasExtn(name) { return this.#call('hasExtn', [name]); }
  esmtpFeatures() { return this.#call('esmtpFeatures', []); }
  doesEsmtp() { return this.#call('doesEsmtp', []); }
  ehloResp() { return this.#call('ehloResp', []); }
  heloResp() { return this.#call('heloResp', []); }
  docmd(cmd, args) { return this.#call('docmd', [cmd, args]); }
  noop() { return this.#call('noop', []); }
  rset() { return this.#call('rset', []); }
  help(args) { return this.#call('help', [args]); }
  verify(address) { return this.#call('verify', [address]); }
  expn(address) { return this.#call('expn', [address]); }
  mail(sender, options) { return this.#call('mail', [sender, list(options)]); }
  rcpt(recipient, options) { return this.#call('rcpt', [recipient, list(options)]); }
  data(msg) { return this.#call('data', [message(msg)]); }
  sendmail(fromAddr, toAddrs, msg, mailOptions, rcptOptions) {
    return this.#call('sendmail', [fromAddr, list(toAddrs), message(msg), list(mailOptions), list(rcptOptions)]);
  }
  sendMessage(msg, fromAddr, toAddrs, mailOptions, rcptOptions) {
    const to = toAddrs === undefined || toAddrs === null ? undefined : list(toAddrs);
    return this.#call('sendMessage', [bytes(msg), fromAddr ?? undefined, to, list(mailOptions), list(rcptOptions)]);
  }
  lmtpData(msg) { return this.#call('lmtpData', [message(msg)]); }
  /** The mailer's `send-with`: builds `mail` and sends it over this connection. */
  async sendWith(mail) { return toDelivery(await this.#call('sendWith', [toMail(mail)])); }
  /** The mailer's `send-bytes-with`: sends the caller's message with `options`
   * ({ dkim?, dsn?, requireTls? }). */
  async sendBytesWith(fromAddr, toAddrs, msg, options) {
    return toDelivery(await this.#call('sendBytesWith', [fromAddr, list(toAddrs), bytes(msg), mailOptions(options)]));
  }
  quit() { return this.#call('quit', []); }
  close() { return this.#call('close', []); }
  isConnected() { return this.#call('isConnected', []); }

  /** Ends the worker thread (and with it the component instance and any connection). */
  async dispose() {
    if (this.#dead) return;
    this.#dead = new SmtpError('server-disconnected', 'the client was disposed');
    await this.#worker.terminate();
  }

  async [Symbol.asyncDispose]() { await this.dispose(); }
}
