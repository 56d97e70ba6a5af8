/**
 * Changes an X screen's size with RandR, as `xrandr --newmode/--addmode/--output --mode` would,
 * but in-process: no xrandr binary needed in the image. Xorg with the dummy driver takes any
 * size up to 8K. Xvfb takes sizes up to the one it started with, no larger (a clear error).
 *
 * All steps run on one connection: a RandR mode lives only as long as the client that made it
 * unless an output uses it, and a server without -noreset resets when its last client leaves.
 */
import type {
  CrtcInfo,
  Geometry,
  OutputInfo,
  RandrExt,
  ScreenResources,
  SizeRange,
  XError,
} from 'x11';
import { openConnection, type XConnection } from './connection.ts';
import { BASE_DPI, millimetres } from './dpi.ts';

/** Bounds the streamer accepts; encoders want even sizes. */
export const SIZE_LIMITS = { minWidth: 320, maxWidth: 7680, minHeight: 240, maxHeight: 4320 };

/** Modes we create carry this suffix, so stale ones can be told from the driver's own. */
const MODE_SUFFIX = '_floe';
const RR_CONNECTED = 0;

export function normalizeSize(width: number, height: number): { width: number; height: number } {
  const even = (n: number, min: number, max: number) =>
    Math.min(max, Math.max(min, 2 * Math.round((Number.isFinite(n) ? n : min) / 2)));
  return {
    width: even(width, SIZE_LIMITS.minWidth, SIZE_LIMITS.maxWidth),
    height: even(height, SIZE_LIMITS.minHeight, SIZE_LIMITS.maxHeight),
  };
}

/**
 * Resizes the screen of `display`; resolves with the size it now has. `dpi` sets its physical
 * size (see dpi.ts), so a resize keeps the DPI the viewer's screen asked for.
 */
export async function resizeDisplay(
  display: string,
  width: number,
  height: number,
  dpi = BASE_DPI,
): Promise<{ width: number; height: number }> {
  const size = normalizeSize(width, height);
  const fail = (why: string) =>
    new Error(`cannot resize X display ${display} to ${size.width}x${size.height}: ${why}`);
  const conn = await openConnection(display);
  try {
    await setScreenSize(conn, size.width, size.height, dpi);
    return size;
  } catch (err) {
    throw fail((err as Error).message);
  } finally {
    await conn.close();
  }
}

/** The current size of the screen of `display`. */
export async function screenSize(display: string): Promise<{ width: number; height: number }> {
  const conn = await openConnection(display);
  try {
    const { width, height } = await conn.request<Geometry>((cb) =>
      conn.X.GetGeometry(conn.root, cb),
    );
    return { width, height };
  } finally {
    await conn.close();
  }
}

