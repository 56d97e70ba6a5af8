// A shared viewer's stream ends when its grant does (issue 19): the gateway checks, every few
// seconds while the signalling WebSocket of a viewer other than the owner is open, that the
// grant that let it in is still live (not revoked, not expired, the session still running),
// and closes the socket when it is not; the streamer ends that viewer's peer with it. An
// unanswered check (the control plane away) keeps the viewer: the owner can still remove it.
import type { Duplex } from 'node:stream';

export const GRANT_RECHECK_MS = 2_000;

export function endWhenRevoked(
  socket: Duplex,
  stillAllowed: () => Promise<boolean>,
  everyMs = GRANT_RECHECK_MS,
): void {
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    stillAllowed().then(
      (allowed) => {
        checking = false;
        if (!allowed) socket.destroy();
      },
      () => {
        checking = false;
      },
    );
  }, everyMs);
  timer.unref();
  socket.once('close', () => clearInterval(timer));
}
