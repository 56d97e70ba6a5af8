// `npm run loadtest -- --smoke` as npm test runs it: every scenario briefly against a real
// stack (the testbed's PostgreSQL server), thresholds enforced. And the other way round: a
// threshold no run can hold must fail the run with k6's status 99 and name the threshold.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
// the type of inject('testbed')
import type {} from '@floe/testbed/vitest-setup';
import { expect, inject, test } from 'vitest';

const CLI = join(import.meta.dirname, '..', 'src', 'cli.ts');

function loadtest(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // spawns: node (the runner, which spawns k6)
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const postgres = () => ['--postgres-url', inject('testbed').postgresUrl];

test('the smoke run passes every scenario with its thresholds', { timeout: 120_000 }, async () => {
  const run = await loadtest(['--smoke', ...postgres()]);
  expect(run.code, run.stderr).toBe(0);
  // a row per measurement, none with failures
  for (const what of [
    'POST sessions',
    'GET usage',
    'SSE: stop to end event',
    'WebSocket echo',
    'TURN credentials',
  ]) {
    expect(run.stdout).toMatch(new RegExp(`\\| ${what}[^\\n]*\\| 0 of [1-9]\\d* \\|`));
  }
});

test('a crossed threshold fails the run with status 99 and is named', {
  timeout: 60_000,
}, async () => {
  const run = await loadtest([
    '--smoke',
    '--only',
    'reads',
    '--threshold',
    'http_req_duration{name:list}=p(95)<0.001',
    ...postgres(),
  ]);
  expect(run.code).toBe(99);
  expect(run.stderr).toMatch(
    /threshold\(s\) crossed:\n {2}http_req_duration\{name:list\}: p\(95\)<0\.001 \(was [\d.]+\)/,
  );
  // the other thresholds held: only this one is named
  expect(run.stderr).not.toMatch(/http_req_duration\{name:usage\}: /);
});
