// The display's DPI on a real Xorg (dummy driver): xrdb reads Xft.dpi back and xdpyinfo the
// resolution RandR's physical size gives, as any X app would.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DisplayServer, startDisplayServer } from '../src/x11/display-server.ts';
import { dpiForScale, millimetres, setDisplayDpi, withXftDpi } from '../src/x11/dpi.ts';
import { resizeDisplay } from '../src/x11/resize.ts';

describe('dpiForScale', () => {
  it.each([
    [1, 96],
    [2, 192],
    [1.25, 120],
    [1.5, 144],
    [0.25, 48],
    [8, 480],
    [0, 96],
    [Number.NaN, 96],
  ])('devicePixelRatio %d → %d dpi', (scale, dpi) => {
    expect(dpiForScale(scale)).toBe(dpi);
  });
});

describe('millimetres', () => {
  it.each([
    [1920, 96, 508],
    [1920, 192, 254],
    [1, 480, 1],
  ])('%d px at %d dpi → %d mm', (px, dpi, mm) => {
    expect(millimetres(px, dpi)).toBe(mm);
  });
});

describe('withXftDpi', () => {
  it.each([
    ['an empty database', '', 'Xft.dpi:\t192\n'],
    ['other resources, kept', 'XTerm*faceName:\tMono\n', 'XTerm*faceName:\tMono\nXft.dpi:\t192\n'],
    [
      'an earlier Xft.dpi, replaced wherever it was',
      'Xft.dpi:\t96\n*background: black\n  Xft.dpi :120\n',
      '*background: black\nXft.dpi:\t192\n',
    ],
    ['a look-alike resource, kept', 'Xft.dpiish: 1', 'Xft.dpiish: 1\nXft.dpi:\t192\n'],
  ])('%s', (_, before, after) => {
    expect(withXftDpi(before, 192)).toBe(after);
  });
});

describe('on a real display', () => {
  let work: string;
  let server: DisplayServer;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'floe-x11-dpi-'));
    server = await startDisplayServer({ width: 1280, height: 720, workDir: work });
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  function x(tool: string, ...args: string[]): string {
    // spawns: xrdb xdpyinfo
    return execFileSync(tool, args, {
      env: { ...process.env, DISPLAY: server.display },
    }).toString();
  }
  /** The resolution xdpyinfo reports, each way rounded to the nearest whole DPI. */
  const resolution = () => {
    const m = /resolution:\s+(\d+)x(\d+) dots per inch/.exec(x('xdpyinfo'));
    return m ? [Number(m[1]), Number(m[2])] : null;
  };
  /** Whole millimetres cannot give every DPI exactly: 720 px in 95 mm is 192.5 dpi. */
  const expectResolution = (dpi: number) => {
    const [h, v] = resolution() ?? [0, 0];
    expect(Math.abs(h! - dpi)).toBeLessThanOrEqual(1);
    expect(Math.abs(v! - dpi)).toBeLessThanOrEqual(1);
  };

  it('sets Xft.dpi and the screen resolution, keeping other resources; a resize keeps it', async () => {
    execFileSync('xrdb', ['-merge', '-nocpp'], {
      env: { ...process.env, DISPLAY: server.display },
      input: 'Floe.test:\tkept\n',
    });
    await setDisplayDpi(server.display, 192);
    const resources = x('xrdb', '-query');
    expect(resources).toMatch(/^Xft\.dpi:\s+192$/m);
    expect(resources).toMatch(/^Floe\.test:\s+kept$/m);
    expectResolution(192);

    // the physical size follows a resize at the DPI set
    await resizeDisplay(server.display, 1600, 900, 192);
    expectResolution(192);

    await setDisplayDpi(server.display, 96);
    expect(x('xrdb', '-query').match(/Xft\.dpi/g)).toHaveLength(1);
    expect(x('xrdb', '-query')).toMatch(/^Xft\.dpi:\s+96$/m);
    expectResolution(96);
  });
});
