/**
 * The display's DPI, set the two ways X apps read it, so text comes out at the size the
 * viewer's screen expects and, with the display at device pixels, sharp on a HiDPI screen:
 *
 * - `Xft.dpi` in the root window's RESOURCE_MANAGER property, as `xrdb -merge` would write it
 *   (Xft, GTK without a settings daemon, Qt, xterm's TrueType fonts, Chromium and Electron);
 * - the screen's physical size in millimetres through RandR, from which the core protocol's
 *   DPI follows (`xdpyinfo`, core fonts, apps that measure the screen).
 *
 * Apps read both when they start; most running apps keep the DPI they started with.
 */
import type { Geometry, Property, RandrExt, XError } from 'x11';
import { openConnection } from './connection.ts';

/** What X assumes without being told; a browser's devicePixelRatio of 1. */
export const BASE_DPI = 96;
/** Bounds of the DPI the streamer sets (a ratio of ½ to 5). */
export const DPI_LIMITS = { min: 48, max: 480 } as const;

/** Predefined atoms of the core protocol. */
const XA_RESOURCE_MANAGER = 23;
const XA_STRING = 31;
const PROP_MODE_REPLACE = 0;
/** The resource database is small text; more than this is not ours to rewrite. */
const MAX_RESOURCES_BYTES = 1024 * 1024;

/** The DPI for a browser's devicePixelRatio: 96 per device pixel per CSS pixel, bounded. */
export function dpiForScale(scale: number): number {
  if (!(scale > 0) || !Number.isFinite(scale)) return BASE_DPI;
  return Math.min(DPI_LIMITS.max, Math.max(DPI_LIMITS.min, Math.round(BASE_DPI * scale)));
}

/** Millimetres of `px` pixels at `dpi` (RandR wants whole, non-zero millimetres). */
export function millimetres(px: number, dpi: number): number {
  return Math.max(1, Math.round((px * 25.4) / dpi));
}

/**
 * The resource database with `Xft.dpi` set to `dpi`: an existing Xft.dpi line replaced (the
 * last one wins in Xrm, so all are replaced), other lines kept as they were.
 */
export function withXftDpi(resources: string, dpi: number): string {
  const line = `Xft.dpi:\t${dpi}`;
  const lines = resources.split('\n').filter((l) => l !== '');
  const isDpi = (l: string) => /^\s*Xft\.dpi\s*:/.test(l);
  const kept = lines.filter((l) => !isDpi(l));
  return `${[...kept, line].join('\n')}\n`;
}

/** Sets the DPI of `display` (both ways above) for the screen's current size. */
export async function setDisplayDpi(display: string, dpi: number): Promise<void> {
  const conn = await openConnection(display);
  try {
    const { X, root, request } = conn;
    const current = await request<Property>((cb) =>
      X.GetProperty(0, root, XA_RESOURCE_MANAGER, XA_STRING, 0, MAX_RESOURCES_BYTES / 4, cb),
    );
    const before = current.type === XA_STRING ? current.data.toString('latin1') : '';
    const after = withXftDpi(before, dpi);
    X.ChangeProperty(
      PROP_MODE_REPLACE,
      root,
      XA_RESOURCE_MANAGER,
      XA_STRING,
      8,
      Buffer.from(after, 'latin1'),
    );

    const size = await request<Geometry>((cb) => X.GetGeometry(root, cb));
    const randr = await request<RandrExt>((cb) => X.require('randr', cb));
    // a void request reports failure only as an 'error' event
    const errors: XError[] = [];
    const onError = (err: XError) => errors.push(err);
    X.on('error', onError);
    try {
      randr.SetScreenSize(
        root,
        size.width,
        size.height,
        millimetres(size.width, dpi),
        millimetres(size.height, dpi),
      );
      await conn.sync();
    } finally {
      X.removeListener('error', onError);
    }
    if (errors.length) {
      throw new Error(`X display ${display} refused the DPI ${dpi}: X error ${errors[0]!.error}`);
    }
  } finally {
    await conn.close();
  }
}
