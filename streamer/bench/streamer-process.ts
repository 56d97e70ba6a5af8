// Floe's streamer in a process of its own, as in a session (src/main.ts), for the latency
// benchmark: its event loop then holds only the stream, not the benchmark's Playwright client
// too, as Selkies' does. The page does not resize the display (the benchmark sets its size).
// Forked with the streamer's environment and, for a bare case, WIDTHxHEIGHT; answers
// { url } on the IPC channel and stops when the channel closes.
import { pino } from 'pino';
import { loadStreamerConfig } from '../src/config.ts';
import { bareDesktop } from '../src/desktop.ts';
import { startStreamer } from '../src/streamer.ts';
import { openX11Desktop } from '../src/x11-desktop.ts';

const log = pino({ level: 'warn' });
const bare = /^(\d+)x(\d+)$/.exec(process.argv[2] ?? '');
const config = loadStreamerConfig(process.env);
const desktop = bare
  ? bareDesktop(Number(bare[1]), Number(bare[2]))
  : await openX11Desktop(config.DISPLAY, log, { resizable: false });
const streamer = await startStreamer(config, desktop, log);
process.send?.({ url: streamer.url });
const stop = async () => {
  await streamer.close();
  await desktop.close();
  process.exit(0);
};
process.once('disconnect', stop);
process.once('SIGTERM', stop);
