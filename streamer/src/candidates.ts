import type { IceCandidate } from './protocol.ts';

/**
 * Which of the browser's trickled ICE candidates the streamer hands to werift.
 *
 * Chromium hides its host addresses behind mDNS names (`<uuid>.local`). werift resolves such a
 * name by multicast and, when nobody answers, gives up only after a fixed 10 s. Nobody ever
 * answers a streamer: it runs in a pod or a sandbox that the browser's link-local multicast
 * does not reach. Skipping these candidates loses no path: the browser's connectivity checks
 * to the streamer's own candidates reach it from that very address, which ICE then learns as
 * a peer-reflexive candidate (RFC 8445 §7.3.1.3).
 *
 * werift learns peer-reflexive candidates only while it still expects remote candidates: once
 * told "end of candidates" with nothing left to check, it declares ICE failed. So after an
 * mDNS name was skipped, the browser's end of candidates is not passed on either (trickle ICE
 * allows never sending it); the browser's own checks and timeout still end a dead connection.
 */
export type CandidateAction = 'apply' | 'skip-mdns' | 'skip-end';

export function remoteCandidateAction(
  candidate: IceCandidate | null,
  mdnsSkipped: boolean,
): CandidateAction {
  if (candidate === null || candidate.candidate === '') return mdnsSkipped ? 'skip-end' : 'apply';
  return isMdnsCandidate(candidate.candidate) ? 'skip-mdns' : 'apply';
}

export function isMdnsCandidate(candidate: string): boolean {
  // [a=]candidate:<foundation> <component> <transport> <priority> <address> <port> typ …
  const address = candidate.trim().split(/\s+/)[4];
  return address?.toLowerCase().endsWith('.local') ?? false;
}
