// The operator's idle stop honours "I'm still here": a real streamer (its bare source, with an
// 8 s idle timeout and a 6 s lead) and the built stream page in Chromium; the operator's own
// probe (idle.ts) asks the streamer's /healthz and its own decision (status.ts, with the
// reconciler's fresh look, decideWithFreshInput) says whether the session stops. Stand-in:
// the pod, whose address is the streamer's on loopback (no cluster network here).
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Pod } from '@floe/kube/resources';
import { launchChromium } from '@floe/testbed';
import type {} from '@floe/testbed/vitest-setup';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadStreamerConfig } from '../../streamer/src/config.ts';
import { bareDesktop } from '../../streamer/src/desktop.ts';
import { type Streamer, startStreamer } from '../../streamer/src/streamer.ts';
import { buildWeb } from '../../web/build.ts';
import type { Session } from '../src/crd.ts';
import { createIdleProbe, decideWithFreshInput } from '../src/idle.ts';
import { decide } from '../src/status.ts';
import { sessionObject, sessionSpec } from './fixtures.ts';

let work: string;
let streamer: Streamer;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  work = mkdtempSync(join(inject('testbed').tempRoot, 'operator-idle-'));
  const { dir } = await buildWeb({ outDir: join(work, 'web') });
  streamer = await startStreamer(
    loadStreamerConfig({
      DISPLAY: ':0',
      FLOE_STREAMER_PORT: '0',
      FLOE_STREAMER_FPS: '10',
      FLOE_STREAMER_AUDIO: 'off',
      FLOE_STREAMER_WEB_DIR: dir,
      FLOE_IDLE_TIMEOUT_SECONDS: '8',
      FLOE_SHUTDOWN_WARNING_SECONDS: '6',
    }),
    bareDesktop(640, 360),
    pino({ level: 'silent' }),
  );
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 800, height: 500 } });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await streamer?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the operator’s idle stop', () => {
  it('is put off by “I’m still here” pressed during the countdown, though its probe cached an older answer', async () => {
    const pod: Pod = {
      metadata: { name: 'floe-s1', namespace: 'floe-t-t1' },
      spec: { containers: [{ name: 'streamer' }] },
      status: { phase: 'Running', podIP: '127.0.0.1' },
    };
    // asked at most once a minute: the cache outlives the whole test
    const probe = createIdleProbe({ intervalMs: 60_000, port: streamer.port });
    const key = 'floe-t-t1/s1';

    await page.goto(streamer.url);
    await page.waitForFunction(() => document.body.dataset.state === 'streaming', null, {
      timeout: 30_000,
    });
    const cached = await probe(key, pod);
    expect(cached).toBeNull(); // nobody did anything yet

    const warning = page.getByRole('alertdialog', { name: 'Are you still there?' });
    await warning.waitFor({ timeout: 15_000 });
    await warning.getByRole('button', { name: 'I’m still here' }).click();
    await warning.waitFor({ state: 'hidden' });

    // a Running session whose 8 s idle timeout has passed by the cached answer
    const runningAt = new Date(Date.now() - 9_000);
    const session: Session = sessionObject('s1', {
      ...sessionSpec(),
      timeouts: { idleSeconds: 8 },
    });
    session.status = { phase: 'Running', runningAt: runningAt.toISOString() };
    const input = {
      session,
      pod: undefined,
      now: new Date(),
      endpoint: streamer.url,
      lastInputAt: await probe(key, pod),
      previous: session.status,
    };
    expect(input.lastInputAt).toBeNull(); // still the cached answer
    // on the cached answer alone it would stop
    expect(decide({ ...input, pod: readyPod() }).status.reason).toBe('IdleTimeout');
    // the reconciler's way: a fresh look first, which sees the press, and it runs on
    const { decision } = await decideWithFreshInput({ ...input, pod: readyPod() }, () =>
      probe(key, pod, { fresh: true }),
    );
    expect(decision.status.phase).toBe('Running');
    expect(decision.status.reason).not.toBe('IdleTimeout');
  }, 90_000);
});

function readyPod(): Pod {
  return {
    metadata: {
      name: 'floe-s1',
      namespace: 'floe-t-t1',
      creationTimestamp: new Date(0).toISOString(),
    },
    spec: { nodeName: 'node-a', containers: [{ name: 'app' }, { name: 'streamer' }] },
    status: {
      phase: 'Running',
      podIP: '127.0.0.1',
      conditions: [
        { type: 'PodScheduled', status: 'True' },
        { type: 'Ready', status: 'True' },
      ],
      containerStatuses: [
        { name: 'app', ready: true, state: { running: {} } },
        { name: 'streamer', ready: true, state: { running: {} } },
      ],
    },
  };
}
