/**
 * The server's core keyboard mapping: keycode → keysyms, read with GetKeyboardMapping. Only the
 * first two columns matter here (group 1, unshifted and shifted); a keycode whose shifted
 * column is empty gives its unshifted keysym either way, as the core protocol says.
 */
import type { XConnection } from './connection.ts';

export interface Keymap {
  minKeycode: number;
  maxKeycode: number;
  keysymsPerKeycode: number;
  /** rows[keycode - minKeycode] = the keycode's keysyms, 0 for NoSymbol. */
  rows: number[][];
}

export async function readKeymap({ X, display, request }: XConnection): Promise<Keymap> {
  const min = display.min_keycode;
  const max = display.max_keycode;
  const rows = await request<number[][]>((cb) => X.GetKeyboardMapping(min, max - min + 1, cb));
  return { minKeycode: min, maxKeycode: max, keysymsPerKeycode: rows[0]?.length ?? 0, rows };
}

export function row(map: Keymap, keycode: number): number[] | undefined {
  return map.rows[keycode - map.minKeycode];
}

/** The keysym a keycode produces with or without Shift; 0 when it produces none. */
export function keysymAt(map: Keymap, keycode: number, shift: boolean): number {
  const r = row(map, keycode);
  if (!r) return 0;
  return (shift ? r[1] || r[0] : r[0]) ?? 0;
}

/** A keycode that produces `keysym` in the given Shift state, lowest first. */
export function keycodeFor(map: Keymap, keysym: number, shift: boolean): number | undefined {
  for (let keycode = map.minKeycode; keycode <= map.maxKeycode; keycode++) {
    if (keysymAt(map, keycode, shift) === keysym) return keycode;
  }
  return undefined;
}

/** Keycodes with no keysym at all: free to bind keysyms the layout lacks. */
export function emptyKeycodes(map: Keymap): number[] {
  const empty: number[] = [];
  for (let keycode = map.minKeycode; keycode <= map.maxKeycode; keycode++) {
    if (row(map, keycode)?.every((k) => k === 0)) empty.push(keycode);
  }
  return empty;
}
