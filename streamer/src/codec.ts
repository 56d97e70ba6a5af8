import type { VideoCodec } from './protocol.ts';

/**
 * Which of our codecs the browser's offer can receive. Read from the offer's rtpmap lines
 * (H.264 only with packetization-mode=1, the mode our payloader writes).
 */
export function offeredCodecs(sdp: string): Set<VideoCodec> {
  const found = new Set<VideoCodec>();
  const video = sdp.split(/^m=/m).find((section) => section.startsWith('video'));
  if (!video) return found;
  const fmtp = new Map<string, string>();
  for (const m of video.matchAll(/^a=fmtp:(\d+) (.*)$/gm)) fmtp.set(m[1]!, m[2]!.trim());
  for (const m of video.matchAll(/^a=rtpmap:(\d+) ([\w-]+)\/90000/gm)) {
    const name = m[2]!.toUpperCase();
    if (name === 'VP8') found.add('VP8');
    if (name === 'H264' && /packetization-mode=1/.test(fmtp.get(m[1]!) ?? '')) found.add('H264');
  }
  return found;
}

/** The first codec of the streamer's preference that the browser offered, or null. */
export function chooseCodec(preference: readonly VideoCodec[], sdp: string): VideoCodec | null {
  const offered = offeredCodecs(sdp);
  return preference.find((codec) => offered.has(codec)) ?? null;
}
