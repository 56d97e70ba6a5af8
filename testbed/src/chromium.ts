// Debian's Chromium, driven by playwright-core, with the flags this machine needs.
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

// Headless, no sandbox (tests run as root), and none of the background traffic that this
// machine's closed network would refuse.
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-dev-shm-usage',
];

export function chromiumPath(): string {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error('Chromium is not installed; install it with: apt-get install -y chromium');
  }
  return CHROMIUM_PATH;
}

/**
 * A headless Chromium; Playwright gives every launch a fresh, temporary profile.
 * `executablePath`: a wrapper that runs it elsewhere (netns.ts: in a network namespace).
 */
export function launchChromium(
  extraArgs: string[] = [],
  executablePath?: string,
): Promise<Browser> {
  return chromium.launch({
    // spawns: chromium ip (the namespace wrapper runs `ip netns exec`)
    executablePath: executablePath ?? chromiumPath(),
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
}
