/**
 * What each viewer of a shared session may do (issue 19), decided here in the streamer and
 * not only at the gateway: a gateway bug must not turn a view-only viewer into a controller.
 *
 * A viewer's role comes from the viewer token the gateway signed (viewer-token.ts): `owner`
 * (the session's user), `control` (shared with the right to send input) or `viewer` (shared
 * to watch). Whether a viewer holds control now starts from its role and changes only by the
 * owner's hand (a `control` message): the owner may hand control to a view-only viewer and
 * take it back from anyone but itself.
 *
 * Fail closed: a message type this table does not name (one a newer page sends — files,
 * gamepads) needs control.
 */
import type { InputMessage } from './protocol.ts';
import type { ViewerRole } from './viewer-token.ts';

export interface ViewerRights {
  role: ViewerRole;
  /** holds control now: may send input, paste and (later) move files */
  control: boolean;
}

/** Whether a viewer of `role` holds control when it joins. */
export const controlsOnJoin = (role: ViewerRole): boolean => role !== 'viewer';

/**
 * Messages anyone watching may send: they change nothing in the session. "I'm still here"
 * is one: every viewer sees the idle warning, and someone watching is not idle.
 */
const ANYONE = new Set<string>(['ping', 'still-here']);
/** Messages only the owner may send: who watches, who controls. */
const OWNER = new Set<string>(['control', 'remove']);

/**
 * Whether `viewer` may send a data-channel message of type `t`. Everything else needs control:
 * keys, pointer, clipboard, resize, and `gamepad` (a pad drives the app as a keyboard does).
 */
export function mayDo(viewer: ViewerRights, t: InputMessage['t'] | string): boolean {
  if (ANYONE.has(t)) return true;
  if (OWNER.has(t)) return viewer.role === 'owner';
  return viewer.control;
}

/** Whether `viewer` is sent the session's clipboard (it could read what it cannot paste). */
export const receivesClipboard = (viewer: ViewerRights): boolean => viewer.control;

/**
 * Whether the owner may set `target`'s control to `on`: any other viewer's, never its own
 * (an owner always keeps control: it could not take it back otherwise).
 */
export function mayHandOver(actor: ViewerRights, target: ViewerRights, on: boolean): boolean {
  if (actor.role !== 'owner') return false;
  if (target.role === 'owner') return on;
  return true;
}
