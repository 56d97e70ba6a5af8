import { offeredAs } from '@floe/streamer/codec';
import type { VideoCodec } from '@floe/streamer/protocol';

/** Entries of a codec list that carry no media of their own (retransmission, redundancy, FEC). */
const AUXILIARY = new Set(['video/rtx', 'video/red', 'video/ulpfec', 'video/flexfec-03']);

/**
 * The receive codecs to offer when the user asked for one codec: only the profiles the
 * streamer sends as that codec (H.264's 4:2:0 profiles for `H264`, its High 4:4:4 for
 * `H264-444`), plus the auxiliary entries. The streamer picks by its own preference among
 * what the offer contains, so merely listing ours first would not be enough. Null when the
 * browser cannot decode the codec (offer everything rather than nothing).
 */
export function preferredCodecs<C extends { mimeType: string; sdpFmtpLine?: string }>(
  codecs: readonly C[],
  preferred: VideoCodec,
): C[] | null {
  const media = codecs.filter(
    (c) => offeredAs(c.mimeType.replace(/^video\//i, ''), c.sdpFmtpLine ?? '') === preferred,
  );
  if (media.length === 0) return null;
  return [...media, ...codecs.filter((c) => AUXILIARY.has(c.mimeType.toLowerCase()))];
}
