// The testbed's coturn, Chromium and k6 are the real programs, working on loopback.
import { execFile, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../src/chromium.ts';
import { type Coturn, startCoturn } from '../src/coturn.ts';
import { ensureK6, K6_ENV } from '../src/k6.ts';

const run = promisify(execFile);

describe('coturn', () => {
  let turn: Coturn;
  beforeAll(async () => {
    turn = await startCoturn();
  });
  afterAll(() => turn?.stop());

  // TURN REST scheme: username "<expiry>:<id>", password base64(HMAC-SHA1(secret, username))
  const credential = (expiry: number, secret = turn.secret) => {
    const username = `${expiry}:session-1`;
    return { username, password: createHmac('sha1', secret).update(username).digest('base64') };
  };
  const allocate = ({ username, password }: { username: string; password: string }) =>
    spawnSync(
      'turnutils_uclient',
      [
        '-u',
        username,
        '-w',
        password,
        '-p',
        String(turn.port),
        '-y',
        '-n',
        '1',
        '-m',
        '1',
        '-l',
        '32',
        '-e',
        '127.0.0.1',
        '127.0.0.1',
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
  const now = () => Math.floor(Date.now() / 1000);

  it('relays for a fresh REST credential', () => {
    const r = allocate(credential(now() + 300));
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/Total lost packets 0 /);
  });

  it('leaves nothing behind when stopped, its secret included', async () => {
    const other = await startCoturn();
    expect(readFileSync(join(other.dir, 'turnserver.conf'), 'utf8')).toContain(other.secret);
    await other.stop();
    expect(existsSync(other.dir)).toBe(false);
  });

  it('refuses an expired or forged credential', () => {
    for (const cred of [credential(now() - 10), credential(now() + 300, 'not-the-secret')]) {
      const r = allocate(cred);
      expect(r.status).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/Cannot complete Allocation/);
    }
  });
});

describe('Chromium and k6', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(
        req.url === '/api'
          ? '{"ok":true}'
          : '<!doctype html><title>t</title><p id="out">static</p><script>document.getElementById("out").textContent = String(6 * 7)</script>',
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('Chromium loads a local page and runs its JavaScript', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(url);
      expect(await page.textContent('#out')).toBe('42');
      expect(await page.evaluate(() => navigator.userAgent)).toMatch(/HeadlessChrome/);
    } finally {
      await browser.close();
    }
  });

  it(
    'k6 runs a script against a local server',
    async () => {
      const k6 = ensureK6(); // built by the global setup already
      const script = join(tmpdir(), `floe-k6-${process.pid}.js`);
      writeFileSync(
        script,
        `import http from 'k6/http';
import { check } from 'k6';
export const options = { vus: 2, iterations: 20, thresholds: { checks: ['rate==1'] } };
export default function () {
  check(http.get('${url}/api'), { 'status 200': (r) => r.status === 200 });
}`,
      );
      // asynchronously: the server k6 calls runs in this very process
      await run(k6, ['run', '--quiet', '--summary-export', `${script}.json`, script], {
        env: { ...process.env, ...K6_ENV },
        timeout: 60_000,
      });
      const summary = JSON.parse(readFileSync(`${script}.json`, 'utf8'));
      expect(summary.metrics.http_reqs.count).toBe(20);
      expect(summary.metrics.checks.passes).toBe(20);
    },
    10 * 60_000,
  );
});
