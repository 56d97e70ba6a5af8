// A session's states, and which of them are "active", defined once. Everything that asks
// "does this session still hold quota, a pod, a place in a list of live sessions" uses these:
// the schema's partial indexes and `sessionIsActive()`, the raw SQL of quotas and usage, the
// routes, the gateway, and the browser apps (web/). No imports, so that web's esbuild bundle
// and the gateway can take it as it is (`@floe/control/session-states`).
//
// The admission function (`floe_admit_session` in control/drizzle/) restates the terminal
// list in its SQL text, which cannot import: test/unit/session-states.test.ts holds the latest
// migration that defines it to TERMINAL_STATES.

export const SESSION_STATES = [
  'requested',
  'placed',
  'starting',
  'running',
  // its cluster cannot be reached: still active (it holds quota), its true state unknown
  'unknown',
  'stopping',
  'stopped',
  'failed',
] as const;
export type SessionState = (typeof SESSION_STATES)[number];

/** The states a session never leaves: it holds nothing any more. */
export const TERMINAL_STATES = ['stopped', 'failed'] as const satisfies readonly SessionState[];
export type TerminalState = (typeof TERMINAL_STATES)[number];
export type ActiveState = Exclude<SessionState, TerminalState>;

export const isTerminal = (state: string): state is TerminalState =>
  (TERMINAL_STATES as readonly string[]).includes(state);

/** Every other state, in lifecycle order: the session counts against quotas and capacity. */
export const ACTIVE_STATES: readonly ActiveState[] = SESSION_STATES.filter(
  (s): s is ActiveState => !isTerminal(s),
);

export const isActive = (state: string): state is ActiveState =>
  (ACTIVE_STATES as readonly string[]).includes(state);

/**
 * `('stopped', 'failed')`: the terminal states as an SQL list of literals, for
 * `state not in …`. Literals, not bound parameters, so that PostgreSQL can prove a partial
 * index on the same predicate applies; the text equals what the migrations' indexes say.
 */
export const TERMINAL_STATES_SQL = `(${TERMINAL_STATES.map((s) => `'${s}'`).join(', ')})`;
