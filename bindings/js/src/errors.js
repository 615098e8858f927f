// SmtpError: a WIT `smtp-error` as a JavaScript Error, shared by Client and the mailer.

/** A WIT `smtp-error`, thrown (rejected) by every Client method that returns a result. */
export class SmtpError extends Error {
  constructor(kind, detail) {
    super(`${kind}: ${describe(detail)}`);
    this.name = 'SmtpError';
    /** The smtp-error case, such as 'recipients-refused' or 'timeout'. */
    this.kind = kind;
    /** The case's payload as the WIT gives it (a reply, a refusal list, a string). */
    this.detail = detail;
    if (detail && typeof detail === 'object' && 'code' in detail) this.reply = detail;
    if (detail && typeof detail === 'object' && 'reply' in detail) this.reply = detail.reply;
    if (detail && typeof detail === 'object' && 'sender' in detail) this.sender = detail.sender;
    if (Array.isArray(detail)) this.refusals = detail;
    if (this.reply) this.code = this.reply.code;
  }
}

function describe(detail) {
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    return detail.map((r) => `${r.recipient}: ${r.reply.code} ${r.reply.text}`).join('; ');
  }
  if (detail && detail.reply) return `${detail.sender}: ${detail.reply.code} ${detail.reply.text}`;
  if (detail && 'code' in detail) return `${detail.code} ${detail.text}`;
  return JSON.stringify(detail);
}

