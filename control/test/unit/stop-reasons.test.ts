// Why a session ended: the cause behind each recorded reason, and the words its owner reads
// (the stream page through the gateway, and the launcher).
import { describe, expect, it } from 'vitest';
import { endedMessage, STOP_REASONS, stopCause } from '../../src/domain/stop-reasons.ts';

describe('stopCause and endedMessage', () => {
  it.each([
    ['stopped', STOP_REASONS.user, 'user', 'You shut it down.'],
    ['stopped', STOP_REASONS.admin, 'admin', 'An admin shut it down.'],
    ['stopped', STOP_REASONS.lifetime, 'lifetime', 'It reached its maximum lifetime.'],
    ['stopped', STOP_REASONS.platform, 'platform', 'The platform shut down.'],
    ['stopped', 'idle: no input for 60s', 'idle', 'It was idle for too long: no input for 60s.'],
    // the operator's idle stop, as the Kubernetes driver records it
    [
      'stopped',
      'IdleTimeout: no input for 900s',
      'idle',
      'It was idle for too long: no input for 900s.',
    ],
    ['stopped', 'IdleTimeout', 'idle', 'It was idle for too long.'],
    ['stopped', 'idleness of the app', 'other', 'It stopped: idleness of the app.'],
    ['stopped', 'the app exited', 'other', 'It stopped: the app exited.'],
    ['stopped', null, 'other', 'It stopped.'],
    ['failed', 'image pull failed', 'failure', 'It failed: image pull failed.'],
    ['failed', null, 'failure', 'It failed: no reason was given.'],
  ] as const)('%s, %j → %s', (state, reason, cause, message) => {
    expect(stopCause(state, reason)).toBe(cause);
    expect(endedMessage(state, reason)).toBe(message);
  });
});
