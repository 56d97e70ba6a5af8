// TURN URIs (RFC 7065): turn:host[:port][?transport=udp|tcp] and turns:host[:port] (TLS).
import { isIP } from 'node:net';

export type TurnTransport = 'udp' | 'tcp' | 'tls';

export interface TurnUrl {
  /** hostname or IP literal, without IPv6 brackets */
  host: string;
  port: number;
  transport: TurnTransport;
}

export const DEFAULT_TURN_PORT = 3478;
export const DEFAULT_TURNS_PORT = 5349;

export function parseTurnUrl(url: string): TurnUrl {
  const bad = (why: string) => new Error(`bad TURN URL ${JSON.stringify(url)}: ${why}`);
  const scheme = /^(turns?):/.exec(url)?.[1];
  if (!scheme) throw bad('must start with turn: or turns:');
  const secure = scheme === 'turns';
  const [hostPort = '', query] = url.slice(scheme.length + 1).split('?', 2);
  let transport: TurnTransport = secure ? 'tls' : 'udp';
  if (query !== undefined) {
    const match = /^transport=(udp|tcp)$/.exec(query);
    if (!match) throw bad('the only parameter is transport=udp or transport=tcp');
    if (secure && match[1] === 'udp') throw bad('turns: over UDP (DTLS) is not supported');
    if (!secure) transport = match[1] as TurnTransport;
  }
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostPort);
  const plain = /^([^:[\]/@]+)(?::(\d+))?$/.exec(hostPort);
  const match = bracketed ?? plain;
  if (!match?.[1]) throw bad('expected host[:port], with IPv6 addresses in brackets');
  const host = match[1];
  if (bracketed && isIP(host) !== 6) throw bad(`${host} is not an IPv6 address`);
  const defaultPort = secure ? DEFAULT_TURNS_PORT : DEFAULT_TURN_PORT;
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw bad('port must be 1-65535');
  return { host, port, transport };
}

export function formatTurnUrl({ host, port, transport }: TurnUrl): string {
  const hostPort = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  return transport === 'tls'
    ? `turns:${hostPort}?transport=tcp`
    : `turn:${hostPort}?transport=${transport}`;
}
