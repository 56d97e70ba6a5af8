// Why a session ended, in the words its `reason` is recorded with and the words people are
// told: the gateway's stream page (sessions/{id}/state) and the launcher say the same. No
// imports, so that web's bundle and the gateway can take it as it is
// (`@floe/control/stop-reasons`).

/** The reasons Floe records when it or a person asks for a stop. */
export const STOP_REASONS = {
  user: 'stopped by its user',
  admin: 'stopped by an admin',
  lifetime: 'maximum lifetime reached',
  platform: 'the platform shut down',
} as const;

/**
 * An idle stop's reason: `idle: no input for 60s` (the control plane's, sessions/next-step.ts)
 * or `IdleTimeout: no input for 60s` (the operator's status, through the Kubernetes driver).
 */
const IDLE = /^(?:idle|IdleTimeout)(?::\s*|$)/;

export type StopCause = keyof typeof STOP_REASONS | 'idle' | 'failure' | 'other';

/** PURE: who or what ended a session, from its final state and recorded reason. */
export function stopCause(state: string, reason: string | null | undefined): StopCause {
  if (state === 'failed') return 'failure';
  for (const [cause, text] of Object.entries(STOP_REASONS)) {
    if (reason === text) return cause as StopCause;
  }
  if (reason && IDLE.test(reason)) return 'idle';
  return 'other';
}

/** PURE: what its owner is told of an ended session. */
export function endedMessage(state: string, reason: string | null | undefined): string {
  switch (stopCause(state, reason)) {
    case 'failure':
      return `It failed: ${reason ?? 'no reason was given'}.`;
    case 'user':
      return 'You shut it down.';
    case 'admin':
      return 'An admin shut it down.';
    case 'lifetime':
      return 'It reached its maximum lifetime.';
    case 'platform':
      return 'The platform shut down.';
    case 'idle': {
      const detail = reason?.replace(IDLE, '');
      return detail ? `It was idle for too long: ${detail}.` : 'It was idle for too long.';
    }
    case 'other':
      return reason ? `It stopped: ${reason}.` : 'It stopped.';
  }
}