async function setScreenSize(conn: XConnection, width: number, height: number, dpi: number) {
  const { X, root, request } = conn;
  const randr = await request<RandrExt>((cb) => X.require('randr', cb));
  const res = await request<ScreenResources>((cb) => randr.GetScreenResourcesCurrent(root, cb));
  const { output, info } = await drivenOutput(conn, randr, res.outputs, res.config_timestamp);
  const crtc = info.crtc || info.crtcs[0]!;
  const crtcInfo = await request<CrtcInfo>((cb) =>
    randr.GetCrtcInfo(crtc, res.config_timestamp, cb),
  );
  const current = await request<Geometry>((cb) => X.GetGeometry(root, cb));
  const modeOf = (id: number) => res.modeinfos.find((m) => m.id === id);
  const active = modeOf(crtcInfo.mode);
  if (
    current.width === width &&
    current.height === height &&
    active?.width === width &&
    active.height === height
  ) {
    return;
  }

  const range = await request<SizeRange>((cb) => randr.GetScreenSizeRange(root, cb));
  if (width > range.maxWidth || height > range.maxHeight) {
    throw new Error(
      `the server's screen is at most ${range.maxWidth}x${range.maxHeight} (Xvfb cannot grow; run Xorg with the dummy driver)`,
    );
  }

  // void extension requests report failure only as an 'error' event; collect those
  const errors: XError[] = [];
  const onError = (err: XError) => errors.push(err);
  X.on('error', onError);
  try {
    const name = `${width}x${height}${MODE_SUFFIX}`;
    let mode =
      res.modeinfos.find(
        (m) => info.modes.includes(m.id) && m.width === width && m.height === height,
      )?.id ?? res.modeinfos.find((m) => m.name === name)?.id;
    if (mode === undefined) {
      mode = await request<number>((cb) =>
        randr.CreateMode(root, modeLine(width, height, name), cb),
      );
    }
    if (!info.modes.includes(mode)) randr.AddOutputMode(output, mode);

    // A CRTC must lie inside the screen at every step: switch it off if it would not fit the
    // new size, resize the screen, then drive the output with the new mode.
    if (
      crtcInfo.mode &&
      (crtcInfo.x + crtcInfo.width > width || crtcInfo.y + crtcInfo.height > height)
    ) {
      await setCrtc(conn, randr, crtc, res.config_timestamp, 0, []);
    }
    randr.SetScreenSize(root, width, height, millimetres(width, dpi), millimetres(height, dpi));
    await setCrtc(conn, randr, crtc, res.config_timestamp, mode, [output]);
    await conn.sync();
    if (errors.length) throw new Error(`the server refused: X error ${errors[0]!.error}`);
    const now = await request<Geometry>((cb) => X.GetGeometry(root, cb));
    if (now.width !== width || now.height !== height) {
      throw new Error(`the server kept ${now.width}x${now.height}`);
    }
    await dropStaleModes(conn, randr, output, mode);
  } finally {
    X.removeListener('error', onError);
  }
}

/** The output showing the screen: connected and with a CRTC (Xorg dummy: DUMMY0). */
async function drivenOutput(
  { request }: XConnection,
  randr: RandrExt,
  outputs: number[],
  configTs: number,
) {
  let fallback: { output: number; info: OutputInfo } | undefined;
  for (const output of outputs) {
    const info = await request<OutputInfo>((cb) => randr.GetOutputInfo(output, configTs, cb));
    if (info.connection !== RR_CONNECTED || info.crtcs.length === 0) continue;
    if (info.crtc) return { output, info };
    fallback ??= { output, info };
  }
  if (!fallback) throw new Error('the server has no connected RandR output');
  return fallback;
}

async function setCrtc(
  { request }: XConnection,
  randr: RandrExt,
  crtc: number,
  configTs: number,
  mode: number,
  outputs: number[],
) {
  const reply = await request<{ status: number }>((cb) =>
    randr.SetCrtcConfig(crtc, 0, configTs, 0, 0, mode, randr.Rotation.Rotate_0, outputs, cb),
  );
  if (reply.status !== 0)
    throw new Error(`the server refused the CRTC setting (status ${reply.status})`);
}

/** Our modes not in use any more come off the output, so resizes do not pile up modes. */
async function dropStaleModes(
  { X, root, request, sync }: XConnection,
  randr: RandrExt,
  output: number,
  inUse: number,
) {
  const res = await request<ScreenResources>((cb) => randr.GetScreenResourcesCurrent(root, cb));
  const stale = res.modeinfos.filter((m) => m.name.endsWith(MODE_SUFFIX) && m.id !== inUse);
  if (stale.length === 0) return;
  // a failure here costs nothing but a leftover mode, so errors are ignored
  const ignore = () => {};
  X.on('error', ignore);
  try {
    for (const m of stale) {
      randr.DeleteOutputMode(output, m.id);
      randr.DestroyMode(m.id);
    }
    await sync();
  } finally {
    X.removeListener('error', ignore);
  }
}

/** A 60 Hz timing with reduced blanking; apps that pace by the refresh rate see a sane one. */
function modeLine(width: number, height: number, name: string) {
  const hTotal = width + 160;
  const vTotal = height + 30;
  return {
    width,
    height,
    dot_clock: hTotal * vTotal * 60,
    h_sync_start: width + 48,
    h_sync_end: width + 80,
    h_total: hTotal,
    h_skew: 0,
    v_sync_start: height + 3,
    v_sync_end: height + 8,
    v_total: vTotal,
    modeflags: 0,
    name,
  };
}
