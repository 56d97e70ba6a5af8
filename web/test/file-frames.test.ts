// The page's side of file chunks (src/stream/file-frames.ts): the same frames the streamer
// makes and reads (streamer/src/files/transfer.ts), and the progress labels, as tables.
import { describe, expect, it } from 'vitest';
import {
  frameChunk as streamerFrame,
  parseChunk as streamerParse,
} from '../../streamer/src/files/transfer.ts';
import { formatSize, frameChunk, parseChunk, progressLabel } from '../src/stream/file-frames.ts';

describe('chunk frames', () => {
  it.each([
    [0, 0, [1, 2, 3]],
    [7, 16_384, []],
    [0xffff_ffff, 2 ** 53 - 1, [255]],
  ])('id %i at %i round-trips through the streamer’s reader and writer', (id, offset, bytes) => {
    const data = new Uint8Array(bytes);
    const fromPage = streamerParse(Buffer.from(frameChunk(id, offset, data)));
    expect(
      fromPage && { id: fromPage.id, offset: fromPage.offset, data: [...fromPage.data] },
    ).toEqual({
      id,
      offset,
      data: bytes,
    });
    const framed = streamerFrame(id, offset, data);
    const buffer = framed.buffer.slice(framed.byteOffset, framed.byteOffset + framed.byteLength);
    const fromStreamer = parseChunk(buffer as ArrayBuffer);
    expect(fromStreamer && [...fromStreamer.data]).toEqual(bytes);
    expect(fromStreamer?.offset).toBe(offset);
  });

  it('refuses frames too short or with a bad offset', () => {
    expect(parseChunk(new ArrayBuffer(11))).toBeNull();
    const bad = frameChunk(1, 0, new Uint8Array(0));
    new DataView(bad).setFloat64(4, 0.5);
    expect(parseChunk(bad)).toBeNull();
  });
});

describe('labels', () => {
  it.each([
    [0, 0, '0 B of 0 B (100 %)'],
    [512, 1024, '512 B of 1.0 KiB (50 %)'],
    [3 * 1024 * 1024, 10 * 1024 * 1024, '3.0 MiB of 10 MiB (30 %)'],
  ])('%i of %i → %s', (done, total, label) => {
    expect(progressLabel(done, total)).toBe(label);
  });
  it('formats sizes', () => {
    expect(formatSize(5 * 1024 ** 3)).toBe('5.0 GiB');
  });
});
