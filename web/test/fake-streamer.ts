/**
 * A stand-in for the streamer's WebRTC side, run in a second Chromium page: it answers the
 * stream page's offer with a canvas that paints the latency probe barcode (the real
 * encodeBarcode, passed in as cells), an oscillator as audio, and records what arrives on
 * the input data channel. Signalling is relayed by the test through serveStream's socket.
 *
 * A mock only because the streamer does not exist yet; the end-to-end test against the real
 * streamer replaces it.
 */
import type { Page } from 'playwright-core';
import { BARCODE } from '../../streamer/src/barcode.ts';
import type { SignalSocket } from './harness.ts';

export interface FakeStreamerState {
  inputs: Record<string, unknown>[];
}

/** Starts the fake in `page` (blank) and answers the next offer on `socket`. */
export async function answerWithFakeStreamer(
  page: Page,
  socket: SignalSocket,
  opts: {
    iceServers?: RTCIceServer[];
    codec?: 'VP8' | 'H264';
    /** How far the fake streamer's clock runs ahead of the browser's, ms. */
    clockSkewMs?: number;
  } = {},
): Promise<void> {
  socket.send({
    type: 'welcome',
    protocolVersion: 1,
    iceServers: opts.iceServers ?? [],
    codecs: ['H264', 'VP8'],
    display: { width: 1280, height: 720 },
    resizable: true,
  });
  const offer = await socket.next();
  if (offer.type !== 'offer') throw new Error(`expected an offer, got ${JSON.stringify(offer)}`);
  const sdp = await page.evaluate(fakeStreamerAnswer, {
    offer: String(offer.sdp),
    iceServers: opts.iceServers ?? [],
    clockSkewMs: opts.clockSkewMs ?? 0,
    barcode: { bits: BARCODE.bits, cellWidth: BARCODE.cellWidth, height: BARCODE.height },
  });
  socket.send({ type: 'answer', sdp, codec: opts.codec ?? 'VP8' });
  socket.send({ type: 'ice', candidate: null }); // all candidates are in the answer
  void (async () => {
    for (;;) {
      const m = await socket.next();
      if (m.type === 'ice' && m.candidate) {
        await page.evaluate(
          (c) => window.fake.pc.addIceCandidate(c),
          m.candidate as RTCIceCandidateInit,
        );
      }
    }
  })().catch(() => {});
}

declare global {
  interface Window {
    fake: { pc: RTCPeerConnection; inputs: Record<string, unknown>[]; channel?: RTCDataChannel };
  }
}

/** Runs in the browser: no imports, everything it needs comes in `args`. */
async function fakeStreamerAnswer(args: {
  offer: string;
  iceServers: RTCIceServer[];
  clockSkewMs: number;
  barcode: { bits: number; cellWidth: number; height: number };
}): Promise<string> {
  const now = () => Date.now() + args.clockSkewMs;
  const { bits, cellWidth, height } = args.barcode;
  const canvas = document.createElement('canvas');
  canvas.width = 1280;
  canvas.height = 720;
  const ctx = canvas.getContext('2d')!;
  const paint = () => {
    ctx.fillStyle = '#30405a';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    // The barcode as streamer/src/barcode.ts encodes it: white marker, bits, black marker.
    const t = now();
    const cells = [true];
    for (let i = bits - 1; i >= 0; i--) cells.push(Math.floor(t / 2 ** i) % 2 === 1);
    cells.push(false);
    cells.forEach((white, i) => {
      ctx.fillStyle = white ? '#fff' : '#000';
      ctx.fillRect(i * cellWidth, 0, cellWidth, height);
    });
  };
  setInterval(paint, 1000 / 60);
  paint();
  const video = canvas.captureStream(60).getVideoTracks()[0]!;
  const audioContext = new AudioContext();
  const oscillator = audioContext.createOscillator();
  const destination = audioContext.createMediaStreamDestination();
  oscillator.connect(destination);
  oscillator.start();
  const audio = destination.stream.getAudioTracks()[0]!;

  const pc = new RTCPeerConnection({ iceServers: args.iceServers });
  const inputs: Record<string, unknown>[] = [];
  window.fake = { pc, inputs };
  pc.ondatachannel = (e) => {
    window.fake.channel = e.channel;
    e.channel.onmessage = (m) => {
      const message = JSON.parse(m.data);
      if (message.t === 'ping') {
        const pong = { t: 'pong', id: message.id, sent: message.sent, streamerTime: now() };
        e.channel.send(JSON.stringify(pong));
      } else {
        inputs.push(message);
      }
    };
  };
  await pc.setRemoteDescription({ type: 'offer', sdp: args.offer });
  for (const t of pc.getTransceivers()) {
    const kind = t.receiver.track.kind;
    await t.sender.replaceTrack(kind === 'video' ? video : audio);
    t.direction = 'sendonly';
  }
  await pc.setLocalDescription(await pc.createAnswer());
  // Full resolution from the first frame, as the streamer sends it: the barcode needs it.
  for (const t of pc.getTransceivers()) {
    if (t.sender.track?.kind !== 'video') continue;
    const params = t.sender.getParameters();
    params.degradationPreference = 'maintain-resolution';
    await t.sender.setParameters(params);
  }
  await new Promise<void>((resolve) => {
    if (pc.iceGatheringState === 'complete') resolve();
    pc.onicegatheringstatechange = () => {
      if (pc.iceGatheringState === 'complete') resolve();
    };
  });
  return pc.localDescription!.sdp;
}
