/**
 * Bridges the browser's clipboard text and the X CLIPBOARD selection.
 *
 * set(text) makes us the owner of CLIPBOARD and PRIMARY, and we answer apps' requests for the
 * text as UTF8_STRING, STRING (Latin-1) or TEXT. When another X client takes CLIPBOARD (XFIXES
 * tells us; without XFIXES we poll the owner), we convert its selection to UTF8_STRING and hand
 * the text to onRemoteChange. Our own set() is never echoed back.
 *
 * Limits: text is served in one property write, so at most MAX_CLIPBOARD_BYTES (~256 KiB) of
 * UTF-8, cut at a character boundary; what apps copy is read up to the same size, and an app
 * that sends its text incrementally (INCR, for large selections) is not read.
 */
import type { FixesExt, Property, XEvent } from 'x11';
import { openConnection } from './connection.ts';

/**
 * The text is written with one ChangeProperty, and the x11 package packs that request without
 * BIG-REQUESTS: at most 65535 four-byte units, less its 24-byte header (256 KiB less 28 bytes).
 */
export const MAX_CLIPBOARD_BYTES = 0xffff * 4 - 24;
/** How often the owner is polled when the server lacks XFIXES. */
export const POLL_MS = 500;
/** How long an owner may take to answer a conversion. */
const CONVERT_TIMEOUT_MS = 2_000;

export interface Clipboard {
  /** Offers `text` to X apps as CLIPBOARD and PRIMARY. */
  set(text: string): void;
  close(): Promise<void>;
}

export interface ClipboardOptions {
  /** false: poll the owner even when XFIXES is there (for tests of the fallback). */
  xfixes?: boolean;
}

// predefined atoms of the core protocol
const PRIMARY = 1;
const ATOM = 4;
const STRING = 31;
const SELECTION_NOTIFY = 31;

