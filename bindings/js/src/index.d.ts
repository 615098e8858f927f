// Types of smtp-component's Promise API. The record and variant types are the ones
// `jco transpile` generates from the component's WIT (gen/interfaces/), so they follow
// the WIT package's version.
import type {
  ClientOptions, Reply, Refusal, RecipientReply, Extension, TlsConfig, AuthStep,
  SaslMechanism, SmtpError as WitSmtpError,
} from '../gen/interfaces/smtplib-smtp-client.js';
import type {
  Security, OauthMechanism, DkimAlgorithm, DsnReturn, DsnNotify, Delivery as WitDelivery,
} from '../gen/interfaces/smtplib-smtp-mailer.js';

export type {
  ClientOptions, Reply, Refusal, RecipientReply, Extension, TlsConfig, AuthStep, SaslMechanism,
  Security, OauthMechanism, DkimAlgorithm, DsnReturn,
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
  /** The mailer's `send-with`: builds `mail` and sends it over this connection. */
  sendWith(mail: MailInput): Promise<Delivery>;
  /** The mailer's `send-bytes-with`: the caller's RFC 5322 message, with options. */
  sendBytesWith(fromAddr: string, toAddrs: Strings, msg: MessageInput, options?: MailOptionsInput): Promise<Delivery>;
  quit(): Promise<Reply>;
  close(): Promise<void>;
  isConnected(): Promise<boolean>;
  /** Ends the worker thread, the component instance and any connection. */
  dispose(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A mailbox: `'a@example.com'` or `{ name, address }`. */
export type MailboxInput = string | { name?: string; address: string };
/** One mailbox or several. */
export type Mailboxes = MailboxInput | Iterable<MailboxInput>;

/** Credentials: a password (tried as smtplib's `login`), or an OAuth 2.0 token. */
export type CredentialsInput =
  | { user: string; password: string }
  | { user: string; token: string; mechanism?: OauthMechanism };

/** Where and how to send (the WIT `transport`; defaults filled in). */
export interface TransportInput {
  host: string;
  /** Default 465 for implicit-tls, 587 for starttls-required, 25 for none (24 LMTP). */
  port?: number;
  /** Default 'starttls-required': never downgraded to cleartext. */
  security?: Security;
  tls?: TlsOptions;
  credentials?: CredentialsInput;
  allowInsecureAuth?: boolean;
  localHostname?: string;
  timeoutMs?: number;
  lmtp?: boolean;
}

/** A file sent with the message; `contentId` (no `<>`) makes it inline (`cid:`). */
export interface AttachmentInput {
  filename: string;
  /** Default 'application/octet-stream'. */
  contentType?: string;
  /** Bytes, or a string sent as UTF-8. */
  content: MessageInput;
  contentId?: string;
}

/** DKIM signing (RFC 6376, relaxed/relaxed). */
export interface DkimInput {
  domain: string;
  selector: string;
  privateKeyPem: string;
  /** Default 'rsa-sha256'. */
  algorithm?: DkimAlgorithm;
  signedHeaders?: Iterable<string>;
}

/** DSN event names. */
export type DsnEvent = 'success' | 'failure' | 'delay';

/** Delivery status notifications (RFC 3461). */
export interface DsnInput {
  /** 'never', some events, or the WIT variant; the server's default when absent. */
  notify?: 'never' | DsnEvent | DsnEvent[] | { success?: boolean; failure?: boolean; delay?: boolean } | DsnNotify;
  ret?: DsnReturn;
  envid?: string;
  orcpt?: boolean;
  bestEffort?: boolean;
}

/** A message's options beyond its content. */
export interface MailOptionsInput {
  dkim?: DkimInput;
  dsn?: DsnInput;
  /** RFC 8689 REQUIRETLS: `not-supported` without TLS, before anything is sent. */
  requireTls?: boolean;
}

/** A message by its parts (the WIT `mail`; lists may be one value or left out). */
export interface MailInput extends MailOptionsInput {
  from: MailboxInput;
  sender?: MailboxInput;
  to?: Mailboxes;
  cc?: Mailboxes;
  /** Envelope recipients only, never in the message's bytes. */
  bcc?: Mailboxes;
  replyTo?: Mailboxes;
  subject?: string;
  /** A Date, or seconds since the epoch; now when absent. */
  date?: Date | number | bigint;
  /** Without `<>`; generated when absent. */
  messageId?: string;
  inReplyTo?: Strings;
  references?: Strings;
  /** Extra fields: `{ name: value }`, `[[name, value]]` or `[{ name, value }]`. */
  headers?: Record<string, string> | Array<[string, string] | { name: string; value: string }>;
  text?: string;
  html?: string;
  attachments?: AttachmentInput[];
  /** The same options as the top-level dkim/dsn/requireTls (which win). */
  options?: MailOptionsInput;
}

/** The WIT `delivery`, with `elapsedMs` as a number. */
export type Delivery = Omit<WitDelivery, 'elapsedMs'> & { elapsedMs: number };

/** Builds `mail`, connects as `transport` says, secures, logs in, sends and quits, in a
 * worker thread; rejects with an SmtpError (`kind` the smtp-error case). */
export function sendMail(transport: TransportInput, mail: MailInput): Promise<Delivery>;

/** The RFC 5322 bytes of `mail` (CRLF, DKIM-signed when asked, no Bcc). */
export function compose(mail: MailInput): Promise<Uint8Array>;
