// The clipboard bridge against a real X server, with xclip as the other X application.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Clipboard, MAX_CLIPBOARD_BYTES, openClipboard } from '../src/x11/clipboard.ts';
import { type DisplayServer, startDisplayServer } from '../src/x11/display-server.ts';

let work: string;
let server: DisplayServer;
const open: Clipboard[] = [];
const xclips: ChildProcess[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'floe-x11-clipboard-'));
  server = await startDisplayServer({ width: 800, height: 600, workDir: work });
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
  await Promise.all(xclips.splice(0).map(stopXclip));
});

afterAll(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

const env = () => ({ ...process.env, DISPLAY: server.display });

/** Reads a selection as another app would (asynchronously: the owner is this process). */
function paste(selection = 'clipboard', target?: string): Promise<Buffer> {
  const args = ['-selection', selection, '-o', ...(target ? ['-t', target] : [])];
  return new Promise((resolve, reject) => {
    execFile(
      'xclip',
      args,
      { env: env(), timeout: 5_000, encoding: 'buffer', maxBuffer: 4 << 20 },
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    );
  });
}

/** Another app copies `text`: xclip owns CLIPBOARD until it is killed or loses it. */
function copyInXclip(text: string) {
  const xclip = spawn('xclip', ['-selection', 'clipboard', '-i', '-quiet'], {
    env: env(),
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  xclip.stdin!.end(text);
  xclips.push(xclip);
}

async function stopXclip(xclip: ChildProcess) {
  if (xclip.exitCode !== null || xclip.signalCode !== null) return;
  const exited = new Promise((resolve) => xclip.once('exit', resolve));
  try {
    process.kill(-xclip.pid!, 'SIGKILL');
  } catch {}
  await exited;
}

async function openWatched(opts?: { xfixes?: boolean }) {
  const seen: string[] = [];
  const clipboard = await openClipboard(server.display, (text) => seen.push(text), opts);
  open.push(clipboard);
  return { clipboard, seen };
}

async function until(check: () => boolean, ms = 5_000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('clipboard', () => {
  it('serves text set from the browser to X apps, as CLIPBOARD and PRIMARY', async () => {
    const { clipboard } = await openWatched();
    const text = 'héllo ж € 😀\nsecond line';
    clipboard.set(text);
    expect((await paste()).toString('utf8')).toBe(text);
    expect((await paste('primary')).toString('utf8')).toBe(text);
    expect((await paste('clipboard', 'UTF8_STRING')).toString('utf8')).toBe(text);
    expect(await paste('clipboard', 'STRING')).toEqual(
      Buffer.from('héllo ? ? ?\nsecond line', 'latin1'),
    );
    const targets = (await paste('clipboard', 'TARGETS')).toString().split('\n');
    expect(targets).toEqual(expect.arrayContaining(['TARGETS', 'UTF8_STRING', 'STRING', 'TEXT']));

    clipboard.set('replaced');
    expect((await paste()).toString()).toBe('replaced');
  });

  it('reports what another app copies, and never its own text', async () => {
    const { clipboard, seen } = await openWatched();
    copyInXclip('from xclip ✓');
    await until(() => seen.length === 1);
    expect(seen).toEqual(['from xclip ✓']);

    clipboard.set('from the browser');
    copyInXclip('copied again');
    await until(() => seen.length === 2);
    expect(seen[1]).toBe('copied again');
    // our own set() took the selection in between; it must not have come back
    clipboard.set('mine');
    await new Promise((r) => setTimeout(r, 500));
    expect(seen).toEqual(['from xclip ✓', 'copied again']);
    expect((await paste()).toString()).toBe('mine');
  });

  it('polls the owner where XFIXES is not used', async () => {
    const { seen } = await openWatched({ xfixes: false });
    copyInXclip('seen by polling');
    await until(() => seen.length === 1);
    expect(seen).toEqual(['seen by polling']);
  });

  it(`serves at most ${MAX_CLIPBOARD_BYTES} bytes, cut between characters`, async () => {
    const { clipboard } = await openWatched();
    clipboard.set('x'.repeat(300 * 1024));
    expect((await paste()).length).toBe(MAX_CLIPBOARD_BYTES);
    // two-byte characters: the cut must not split one
    clipboard.set(`a${'é'.repeat(200 * 1024)}`);
    const served = (await paste()).toString('utf8');
    expect(served).toBe(`a${'é'.repeat((MAX_CLIPBOARD_BYTES - 2) / 2)}`);
  });
});
