// "Active" is defined once (src/domain/session-states.ts); SQL that cannot import it — the
// migrations' admission function and partial indexes — must say the same.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ACTIVE_STATES,
  isActive,
  isTerminal,
  SESSION_STATES,
  TERMINAL_STATES,
  TERMINAL_STATES_SQL,
} from '../../src/domain/session-states.ts';

const drizzle = fileURLToPath(new URL('../../drizzle/', import.meta.url));
const migrations = readdirSync(drizzle)
  .filter((f) => /^\d{4}_.*\.sql$/.test(f))
  .sort()
  .map((f) => ({ file: f, sql: readFileSync(join(drizzle, f), 'utf8') }));

/** The states of an SQL list of literals: `('stopped', 'failed')` → ['stopped', 'failed']. */
const literals = (list: string) => [...list.matchAll(/'([^']*)'/g)].map((m) => m[1]);

/** Each `state NOT IN (…)` / `state IN (…)` of a piece of SQL, with the states it lists. */
function stateLists(sql: string) {
  return [...sql.matchAll(/\bstate"?\s+(not\s+)?in\s*(\([^)]*\))/gi)].map((m) => ({
    negated: Boolean(m[1]),
    states: literals(m[2]!),
  }));
}

describe('session states', () => {
  it.each(SESSION_STATES.map((s) => [s, !['stopped', 'failed'].includes(s)] as const))(
    '%s is active: %s',
    (state, active) => {
      expect(isActive(state)).toBe(active);
      expect(isTerminal(state)).toBe(!active);
    },
  );

  it('splits every state into active or terminal, in lifecycle order', () => {
    expect([...ACTIVE_STATES, ...TERMINAL_STATES]).toEqual([...SESSION_STATES]);
    expect(isActive('nonsense')).toBe(false);
    expect(isTerminal('nonsense')).toBe(false);
    expect(TERMINAL_STATES_SQL).toBe("('stopped', 'failed')");
  });

  it('is what the latest admission function (floe_admit_session) counts as active', () => {
    const latest = migrations
      .filter((m) => /CREATE (OR REPLACE )?FUNCTION floe_admit_session\(/.test(m.sql))
      .at(-1);
    expect(latest, 'a migration defines floe_admit_session').toBeDefined();
    const body = latest!.sql.slice(
      latest!.sql.search(/CREATE (OR REPLACE )?FUNCTION floe_admit_session\(/),
    );
    const fn = body.slice(0, body.indexOf('$$;', body.indexOf('$$') + 2));
    const lists = stateLists(fn);
    expect(lists.length, `${latest!.file}: a state list in floe_admit_session`).toBeGreaterThan(0);
    for (const list of lists) {
      const active = list.negated
        ? SESSION_STATES.filter((s) => !list.states.includes(s))
        : list.states;
      expect(active, `${latest!.file}: floe_admit_session's active states`).toEqual([
        ...ACTIVE_STATES,
      ]);
    }
  });

  it('is the predicate of the latest partial indexes on active sessions', () => {
    for (const name of ['sessions_tenant_active', 'sessions_cluster_active']) {
      const latest = migrations.filter((m) => m.sql.includes(`CREATE INDEX "${name}"`)).at(-1);
      expect(latest, `a migration creates ${name}`).toBeDefined();
      const statement = latest!.sql
        .slice(latest!.sql.indexOf(`CREATE INDEX "${name}"`))
        .split(';')[0]!;
      expect(statement).toContain(`"sessions"."state" not in ${TERMINAL_STATES_SQL}`);
    }
  });
});
