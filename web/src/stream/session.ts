import type { InputMessage } from '@floe/streamer/protocol';
import {
  type Connection,
  type ConnectionHandlers,
  type ConnectionOptions,
  openConnection,
} from './connection.ts';
import { closeOutcome, retryDelay } from './reconnect.ts';

/**
 * The life of the stream page across connections: connect, stream, and after a loss wait and
 * try again, unless the loss is one that trying again would not fix (or should not).
 */

export type StreamState = 'connecting' | 'streaming' | 'reconnecting' | 'ended';

export interface StateInfo {
  state: StreamState;
  /** What to tell the user. */
  message: string;
  /** Reconnect attempts since the stream was last up. */
  attempt: number;
  /** The label of a button that starts over, when waiting for the user. */
  action: string | null;
  /** The session itself ended: the page offers the way back to the launcher, not a retry. */
  over: boolean;
}

export type SessionHandlers = Omit<ConnectionHandlers, 'lost' | 'connected'> & {
  state(info: StateInfo): void;
};

export interface Session {
  readonly state: StreamState;
  readonly connection: Connection | null;
  send(message: InputMessage): boolean;
  /** Start over now (the user pressed the button). */
  restart(): void;
  stop(): void;
}

/**
 * Asks whoever serves the page whether the session ended: what to tell the user when it has,
 * null when it has not (or nobody could say).
 */
export type EndedCheck = () => Promise<string | null>;

export function startSession(
  options: ConnectionOptions,
  on: SessionHandlers,
  ended: EndedCheck = async () => null,
): Session {
  let state: StreamState = 'connecting';
  let connection: Connection | null = null;
  let attempt = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let ticker: ReturnType<typeof setInterval> | undefined;

  const set = (next: StreamState, message: string, action: string | null = null, over = false) => {
    state = next;
    on.state({ state, message, attempt, action, over });
  };

  const stopTimers = () => {
    clearTimeout(retryTimer);
    clearInterval(ticker);
  };

  const connect = () => {
    stopTimers();
    if (state !== 'reconnecting') set('connecting', 'Connecting…');
    else set('reconnecting', `Connection lost — reconnecting… (attempt ${attempt})`);
    connection = openConnection(options, {
      ...on,
      connected() {
        attempt = 0;
        set('streaming', 'Streaming');
      },
      lost(info) {
        connection = null;
        const outcome = closeOutcome(info.closeCode, info.error);
        if (!outcome.retry) {
          set('ended', outcome.message, outcome.action);
          return;
        }
        attempt++;
        const retryAt = Date.now() + retryDelay(attempt, Math.random());
        const countdown = () => {
          const seconds = Math.max(1, Math.ceil((retryAt - Date.now()) / 1000));
          const why = info.error ? `${info.error.message}. ` : '';
          set(
            'reconnecting',
            `${why}Connection lost — reconnecting in ${seconds} s… (attempt ${attempt})`,
            'Reconnect now',
          );
        };
        countdown();
        ticker = setInterval(countdown, 1000);
        retryTimer = setTimeout(connect, retryAt - Date.now());
        // a session that ended never comes back: no more attempts once that is known
        ended()
          .catch(() => null)
          .then((message) => {
            if (message === null || state === 'streaming' || state === 'ended') return;
            stopTimers();
            connection?.close();
            connection = null;
            set('ended', message, null, true);
          });
      },
    });
  };

  connect();

  return {
    get state() {
      return state;
    },
    get connection() {
      return connection;
    },
    send(message) {
      return connection?.send(message) ?? false;
    },
    restart() {
      connection?.close();
      connection = null;
      attempt = 0;
      state = 'connecting';
      connect();
    },
    stop() {
      stopTimers();
      connection?.close();
      connection = null;
      set('ended', 'Disconnected', 'Reconnect');
    },
  };
}
