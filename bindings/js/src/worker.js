// The worker thread that runs one smtp component instance (jco's transpiled module) for
// one Client. The component's calls are synchronous and block on the network (the
// preview2-shim's sockets wait for I/O), so they run here, off the main thread; the
// Client on the main thread sends {id, method, args} and gets {id, ok, value | error}.
// A worker of the mailer's pool (src/mailer.js) has no Client and runs `send` and
// `compose`.
import { parentPort, workerData } from 'node:worker_threads';

const { client, mailer } = await import('../gen/smtp.js');
let session = null;

function reply(message) {
  parentPort.postMessage(message);
}

parentPort.on('message', ({ id, method, args }) => {
  try {
    let value;
    if (method === 'new') {
      session = workerData.lmtp ? client.Client.lmtp(args[0]) : new client.Client(args[0]);
    } else if (method === 'send' || method === 'compose') {
      value = mailer[method](...args); // the mailer's own calls, on a pooled worker
    } else if (method === 'sendWith' || method === 'sendBytesWith') {
      value = mailer[method](session, ...args); // the mailer over this worker's Client
    } else {
      value = session[method](...args);
    }
    reply({ id, ok: true, value });
  } catch (e) {
    // A WIT `err` comes as a ComponentError whose payload is the smtp-error variant;
    // anything else is a trap or a bug, reported with its stack.
    if (e && e.payload && typeof e.payload.tag === 'string') {
      reply({ id, ok: false, error: e.payload });
    } else {
      reply({ id, ok: false, trap: String((e && e.stack) || e) });
    }
  }
});
reply({ ready: true });
