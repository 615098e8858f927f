// Types of smtp-component's Promise API. The record and variant types are the ones
// `jco transpile` generates from the component's WIT (gen/interfaces/), so they follow
// the WIT package's version.
import type {
  ClientOptions, Reply, Refusal, RecipientReply, Extension, TlsConfig, AuthStep,
  SaslMechanism, SmtpError as WitSmtpError,
} from '../gen/interfaces/smtplib-smtp-client.js';

export type {
  ClientOptions, Reply, Refusal, RecipientReply, Extension, TlsConfig, AuthStep, SaslMechanism,
};

/** A message: text (ASCII) or bytes. */
export type MessageInput = string | Uint8Array | ArrayBuffer | ArrayBufferView;
/** A list of strings, or a single string. */
export type Strings = string | Iterable<string>;
/** tls-config with every field optional (`unsafeAcceptInvalidCerts` defaults to false). */
export type TlsOptions = Partial<TlsConfig>;

/** A WIT `smtp-error`: `kind` is the case name, `detail` its payload. */
export class SmtpError extends Error {
  readonly kind: WitSmtpError['tag'];
  readonly detail: WitSmtpError extends { val: infer V } ? V : unknown;
  /** The server's reply, for the cases that carry one. */
  readonly reply?: Reply;
  /** The reply's code, for the cases that carry one. */
  readonly code?: number;
  /** The refused sender (`sender-refused`). */
  readonly sender?: string;
  /** Every refused recipient (`recipients-refused`). */
  readonly refusals?: Refusal[];
}

/** An SMTP (or LMTP) session with one server, run in its own worker thread. */
export class Client {
  constructor(options?: ClientOptions);
  static lmtp(options?: ClientOptions): Client;
  connect(host: string, port?: number): Promise<Reply>;
  connectTls(host: string, port?: number, config?: TlsOptions): Promise<Reply>;
  starttls(config?: TlsOptions): Promise<Reply>;
  isTls(): Promise<boolean>;
  login(user: string, password: string, initialResponseOk?: boolean): Promise<Reply>;
  loginWith(mechanism: SaslMechanism, user: string, secret: string, initialResponseOk?: boolean): Promise<Reply>;
  authStart(mechanism: string, initialResponse?: MessageInput): Promise<AuthStep>;
  authContinue(response: MessageInput): Promise<AuthStep>;
  authCancel(): Promise<Reply>;
  allowInsecureAuth(allow?: boolean): Promise<void>;
  setDebuglevel(level: number): Promise<void>;
  helo(name?: string): Promise<Reply>;
  ehlo(name?: string): Promise<Reply>;
  ehloOrHeloIfNeeded(): Promise<void>;
  hasExtn(name: string): Promise<boolean>;
  esmtpFeatures(): Promise<Extension[]>;
  doesEsmtp(): Promise<boolean>;
  ehloResp(): Promise<string | undefined>;
  heloResp(): Promise<string | undefined>;
  docmd(cmd: string, args?: string): Promise<Reply>;
  noop(): Promise<Reply>;
  rset(): Promise<Reply>;
  help(args?: string): Promise<Reply>;
  verify(address: string): Promise<Reply>;
  expn(address: string): Promise<Reply>;
  mail(sender: string, options?: Strings): Promise<Reply>;
  rcpt(recipient: string, options?: Strings): Promise<Reply>;
  data(msg: MessageInput): Promise<Reply>;
  sendmail(fromAddr: string, toAddrs: Strings, msg: MessageInput, mailOptions?: Strings, rcptOptions?: Strings): Promise<Refusal[]>;
  sendMessage(msg: MessageInput, fromAddr?: string, toAddrs?: Strings, mailOptions?: Strings, rcptOptions?: Strings): Promise<Refusal[]>;
  lmtpData(msg: MessageInput): Promise<RecipientReply[]>;
  quit(): Promise<Reply>;
  close(): Promise<void>;
  isConnected(): Promise<boolean>;
  /** Ends the worker thread, the component instance and any connection. */
  dispose(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}
