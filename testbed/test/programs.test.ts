// Every program Floe or its tests start is in scripts/deps.tsv with the package that brings it,
// so that ensure-deps.sh installs it on a new machine; and `ensure-deps.sh --check` finds what
// is missing and says how to install it.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { parseDependencies, scanShell, scanSource } from '../src/programs.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// the scanner and this test hold the patterns as examples
const SELF = ['testbed/src/programs.ts', 'testbed/test/programs.test.ts'];

const programs = (refs: { program: string }[]) => refs.map((r) => r.program);

describe('the program scanner', () => {
  it.each([
    ["spawn('pulseaudio', ['-n'])", ['pulseaudio']],
    ["execFileSync(\n  'xdotool',\n  args)", ['xdotool']],
    ["execSync('xrandr --output x')", ['xrandr']],
    ["spawnSync('/usr/sbin/nginx', ['-v'])", ['nginx', 'nginx']],
    ['spawn(process.execPath, [script])', ['node']],
    ['// spawns: Xorg Xvfb (whichever works)\nchild = spawn(file, args)', ['Xorg', 'Xvfb']],
    ["// spawns: - (the app's command)\nspawn(command, args)", []],
    ["const apps = [{ command: ['xclock', '-update', '1'] }]", ['xclock']],
    ["const python = '/usr/bin/python3'", ['python3']],
    ['/re/.exec(text); step.exec(x)', []],
  ])('%j starts %j', (source, expected) => {
    const scan = scanSource('x.ts', source);
    expect(programs(scan.references)).toEqual(expected);
    expect(scan.unnamed).toEqual([]);
  });

  it('reports a spawn whose program it cannot read', () => {
    const scan = scanSource('x.ts', 'const a = 1;\nspawn(tool, args);\n');
    expect(scan.unnamed).toEqual([{ file: 'x.ts', line: 2, text: 'spawn(tool, args);' }]);
  });

  it('reads Python subprocess calls', () => {
    const scan = scanSource('x.py', "subprocess.run(['gst-inspect-1.0', 'x264'])\n");
    expect(programs(scan.references)).toEqual(['gst-inspect-1.0']);
  });

  it('reads the commands of shell scripts, not their quoted text or comments', () => {
    const text = [
      '#!/bin/sh',
      'set -eu # sets',
      'pkgs="python3-gi xterm"',
      'dpkg-query -W "$p" | grep -q ok || missing=1',
      'if [ -n "$(find src -newer x | head -1)" ]; then',
      "  echo 'curl is not run' >&2",
      '  DEBIAN_FRONTEND=noninteractive apt-get install -y $pkgs',
      'fi',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell, not a template
      'k8s=${1:-$(current k8s.io/kubernetes go.mod)}',
    ].join('\n');
    expect(programs(scanShell('x.sh', text).references)).toEqual([
      'dpkg-query',
      'grep',
      'find',
      'head',
      'apt-get',
      'current',
    ]);
  });

  it('refuses a malformed row of the list', () => {
    expect(() => parseDependencies('xrandr\tx11-xserver-utils\n')).toThrow(/line 1/);
    expect(() => parseDependencies('xrandr\tx11-xserver-utils\tsometimes\n')).toThrow();
  });
});

describe('scripts/deps.tsv', () => {
  const rows = parseDependencies(readFileSync(join(ROOT, 'scripts/deps.tsv'), 'utf8'));
  const listed = new Set(
    rows
      .filter((r) => r.program !== '-')
      .map((r) => r.program.slice(r.program.lastIndexOf('/') + 1)),
  );
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((f) => (/\.(ts|mts|js|mjs|py|sh)$/.test(f) || f === '.ci/run') && !SELF.includes(f))
    .filter((f) => !f.startsWith('web/dist/'));
  const scans = files.map((f) => scanSource(f, readFileSync(join(ROOT, f), 'utf8')));

  it('names every program the sources start, with its package', () => {
    const missing = scans
      .flatMap((s) => s.references)
      .filter((r) => !listed.has(r.program))
      .map((r) => `${r.program} (${r.file}:${r.line})`);
    expect(missing, 'add these to scripts/deps.tsv with their Debian package').toEqual([]);
    expect(files.length).toBeGreaterThan(100); // the scan read the tree
  });

  it('has every spawn name its program, as a literal or in a `spawns:` comment', () => {
    const unnamed = scans.flatMap((s) => s.unnamed).map((u) => `${u.file}:${u.line} ${u.text}`);
    expect(unnamed).toEqual([]);
  });

  it('ensure-deps.sh --check finds every program of the list on this machine', () => {
    const r = spawnSync('sh', ['scripts/ensure-deps.sh', '--testbed', '--check'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('ensure-deps.sh --check names what is missing and the apt-get line that installs it', () => {
    const list = join(inject('testbed').tempRoot, 'deps.tsv');
    writeFileSync(
      list,
      'sh\tdash\tstart\nfloe-no-such-tool\tfloe-fake-tools\tstart\n/nonexistent/*/x\tfloe-fake-x\ttest\n',
    );
    const check = (...args: string[]) =>
      spawnSync('sh', ['scripts/ensure-deps.sh', '--check', ...args], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, FLOE_DEPS_LIST: list },
      });
    const start = check();
    expect(start.status).toBe(1);
    expect(start.stderr).toContain('missing floe-no-such-tool (floe-fake-tools)');
    expect(start.stderr).toContain(
      'apt-get update && apt-get install -y --no-install-recommends floe-fake-tools',
    );
    expect(start.stderr).not.toContain('floe-fake-x'); // a test program, not for npm start
    const test = check('--testbed');
    expect(test.stderr).toContain('install -y --no-install-recommends floe-fake-tools floe-fake-x');
  });
});
