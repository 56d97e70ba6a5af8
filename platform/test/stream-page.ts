// What the stream page shows, read in the browser: video frames decoded so far.
import type { Page } from 'playwright-core';

/** Video frames the page's peer connection has decoded (`window.__floe.pc`). */
export function framesDecoded(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const { pc } = (window as unknown as { __floe: { pc: RTCPeerConnection } }).__floe;
    let frames = 0;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') frames = s.framesDecoded;
    });
    return frames;
  });
}

/** The MIME type of the codec the page's video arrives in, e.g. `video/VP9`. */
export function videoCodec(page: Page): Promise<string | null> {
  return page.evaluate(async () => {
    const { pc } = (window as unknown as { __floe: { pc: RTCPeerConnection } }).__floe;
    const stats = [...(await pc.getStats()).values()];
    const inbound = stats.find((s) => s.type === 'inbound-rtp' && s.kind === 'video');
    return stats.find((s) => s.id === inbound?.codecId)?.mimeType ?? null;
  });
}
