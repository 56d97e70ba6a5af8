/**
 * Headless viewers for the fan-out benchmark (fanout.ts), in a process of their own so that
 * their CPU is not counted as the streamer's: each one signals like the stream page (welcome,
 * offer, answer, trickled candidates) and receives the video with werift, without decoding
 * it. What each records: when the last packet of each frame (RTP marker) arrived, by RTP
 * timestamp, so the parent can line the viewers' arrivals up frame by frame (one clock).
 *
 *   node streamer/bench/fanout-viewers.ts <signal-url> <count> [pli-ms]
 * with pli-ms, the first viewer acts like one on a lossy link: it asks for a keyframe (PLI)
 * every pli-ms.
 * prints `ready` once every viewer receives video; on SIGTERM (or stdin closing) prints one
 * JSON line: [{ frames, bytes, arrivals: [[rtpTimestamp, ms], …] }, …].
 */
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { WebSocket } from 'ws';

const [url, countText, pliText] = process.argv.slice(2);
const PLI_MS = Number(pliText ?? 0);
const count = Number(countText);
if (!url || !(count > 0)) {
  process.stderr.write('usage: fanout-viewers.ts <signal-url> <count>\n');
  process.exit(2);
}

interface ViewerRecord {
  frames: number;
  bytes: number;
  arrivals: [number, number][];
}

let receiving = 0;
function progress(what: string) {
  if (what === 'receiving') receiving++;
  if (process.env.BENCH_DEBUG) process.stderr.write(`viewers: ${what} (${receiving}/${count})\n`);
}

async function viewer(lossy: boolean): Promise<ViewerRecord> {
  const record: ViewerRecord = { frames: 0, bytes: 0, arrivals: [] };
  const pc = new RTCPeerConnection({
    codecs: {
      video: [
        new RTCRtpCodecParameters({
          mimeType: 'video/H264',
          clockRate: 90_000,
          rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }],
          parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
        }),
      ],
      audio: [],
    },
  });
  const video = pc.addTransceiver('video', { direction: 'recvonly' });
  pc.createDataChannel('input');
  let first: () => void;
  const receiving = new Promise<void>((resolve) => {
    first = resolve;
  });
  pc.connectionStateChange.subscribe((state) => progress(`peer ${state}`));
  pc.onTrack.subscribe((track) => {
    let ssrc = 0;
    if (lossy && PLI_MS > 0) {
      const timer = setInterval(() => {
        if (ssrc) void video.receiver.sendRtcpPLI(ssrc).catch(() => {});
      }, PLI_MS);
      timer.unref();
    }
    track.onReceiveRtp.subscribe((rtp) => {
      ssrc = rtp.header.ssrc;
      record.bytes += rtp.payload.length;
      if (!rtp.header.marker) return;
      record.frames++;
      record.arrivals.push([rtp.header.timestamp, performance.timeOrigin + performance.now()]);
      if (record.frames === 1) progress('receiving');
      first();
    });
  });
  const ws = new WebSocket(url!);
  pc.onIceCandidate.subscribe((candidate) => {
    if (ws.readyState === ws.OPEN)
      ws.send(JSON.stringify({ type: 'ice', candidate: candidate?.toJSON() ?? null }));
  });
  ws.on('message', async (data) => {
    const message = JSON.parse(data.toString());
    if (message.type === 'welcome') {
      await pc.setLocalDescription(await pc.createOffer());
      ws.send(JSON.stringify({ type: 'offer', sdp: pc.localDescription!.sdp }));
    } else if (message.type === 'answer') {
      await pc.setRemoteDescription({ type: 'answer', sdp: message.sdp });
    } else if (message.type === 'ice' && message.candidate) {
      await pc.addIceCandidate(message.candidate).catch(() => {});
    } else if (message.type === 'error') {
      process.stderr.write(`viewer refused: ${message.message}\n`);
    }
  });
  await receiving;
  return record;
}

const records = await Promise.all(Array.from({ length: count }, (_, i) => viewer(i === 0)));
process.stdout.write('ready\n');
const report = () => {
  // a pipe takes a large write in pieces: exit once it is all out
  process.stdout.write(`${JSON.stringify(records)}\n`, () => process.exit(0));
};
process.on('SIGTERM', report);
process.stdin.on('end', report);
process.stdin.resume();
