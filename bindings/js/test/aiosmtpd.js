// Starts host-test/servers/aiosmtpd_server.py on 127.0.0.1 for a test and stops it by PID.
// The server's Python (with aiosmtpd) is SMTP_TEST_PYTHON, else the checkout's .venv.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const python = process.env.SMTP_TEST_PYTHON || join(root, '.venv', 'bin', 'python');

export async function startAiosmtpd(...args) {
  const store = mkdtempSync(join(tmpdir(), 'smtp-js-'));
  const child = spawn(python, [join(root, 'host-test', 'servers', 'aiosmtpd_server.py'), '--store', store, ...args], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const line = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`aiosmtpd exited with ${code}`)));
    createInterface({ input: child.stdout }).once('line', resolve);
  });
  const { port, pid } = JSON.parse(line);
  return {
    port,
    server: `127.0.0.1:${port}`,
    messages() {
      return readdirSync(store).filter((f) => f.endsWith('.eml')).sort().map((f) => ({
        envelope: JSON.parse(readFileSync(join(store, f.replace(/\.eml$/, '.json')), 'utf8')),
        data: readFileSync(join(store, f)),
      }));
    },
    async stop() {
      child.removeAllListeners('exit');
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(pid, 'SIGTERM');
      await exited;
      rmSync(store, { recursive: true, force: true });
    },
  };
}
