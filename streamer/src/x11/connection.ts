/**
 * One X client connection with bounded waits. Each module here opens its own, so one module's
 * selections, errors or grabs never tangle with another's, and a dead server rejects pending
 * requests instead of leaving their promises hanging.
 */
import { type Callback, createClient, type Display, type XClient, type XError } from 'x11';

export interface XConnection {
  X: XClient;
  display: Display;
  root: number;
  /** A request with a reply as a promise; rejects on an X error or when the connection ends. */
  request<T>(send: (cb: Callback<T>) => void): Promise<T>;
  /** Round trip: resolves once the server has processed every request sent so far. */
  sync(): Promise<void>;
  /** Called once when the connection ends for any reason (server gone or close()). */
  onClose(listener: () => void): void;
  readonly closed: boolean;
  close(): Promise<void>;
}

export async function openConnection(display: string, timeoutMs = 5_000): Promise<XConnection> {
  const { X, info } = await new Promise<{ X: XClient; info: Display }>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      client.stream?.destroy();
      reject(new Error(`X display ${display}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    // shm: false keeps a plain socket; nothing here uses MIT-SHM descriptor passing
    const client = createClient({ display, shm: false }, (err, info) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(new Error(`cannot connect to X display ${display}: ${err.message}`));
      else resolve({ X: client, info });
    });
    // errors after setup reach this listener; without one an EventEmitter 'error' throws
    client.on('error', () => {});
  });

  let closed = false;
  const pending = new Set<(err: Error) => void>();
  const closeListeners: Array<() => void> = [];
  const ended = () => {
    if (closed) return;
    closed = true;
    const err = new Error(`X display ${display}: connection closed`);
    for (const reject of pending) reject(err);
    pending.clear();
    for (const listener of closeListeners) listener();
  };
  X.stream.on('close', ended);
  X.on('end', ended);

  const request = <T>(send: (cb: Callback<T>) => void) =>
    new Promise<T>((resolve, reject) => {
      if (closed) {
        reject(new Error(`X display ${display}: connection closed`));
        return;
      }
      pending.add(reject);
      const done: Callback<T> = (err, result) => {
        pending.delete(reject);
        if (err) reject(describe(err));
        else resolve(result);
      };
      try {
        send(done);
      } catch (e) {
        pending.delete(reject);
        reject(e);
      }
    });

  return {
    X,
    display: info,
    root: info.screen[0]!.root,
    request,
    sync: () =>
      request<void>((cb) => X.GetGeometry(info.screen[0]!.root, (err) => cb(err, undefined))),
    onClose: (listener) => {
      if (closed) listener();
      else closeListeners.push(listener);
    },
    get closed() {
      return closed;
    },
    close: async () => {
      if (closed) return;
      const gone = new Promise<void>((resolve) => {
        X.stream.once('close', () => resolve());
        // a server that stopped reading never acknowledges the end; do not wait for it
        setTimeout(() => {
          X.stream.destroy();
          resolve();
        }, 1_000).unref();
      });
      try {
        X.terminate();
      } catch {
        X.stream.destroy();
      }
      await gone;
      ended();
    },
  };
}

/** X errors carry only a code; name the request so a log line says what failed. */
function describe(err: XError | Error): Error {
  if (!('error' in err)) return err;
  return new Error(
    `X error ${err.error} (${err.message || 'unknown'}) for request ${err.majorOpcode}.${err.minorOpcode}`,
  );
}
