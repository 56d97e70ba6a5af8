/**
 * The binary side of the "files" channel (streamer/src/protocol.ts): each chunk is the
 * transfer's id (uint32) and the chunk's offset (float64), big-endian, then the bytes. Pure,
 * and the mirror of streamer/src/files/transfer.ts `frameChunk` / `parseChunk`.
 */
import { FILE_LIMITS } from '@floe/streamer/protocol';

export const CHUNK_BYTES = FILE_LIMITS.chunkBytes;
const HEADER = FILE_LIMITS.chunkHeader;

export function frameChunk(id: number, offset: number, data: Uint8Array): ArrayBuffer {
  const frame = new ArrayBuffer(HEADER + data.byteLength);
  const view = new DataView(frame);
  view.setUint32(0, id);
  view.setFloat64(4, offset);
  new Uint8Array(frame, HEADER).set(data);
  return frame;
}

export function parseChunk(
  frame: ArrayBuffer,
): { id: number; offset: number; data: Uint8Array } | null {
  if (frame.byteLength < HEADER) return null;
  const view = new DataView(frame);
  const offset = view.getFloat64(4);
  if (!Number.isSafeInteger(offset) || offset < 0) return null;
  return { id: view.getUint32(0), offset, data: new Uint8Array(frame, HEADER) };
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatSize(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

/** What a transfer's row says: `3.2 MiB of 10 MiB (32 %)`. */
export function progressLabel(done: number, total: number): string {
  const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
  return `${formatSize(done)} of ${formatSize(total)} (${percent} %)`;
}
