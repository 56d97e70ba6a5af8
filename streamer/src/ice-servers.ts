import { isIP } from 'node:net';
import { parseTurnUrl } from '@floe/turn';
import type { IceServer } from './protocol.ts';

/** One server entry as werift reads it: werift takes one URL per entry. */
export interface WeriftIceServer {
  urls: string;
  username?: string;
  credential?: string;
}

/**
 * The servers werift gathers with: the TURN servers offered, one URL an entry, and a STUN
 * server. Given none, werift asks stun.l.google.com: a third party then learns every
 * streamer's address, and where DNS answers but UDP may not leave the cluster, every open
 * waits out werift's 5 s STUN timeout before it starts connecting. A TURN server answers STUN
 * Binding requests on its UDP port, so the first one offered over UDP is asked instead.
 */
export function weriftIceServers(servers: IceServer[]): WeriftIceServer[] {
  const entries = servers.flatMap((s) =>
    (Array.isArray(s.urls) ? s.urls : [s.urls]).map((urls) => ({
      urls,
      username: s.username,
      credential: s.credential,
    })),
  );
  if (entries.some((e) => /^stuns?:/.test(e.urls))) return entries;
  const stun = entries.map((e) => stunOfTurn(e.urls)).find((url) => url !== null);
  return stun ? [{ urls: stun }, ...entries] : entries;
}

/** turn:host:port over UDP → stun:host:port; null for TCP, TLS and what is no TURN URL. */
export function stunOfTurn(url: string): string | null {
  let turn: ReturnType<typeof parseTurnUrl>;
  try {
    turn = parseTurnUrl(url);
  } catch {
    return null;
  }
  if (turn.transport !== 'udp') return null;
  return `stun:${isIP(turn.host) === 6 ? `[${turn.host}]` : turn.host}:${turn.port}`;
}
