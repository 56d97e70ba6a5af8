// The probe app: a real X client that paints the time barcode. The screen is read back with
// GetImage over an independent connection and decoded with the browser's decoder.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Image } from 'x11';
import { parseProbeArgs } from '../probe/probe-app.ts';
import { PROBE_APP, startProbeProcess } from '../probe/probe-process.ts';
import { BARCODE, BARCODE_WIDTH, decodeBarcode } from '../src/barcode.ts';
import { openConnection } from '../src/x11/connection.ts';
import { type DisplayServer, startDisplayServer } from '../src/x11/display-server.ts';

const run = promisify(execFile);

let work: string;
let server: DisplayServer;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'floe-probe-'));
  // wider than the barcode (920 px): GetImage of a region off the screen is an error
  server = await startDisplayServer({ width: 1280, height: 720, workDir: work });
});

afterAll(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** The time painted in the top-left barcode, read from the screen; null when none. */
async function readBarcode(display: string): Promise<number | null> {
  const conn = await openConnection(display);
  try {
    const width = BARCODE_WIDTH;
    const image = await conn.request<Image>((cb) =>
      conn.X.GetImage(2 /* ZPixmap */, conn.root, 0, 0, width, BARCODE.height, 0xffffffff, cb),
    );
    // depth 24 in 32-bit pixels, little-endian B, G, R, pad; rows are not padded further
    const luma = (x: number, y: number) => {
      const i = (Math.floor(y) * width + Math.floor(x)) * 4;
      const [b, g, r] = [image.data[i]!, image.data[i + 1]!, image.data[i + 2]!];
      return 0.299 * r + 0.587 * g + 0.114 * b;
    };
    return decodeBarcode(luma);
  } finally {
    await conn.close();
  }
}

describe('probe app', () => {
  it('explains itself and refuses bad arguments', async () => {
    const help = await run(process.execPath, [PROBE_APP, '--help']);
    expect(help.stdout).toMatch(/usage: .*--fps N.*--display :N/s);
    await expect(run(process.execPath, [PROBE_APP, '--fps', 'fast'])).rejects.toMatchObject({
      code: 2,
    });
    expect(parseProbeArgs(['--fps=30'], { DISPLAY: ':7' })).toEqual({ fps: 30, display: ':7' });
    expect(parseProbeArgs([], {})).toMatchObject({ exit: 2 });
  });

  it('paints the current time as a barcode that decodes', async () => {
    const probe = await startProbeProcess({ display: server.display, fps: 60 });
    try {
      expect(probe.events[0]).toEqual({ type: 'ready', width: 1280, height: 720 });
      const first = await readBarcode(server.display);
      expect(first).not.toBeNull();
      expect(Math.abs(first! - Date.now())).toBeLessThan(3_000);
      // frames go on: a later read shows a later time
      await new Promise((r) => setTimeout(r, 100));
      expect((await readBarcode(server.display))!).toBeGreaterThan(first!);
    } finally {
      await probe.stop();
    }
  });

  it('exits 0 on SIGTERM', async () => {
    const probe = await startProbeProcess({ display: server.display });
    await probe.stop();
    expect(await probe.exited).toBe(0);
  });

  it('exits when its X server goes away', async () => {
    const own = await startDisplayServer({ width: 640, height: 480, workDir: work });
    const probe = await startProbeProcess({ display: own.display });
    try {
      await own.stop();
      expect(await probe.exited).toBe(1);
      expect(probe.stderr()).toMatch(/went away/);
    } finally {
      await probe.stop();
      await own.stop();
    }
  });
});
