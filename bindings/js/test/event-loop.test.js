// The point of the worker: while the server takes 1.5 s to answer the message, the main
// thread's timers keep firing on time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client } from '../src/index.js';
import { startAiosmtpd } from './aiosmtpd.js';

test('timers keep firing while the server pauses 1.5 s before its verdict', async () => {
  const aio = await startAiosmtpd('--data-delay', '1.5');
  const c = new Client({ timeoutMs: 10000 });
  try {
    await c.connect(aio.server);
    const ticks = [];
    const timer = setInterval(() => ticks.push(performance.now()), 50);
    const start = performance.now();
    const refused = await c.sendmail('slow@example.com', ['b@example.com'], 'Subject: slow\r\n\r\nx\r\n');
    const elapsed = performance.now() - start;
    clearInterval(timer);
    assert.deepEqual(refused, []);
    assert.equal(aio.messages().length, 1);
    assert.ok(elapsed >= 1400, `sendmail returned after ${elapsed} ms, before the server's pause ended`);
    // One tick per 50 ms through the pause; the longest gap shows the loop never stalled.
    const gaps = ticks.slice(1).map((t, i) => t - ticks[i]);
    const longest = Math.max(...gaps);
    console.log(`sendmail took ${elapsed.toFixed(0)} ms; ${ticks.length} ticks, longest gap ${longest.toFixed(1)} ms`);
    assert.ok(ticks.length >= 20, `only ${ticks.length} ticks in ${elapsed} ms`);
    assert.ok(longest < 500, `the event loop stalled for ${longest} ms`);
    await c.quit();
  } finally {
    await c.dispose();
    await aio.stop();
  }
});
