import type { SignalErrorCode } from '@floe/streamer/protocol';
import { CLOSE_CODES } from './contract.ts';

export const MIN_RETRY_MS = 500;
export const MAX_RETRY_MS = 8000;

/**
 * Delay before reconnect attempt `attempt` (1-based): doubling from 0.5 s up to 8 s, with
 * ±20 % jitter so that many viewers cut off together (a streamer restart) do not all come
 * back in the same instant.
 */
export function retryDelay(attempt: number, random: number): number {
  const base = Math.min(MAX_RETRY_MS, MIN_RETRY_MS * 2 ** Math.max(0, attempt - 1));
  const jittered = base * (0.8 + 0.4 * random);
  return Math.round(Math.min(MAX_RETRY_MS, Math.max(MIN_RETRY_MS, jittered)));
}

export type CloseOutcome = { retry: true } | { retry: false; message: string; action: string };

/** The last `error` signal the streamer sent before closing, if any. */
export interface ServerError {
  code: SignalErrorCode;
  message: string;
}

/**
 * What to do when the signalling socket closes. Reconnecting after being refused or taken over
 * would take control back from the other viewer, and after a protocol or codec mismatch would
 * only fail again, so those wait for the user.
 */
export function closeOutcome(code: number, error: ServerError | null): CloseOutcome {
  if (code === CLOSE_CODES.busy || error?.code === 'busy') {
    return { retry: false, message: 'Another viewer is in control', action: 'Try again' };
  }
  if (code === CLOSE_CODES.takenOver || error?.code === 'taken_over') {
    return {
      retry: false,
      message: 'You were taken over by another viewer',
      action: 'Take back control',
    };
  }
  if (code === CLOSE_CODES.removed || error?.code === 'removed') {
    // not on its own: reconnecting would only rejoin what its owner just removed it from
    return {
      retry: false,
      message: 'The owner removed you from this session',
      action: 'Join again',
    };
  }
  if (code === CLOSE_CODES.badMessage || error?.code === 'bad_message') {
    return {
      retry: false,
      message: error?.message ?? 'The stream refused this page’s messages. Try reloading.',
      action: 'Reconnect',
    };
  }
  if (error?.code === 'no_common_codec') {
    return { retry: false, message: error.message, action: 'Reconnect' };
  }
  return { retry: true };
}
