/**
 * The box a local session's app runs in (bubblewrap, Debian `bubblewrap`): what a pod gives an
 * app on Kubernetes, on one machine. The app
 *
 * - runs as an unprivileged user: when Floe runs as root, bwrap sets up the namespaces and
 *   mounts as root and `setpriv` drops to `uid` with no capabilities, no bounding set and
 *   no_new_privs before the app starts; otherwise an unprivileged user namespace maps Floe's
 *   own user, and nested user namespaces are refused;
 * - has its own mount namespace: the system folders read-only, a fresh /tmp and /dev, a /proc
 *   of its own PID namespace, its home (`home`, read-write at /home/floe), the sockets it is
 *   given (its X display, its sound server) and the read-only paths it is given, with `hidden`
 *   ones (Floe's data folder) covered by an empty tmpfs: nothing else of the host, so neither
 *   the data folder (secret.key, pgdata) nor other sessions' homes and X sockets;
 * - has its own PID namespace: it sees and signals only its own processes;
 * - has its own network namespace with loopback only: it reaches neither the host's loopback
 *   services (the control plane, other sessions' streamers, the database) nor other
 *   sessions' X servers through their abstract sockets (those are per network namespace).
 *   Local apps are offline; on Kubernetes the pod's network and its NetworkPolicies apply;
 * - has its own IPC and UTS namespaces, and inherits no descriptor but 0, 1 and 2.
 */
import { accessSync, constants, existsSync, lstatSync, readlinkSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

/** The app's home inside the box, as on Kubernetes. */
export const SANDBOX_HOME = '/home/floe';
/** The PATH an app gets unless its settings name another. */
export const SANDBOX_PATH = '/usr/local/bin:/usr/bin:/bin';
/** When Floe runs as root: the user sessions run as, unless configured otherwise. */
export const DEFAULT_SESSION_UID = 64_000;

export interface SandboxSpec {
  /** host folder mounted read-write at /home/floe */
  home: string;
  /** extra host paths mounted read-only at the same place (e.g. Floe's own folder) */
  readOnly?: string[];
  /** host paths covered by an empty tmpfs (those inside `readOnly` ones) */
  hidden?: string[];
  /** unix sockets (X display, PulseAudio) mounted read-only at the same path */
  sockets?: { host: string; inside: string }[];
  /** device nodes the app may use (a GPU session's /dev/dri, /dev/nvidia*), where present */
  devices?: string[];
  /** the user the app runs as when Floe runs as root */
  uid: number;
  /** end the box when its starter dies (the session runner); not for processes adopted later */
  dieWithParent?: boolean;
}

const SYSTEM_DIRS = ['/usr', '/etc', '/opt'];
const MERGED = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

// spawns: sh bwrap setpriv python3
/**
 * The argv that runs `argv` in the box. Descriptors above 2 are closed by a one-line
 * python3 step inside the box, since neither bwrap nor setpriv closes what they inherit.
 * A SIGTERM to the process group reaches the app, which ends the box when it exits.
 */
export function sandboxArgv(argv: string[], spec: SandboxSpec): string[] {
  const root = process.getuid?.() === 0;
  const args: string[] = [
    // bwrap dies of a SIGTERM, and its death would end the app at once; so it ignores it, and
    // the app (which gets the same SIGTERM, being in the same process group) has its grace
    // period. The app gets SIGTERM's default back below.
    'sh',
    '-c',
    'trap "" TERM; exec "$@"',
    'sh',
    'bwrap',
    ...(root ? [] : ['--unshare-user', '--disable-userns']),
    ...['--unshare-pid', '--unshare-net', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try'],
    ...(spec.dieWithParent ? ['--die-with-parent'] : []),
    ...['--hostname', 'floe'],
  ];
  for (const dir of SYSTEM_DIRS) if (existsSync(dir)) args.push('--ro-bind', dir, dir);
  for (const dir of MERGED) {
    const stat = lstatSync(dir, { throwIfNoEntry: false });
    if (stat?.isSymbolicLink()) args.push('--symlink', readlinkSync(dir), dir);
    else if (stat?.isDirectory()) args.push('--ro-bind', dir, dir);
  }
  args.push('--proc', '/proc', '--dev', '/dev', '--perms', '1777', '--tmpfs', '/tmp');
  for (const dev of spec.devices ?? []) args.push('--dev-bind-try', dev, dev);
  args.push('--perms', '1777', '--dir', '/tmp/.X11-unix', '--perms', '0755', '--dir', '/run');
  const made = new Set(['/', '/tmp', '/tmp/.X11-unix', '/run']);
  const mounted = [...(spec.readOnly ?? []), ...(spec.sockets ?? []).map((s) => s.inside)];
  for (const path of mounted) {
    // the folders above it, made by bwrap, open to the app's user
    for (let dir = dirname(path); !made.has(dir); dir = dirname(dir)) made.add(dir);
  }
  for (const dir of [...made].sort()) {
    const system = SYSTEM_DIRS.some((sys) => dir === sys || dir.startsWith(`${sys}/`));
    const ours = ['/', '/tmp', '/tmp/.X11-unix', '/run'].includes(dir);
    if (!ours && !system) args.push('--perms', '0755', '--dir', dir);
  }
  for (const path of spec.readOnly ?? []) args.push('--ro-bind', path, path);
  for (const path of spec.hidden ?? []) {
    const inside = (spec.readOnly ?? []).some((ro) => path === ro || path.startsWith(`${ro}/`));
    if (inside && existsSync(path)) {
      args.push('--tmpfs', path);
    }
  }
  args.push('--perms', '0755', '--dir', '/home', '--bind', spec.home, SANDBOX_HOME);
  for (const s of spec.sockets ?? []) args.push('--ro-bind', s.host, s.inside);
  args.push('--chdir', SANDBOX_HOME, '--');
  if (root) {
    args.push(
      'setpriv',
      `--reuid=${spec.uid}`,
      `--regid=${spec.uid}`,
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--no-new-privs',
      '--',
    );
  }
  args.push('python3', '-c', CLOSE_AND_EXEC, ...argv);
  return args;
}

const CLOSE_AND_EXEC =
  'import os,signal,sys;signal.signal(signal.SIGTERM,signal.SIG_DFL);os.closerange(3,65536);os.execvp(sys.argv[1],sys.argv[1:])';

/**
 * Where `command` is found the way the box finds it (PATH inside the box), or null: a missing
 * command is reported before the box starts, with the error spawn would give.
 */
export function findCommand(command: string, path: string = SANDBOX_PATH): string | null {
  const candidates = command.includes('/')
    ? [command]
    : path
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, command));
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      if (!lstatSync(file).isDirectory()) return file;
    } catch {
      // not there, or not executable
    }
  }
  return null;
}
