import { type ChildProcess, spawn } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../pipeline/floe_microphone.py', import.meta.url));
/** RFC 4571 frames an RTP packet with a 16-bit length: nothing longer fits. */
const MAX_PACKET = 0xffff;

export interface MicrophoneOptions {
  python: string;
  /** The session's PulseAudio server; PulseAudio's default when empty. */
  pulseServer: string;
  /** The sink whose monitor apps record as their microphone (sound-server.ts). */
  sink: string;
  /** The RTP payload type the browser gave Opus. */
  payloadType: number;
  /** The pipeline died on its own (not through stop()). */
  onExit?: (reason: string) => void;
}

export interface Microphone {
  /** One Opus RTP packet of the viewer's microphone. */
  write(packet: Buffer): void;
  stop(): Promise<void>;
}

/**
 * Plays the viewer's microphone into the session (pipeline/floe_microphone.py): its RTP goes
 * to the child's stdin, length-framed, in the order werift received it; the child's jitter
 * buffer puts it back in order and conceals losses.
 */
export async function startMicrophone(options: MicrophoneOptions): Promise<Microphone> {
  const args = [SCRIPT, `--sink=${options.sink}`, `--pt=${options.payloadType}`];
  if (options.pulseServer) args.push(`--pulse-server=${options.pulseServer}`);
  // spawns: python3
  const child: ChildProcess = spawn(options.python, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  // a packet written after the process died (before Node saw the exit) fails with EPIPE
  child.stdin!.on('error', () => {});
  let stderrTail = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderrTail = (stderrTail + d.toString()).slice(-2000);
  });
  let stopping = false;
  let lastError = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      let event: { event?: string; message?: string };
      try {
        event = JSON.parse(line);
      } catch {
        return;
      }
      if (event.event === 'ready') resolve();
      else if (event.event === 'error') {
        lastError = event.message ?? 'unknown';
        reject(new Error(`microphone: ${lastError}`));
      }
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const why = lastError || stderrTail.trim().split('\n').slice(-3).join(' | ');
      const reason = `microphone pipeline exited (${signal ?? code}): ${why}`;
      reject(new Error(reason));
      if (!stopping) options.onExit?.(reason);
    });
  });
  try {
    await ready;
  } catch (error) {
    stopping = true;
    child.kill('SIGKILL');
    throw error;
  }

  return {
    write(packet) {
      if (packet.length > MAX_PACKET || child.exitCode !== null || !child.stdin!.writable) return;
      const length = Buffer.alloc(2);
      length.writeUInt16BE(packet.length);
      child.stdin!.write(Buffer.concat([length, packet]));
    },
    async stop() {
      stopping = true;
      child.stdin!.end(); // end of stream: the pipeline drains and exits
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    },
  };
}