export async function openClipboard(
  display: string,
  onRemoteChange: (text: string) => void,
  opts: ClipboardOptions = {},
): Promise<Clipboard> {
  const conn = await openConnection(display);
  const { X, root, request } = conn;
  try {
    const atom = (name: string) => request<number>((cb) => X.InternAtom(false, name, cb));
    const CLIPBOARD = await atom('CLIPBOARD');
    const TARGETS = await atom('TARGETS');
    const UTF8_STRING = await atom('UTF8_STRING');
    const TEXT = await atom('TEXT');
    // where owners put the text they convert for us
    const INBOX = await atom('FLOE_CLIPBOARD');

    const win = X.AllocID();
    X.CreateWindow(win, root, -10, -10, 1, 1, 0, 0, 2 /* InputOnly */, 0, {});

    let served: Buffer = Buffer.alloc(0);
    const owned = new Set<number>();
    /** The text both sides last agreed on: not reported again. */
    let known: string | undefined;
    /** Bumped by set(), so a conversion started before it cannot overwrite it. */
    let generation = 0;

    const answer = (ev: XEvent) => {
      const requestor = ev.requestor ?? 0;
      const selection = ev.selection ?? 0;
      const target = ev.target ?? 0;
      // obsolete clients pass no property: the target's name is used then (ICCCM 2.2)
      let property = ev.property || target;
      try {
        if (!owned.has(selection)) property = 0;
        else if (target === TARGETS) {
          X.ChangeProperty(0, requestor, property, ATOM, 32, [TARGETS, UTF8_STRING, STRING, TEXT]);
        } else if (target === UTF8_STRING || target === TEXT) {
          X.ChangeProperty(0, requestor, property, UTF8_STRING, 8, served);
        } else if (target === STRING) {
          X.ChangeProperty(0, requestor, property, STRING, 8, latin1(served));
        } else property = 0;
      } catch {
        property = 0; // refused: the requestor must hear back either way
      }
      X.SendEvent(requestor, 0, 0, {
        name: 'SelectionNotify',
        time: ev.time ?? 0,
        requestor,
        selection,
        target,
        property,
      });
    };

    let fixes: FixesExt | undefined;
    if (opts.xfixes !== false) {
      fixes = await request<FixesExt>((cb) => X.require('fixes', cb)).catch(() => undefined);
    }

    let converted: ((ev: XEvent) => void) | undefined;
    const convert = (target: number) =>
      new Promise<number>((resolve) => {
        const timer = setTimeout(() => finish(0), CONVERT_TIMEOUT_MS);
        const finish = (property: number) => {
          clearTimeout(timer);
          converted = undefined;
          resolve(property);
        };
        converted = (ev) => {
          if (ev.selection === CLIPBOARD && ev.target === target) finish(ev.property ?? 0);
        };
        X.ConvertSelection(win, CLIPBOARD, target, INBOX, 0);
      });

    let fetching = false;
    let again = false;
    const fetchRemote = async () => {
      if (fetching) {
        again = true;
        return;
      }
      fetching = true;
      try {
        do {
          again = false;
          const startedAt = generation;
          const text = await readSelection();
          if (text !== undefined && startedAt === generation && text !== known) {
            known = text;
            onRemoteChange(text);
          }
        } while (again && !conn.closed);
      } catch {
        // the owner vanished or the connection closed; the next change tries again
      } finally {
        fetching = false;
      }
    };

    const readSelection = async (): Promise<string | undefined> => {
      let target = UTF8_STRING;
      let property = await convert(target);
      if (!property) {
        // owners from before UTF-8 only speak Latin-1
        target = STRING;
        property = await convert(target);
      }
      if (!property) return undefined;
      const prop = await request<Property>((cb) =>
        X.GetProperty(1, win, INBOX, 0, 0, Math.ceil(MAX_CLIPBOARD_BYTES / 4), cb),
      );
      if (prop.bytesAfter) X.DeleteProperty(win, INBOX);
      if (prop.type === UTF8_STRING) return prop.data.toString('utf8');
      if (prop.type === STRING) return prop.data.toString('latin1');
      return undefined; // INCR or a type we do not read
    };

    X.on('event', (ev: XEvent) => {
      if (ev.name === 'SelectionRequest' && ev.owner === win) answer(ev);
      else if (ev.name === 'SelectionClear' && ev.owner === win) owned.delete(ev.selection ?? 0);
      else if (ev.type === SELECTION_NOTIFY && ev.requestor === win) converted?.(ev);
      else if (fixes && ev.type === fixes.firstEvent && ev.selection === CLIPBOARD) {
        if (ev.owner && ev.owner !== win) void fetchRemote();
      }
    });

    let poll: NodeJS.Timeout | undefined;
    if (fixes) {
      fixes.SelectSelectionInput(win, CLIPBOARD, fixes.SelectionEventMask.SetSelectionOwner);
    } else {
      // without XFIXES an owner that re-takes the selection with the same window goes unseen
      let lastOwner = await request<number>((cb) => X.GetSelectionOwner(CLIPBOARD, cb));
      poll = setInterval(() => {
        request<number>((cb) => X.GetSelectionOwner(CLIPBOARD, cb))
          .then((owner) => {
            if (owner === lastOwner) return;
            lastOwner = owner;
            if (owner && owner !== win) void fetchRemote();
          })
          .catch(() => {});
      }, POLL_MS);
    }
    conn.onClose(() => clearInterval(poll));
    await conn.sync();

    return {
      set(text) {
        if (typeof text !== 'string' || conn.closed) return;
        served = truncateUtf8(text, MAX_CLIPBOARD_BYTES);
        known = text;
        generation++;
        for (const selection of [CLIPBOARD, PRIMARY]) {
          X.SetSelectionOwner(win, selection, 0);
          owned.add(selection);
        }
      },
      async close() {
        clearInterval(poll);
        if (conn.closed) return;
        X.DestroyWindow(win);
        await conn.close();
      },
    };
  } catch (err) {
    await conn.close();
    throw err;
  }
}

/** UTF-8 of `text`, at most `max` bytes, never ending inside a character. */
export function truncateUtf8(text: string, max: number): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= max) return bytes;
  let end = max;
  // continuation bytes are 10xxxxxx; back up to the start of the character they belong to
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/** STRING is Latin-1; characters outside it become '?'. */
function latin1(utf8: Buffer): Buffer {
  const chars = [...utf8.toString('utf8')].map((c) => (c.codePointAt(0)! <= 0xff ? c : '?'));
  return Buffer.from(chars.join(''), 'latin1');
}
