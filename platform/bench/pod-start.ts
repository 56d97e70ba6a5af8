// Start to first frame: the operator's session pod run with runc (the X server and PulseAudio
// sidecars, then the streamer sidecar, then xterm, from the images of `npm run images`) beside
// `npm start`'s local session (the session runner: Xorg, xterm and the streamer as
// processes), in the same run. Each round starts one, opens its stream page in Chromium and
// waits for the first decoded frame; then stops it.
//
//   node platform/bench/pod-start.ts [rounds]     (default 5; root: runc and overlays)
//
// Both get the same TURN setup: the testbed's coturn and a credential minted for the session
// (the local runner's way; in a cluster the gateway hands the page one, which it passes on).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, type PodObject, runPod, startCoturn } from '@floe/testbed';
import { mintTurnCredentials } from '@floe/turn';
import { buildImages } from '../../deploy/images/build.ts';
import type { Session } from '../../operator/src/crd.ts';
import {
  defaultDesiredSettings,
  desiredPod,
  desiredXauthSecret,
  xauthSecretName,
} from '../../operator/src/desired.ts';
import { floeImage } from '../../operator/src/images.ts';
import { sessionObject, sessionSpec } from '../../operator/test/fixtures.ts';

if (process.argv.includes('--help')) {
  process.stdout.write(`Usage: node platform/bench/pod-start.ts [rounds]

Start to first frame: a session pod run with runc beside npm start's local session.
  rounds   rounds of each (5); needs root (runc, overlays)
`);
  process.exit(0);
}
const rounds = Number(process.argv[2] ?? 5);
if (!Number.isInteger(rounds) || rounds < 1) {
  process.stderr.write(`rounds: a whole number of at least 1, not ${process.argv[2]}\n`);
  process.exit(2);
}
const RUNNER = fileURLToPath(new URL('../../streamer/src/session-runner.ts', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'floe-bench-pod-'));

const built = await buildImages({ only: ['streamer', 'xserver', 'xterm'], log: () => {} });
const images = Object.fromEntries(built.map((i) => [i.ref, { layout: i.layout, tag: i.tag }]));
const turn = await startCoturn();
const browser = await launchChromium();

/** Opens `url` in a fresh page and resolves when a frame has been decoded. */
async function firstFrame(url: string): Promise<void> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const page = await context.newPage();
  for (let i = 0; ; i++) {
    try {
      await page.goto(url);
      break;
    } catch (err) {
      if (i > 200) throw err;
      await new Promise((r) => setTimeout(r, 50)); // not listening yet
    }
  }
  await page.waitForFunction(() => (document.querySelector('video')?.videoWidth ?? 0) > 0, null, {
    timeout: 60_000,
    polling: 20,
  });
  await context.close();
}

async function streamerUp(url: string) {
  for (;;) {
    const ok = await fetch(`${url}healthz`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function podRound(i: number): Promise<number> {
  const s: Session = sessionObject(
    `bench-${i}`,
    sessionSpec({ slug: 'xterm', tenantId: 'bench', userId: 'u' }),
  );
  s.metadata.uid = `uid-${i}`;
  s.spec.app = { slug: 'xterm', image: floeImage('xterm'), resources: { cpu: '1', memory: '1Gi' } };
  s.spec.persistence = null;
  const pod = desiredPod(s, defaultDesiredSettings) as unknown as PodObject;
  const creds = mintTurnCredentials({ secret: turn.secret, sessionId: s.metadata.name });
  // a sidecar: started after the X server and PulseAudio, before the app (its gamepads' hub)
  const streamer = pod.spec.initContainers!.find((c) => c.name === 'streamer')!;
  streamer.env!.push(
    { name: 'FLOE_TURN_URLS', value: turn.url },
    { name: 'FLOE_TURN_USERNAME', value: creds.username },
    { name: 'FLOE_TURN_CREDENTIAL', value: creds.credential },
  );
  const secret = desiredXauthSecret(s, randomBytes(16));
  const started = performance.now();
  const running = await runPod(pod, {
    images,
    workDir: work,
    claimDir: (c) => join(work, c),
    rootfsCache: join(homedir(), '.cache', 'floe', 'rootfs'),
    secret: async (name) => {
      if (name !== xauthSecretName(s)) throw new Error(`no Secret ${name}`);
      return { Xauthority: Buffer.from(secret.data.Xauthority, 'base64') };
    },
  });
  try {
    await streamerUp('http://127.0.0.1:8080/');
    await firstFrame('http://127.0.0.1:8080/');
    return performance.now() - started;
  } finally {
    await running.stop(1000);
  }
}

async function localRound(i: number): Promise<number> {
  const id = `bench-local-${i}`;
  const creds = mintTurnCredentials({ secret: turn.secret, sessionId: id });
  const started = performance.now();
  // spawns: node
  const child: ChildProcess = spawn(
    process.execPath,
    [RUNNER, '--window-manager', 'none', '--', 'xterm'],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
      env: {
        ...process.env,
        FLOE_SESSION_ID: id,
        FLOE_TURN_URLS: turn.url,
        FLOE_TURN_USERNAME: creds.username,
        FLOE_TURN_CREDENTIAL: creds.credential,
        LOG_LEVEL: 'silent',
      },
    },
  );
  try {
    const endpoint = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        const m = /"endpoint":\s*"([^"]+)"/.exec(out);
        if (m) resolve(m[1] as string);
      });
      child.once('exit', (code) => reject(new Error(`session runner exited ${code}`)));
    });
    await firstFrame(endpoint);
    return performance.now() - started;
  } finally {
    if (child.pid) process.kill(-child.pid, 'SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const times = { pod: [] as number[], local: [] as number[] };
// a first pod round fills the root filesystem cache; it is not counted
await podRound(0);
for (let i = 1; i <= rounds; i++) {
  times.pod.push(await podRound(i));
  times.local.push(await localRound(i));
  process.stderr.write(
    `round ${i}: pod ${times.pod.at(-1)!.toFixed(0)} ms, local ${times.local.at(-1)!.toFixed(0)} ms\n`,
  );
}
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s.at(-1)! };
};
const pod = stats(times.pod);
const local = stats(times.local);
const row = (name: string, x: ReturnType<typeof stats>) =>
  `| ${name} | ${(x.min / 1000).toFixed(2)} s | ${(x.median / 1000).toFixed(2)} s | ${(x.max / 1000).toFixed(2)} s |`;
console.log(`| start → first frame (${rounds} rounds) | min | median | max |`);
console.log('| --- | --- | --- | --- |');
console.log(row('session pod, runc (X, sound, streamer sidecars, then app)', pod));
console.log(row('local session (npm start: the session runner)', local));
console.log(`median ratio pod / local: ${(pod.median / local.median).toFixed(2)}`);

await browser.close();
await turn.stop();
rmSync(work, { recursive: true, force: true });
