// Selkies 2.x (a WebRTC/WebSockets remote desktop streamer, with its capture and encode
// library pixelflux), from PyPI (python-venv.ts), pinned in testbed/selkies-requirements.txt.
// The latency benchmark runs it beside Floe's streamer on the same display and probe app.
import { fileURLToPath } from 'node:url';
import { ensurePythonVenv } from './python-venv.ts';

export const SELKIES_VERSION = '2.1.0';

const REQUIREMENTS = fileURLToPath(new URL('../selkies-requirements.txt', import.meta.url));

/** The virtualenv's python, which runs `python -m selkies`. */
export function ensureSelkies(log?: (line: string) => void): string {
  return ensurePythonVenv({
    name: 'selkies',
    version: SELKIES_VERSION,
    requirements: REQUIREMENTS,
    log,
  });
}
