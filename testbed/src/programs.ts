/**
 * The external programs Floe and its tests start, found by reading the sources, and the list
 * that says which Debian package brings each (`scripts/deps.tsv`, read by
 * `scripts/ensure-deps.sh`). A test compares the two, so a program started nowhere in the list
 * fails CI on this machine instead of on a new one (it happened: xrandr and xmodmap).
 *
 * What counts as starting a program:
 *   - TypeScript/JavaScript: spawn, spawnSync, execFile, execFileSync, execSync, exec and
 *     Playwright's executablePath; the program is the first argument's literal (its first word
 *     for execSync, its base name for a path). `process.execPath` is node. A program that is
 *     not a literal there (a variable, a join) must be named on the call's line or in the
 *     three lines above it in a comment `spawns: name …` (or `spawns: -` where the caller
 *     chooses: an app's command, a generic helper; words in parentheses are a note);
 *   - app commands written as `command: ['name', …]` (the demo apps), and string literals that
 *     are paths of system programs (`/usr/bin/…`, `/usr/sbin/…`, `/usr/lib/xorg/…`);
 *   - Python: subprocess.run/Popen/call/check_call/check_output with a literal first word;
 *   - shell scripts: the first word of each command.
 * Pure: text in, references out; the test does the reading.
 */

export interface ProgramReference {
  program: string;
  file: string;
  line: number;
}

export interface UnnamedSpawn {
  file: string;
  line: number;
  text: string;
}

export interface ScanResult {
  references: ProgramReference[];
  /** call sites whose program is neither a literal nor named in a `spawns:` comment */
  unnamed: UnnamedSpawn[];
}

const JS_CALL =
  /(?<![.\w$])(spawn|spawnSync|execFile|execFileSync|execSync|exec)\s*\(\s*|\bexecutablePath\s*:\s*/g;
const APP_COMMAND = /\bcommand\s*:[ \t]*\[[ \t]*(['"`])([^'"`\s]+)\1/g;
const SYSTEM_PATH = /(['"`])(\/usr\/(?:local\/)?(?:s?bin|libexec|lib\/xorg)\/[\w.+-]+)\1/g;
const SPAWNS_COMMENT = /(?:\/\/|#|\*)\s*spawns:\s*([^\n*]*)/;

const baseName = (path: string) => path.slice(path.lastIndexOf('/') + 1);
const lineOf = (text: string, index: number) => text.slice(0, index).split('\n').length;

function namedInComment(lines: string[], line: number): string[] | null {
  for (let l = line; l >= Math.max(1, line - 3); l--) {
    const m = SPAWNS_COMMENT.exec(lines[l - 1] ?? '');
    // words in parentheses are a note, `-` says the caller chooses
    if (m)
      return m[1]!
        .replace(/\(.*?\)/g, ' ')
        .split(/[\s,]+/)
        .filter((w) => w && w !== '-');
  }
  return null;
}

export function scanScript(file: string, text: string): ScanResult {
  const references: ProgramReference[] = [];
  const unnamed: UnnamedSpawn[] = [];
  const lines = text.split('\n');
  for (const m of text.matchAll(JS_CALL)) {
    const line = lineOf(text, m.index);
    const rest = text.slice(m.index + m[0].length);
    const literal = /^(['"`])([^'"`]*)\1/.exec(rest);
    const word = literal?.[2]?.trim().split(/\s+/)[0];
    if (word?.startsWith('/nonexistent/')) continue; // a test of a missing program
    if (word && !word.includes('${')) {
      references.push({ program: baseName(word), file, line });
    } else if (rest.startsWith('process.execPath')) {
      references.push({ program: 'node', file, line });
    } else {
      const named = namedInComment(lines, line);
      if (named) for (const program of named) references.push({ program, file, line });
      else unnamed.push({ file, line, text: lines[line - 1]!.trim() });
    }
  }
  for (const re of [APP_COMMAND, SYSTEM_PATH]) {
    for (const m of text.matchAll(re)) {
      if (m[2]!.startsWith('/nonexistent/')) continue;
      references.push({ program: baseName(m[2]!), file, line: lineOf(text, m.index) });
    }
  }
  return { references, unnamed };
}

const PY_CALL =
  /\bsubprocess\.(?:run|Popen|call|check_call|check_output)\(\s*\[?\s*(['"])([^'"\s]+)/g;

export function scanPython(file: string, text: string): ScanResult {
  const references = [...text.matchAll(PY_CALL)].map((m) => ({
    program: baseName(m[2]!),
    file,
    line: lineOf(text, m.index),
  }));
  return { references, unnamed: [] };
}

const SHELL_WORDS = new Set(
  (
    'if then else elif fi for while until do done case esac in function select time ! { } ' +
    '[ [[ ]] test echo printf set cd exit export local return read true false : . source ' +
    'shift trap wait eval exec unset command type break continue umask ulimit'
  ).split(' '),
);

/** Blanks comments and quoted text, keeping what `$( … )` runs inside double quotes. */
function shellCode(text: string): string {
  let out = '';
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      out += c === '\n' ? '\n' : ' ';
    } else if (quote === '"') {
      if (c === '\\') {
        out += '  ';
        i++;
      } else if (c === '"') {
        quote = null;
        out += ' ';
      } else if (c === '$' && text[i + 1] === '(') {
        // a command substitution runs code: keep it up to its closing parenthesis
        let depth = 0;
        let j = i + 1;
        for (; j < text.length; j++) {
          if (text[j] === '(') depth++;
          else if (text[j] === ')' && --depth === 0) break;
        }
        out += `$(${shellCode(text.slice(i + 2, j))})`;
        i = j;
      } else out += c === '\n' ? '\n' : ' ';
    } else if (c === "'" || c === '"') {
      quote = c;
      out += ' ';
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else out += c;
  }
  return out;
}

/** Blanks the bodies of here-documents: data, not commands. */
function withoutHereDocuments(text: string): string {
  const lines = text.split('\n');
  let end: string | null = null;
  return lines
    .map((line) => {
      if (end !== null) {
        if (line.trim() === end) end = null;
        return '';
      }
      end = /<<-?\s*['"]?(\w+)['"]?/.exec(line)?.[1] ?? null;
      return line;
    })
    .join('\n');
}

export function scanShell(file: string, text: string): ScanResult {
  const code = shellCode(withoutHereDocuments(text));
  const functions = new Set([...code.matchAll(/^\s*([\w-]+)\s*\(\)/gm)].map((m) => m[1]!));
  const references: ProgramReference[] = [];
  // a command starts a line or follows ; && || | ( $( `
  const starts =
    /(?:^|[;&|(`]|\$\()[ \t]*((?:[A-Za-z_][A-Za-z0-9_]*=[^\s(]*[ \t]+)*)([^\s;&|()`<>]+)/gm;
  for (const m of code.matchAll(starts)) {
    const word = m[2]!;
    const casePattern = code[m.index + m[0].length] === ')';
    if (SHELL_WORDS.has(word) || functions.has(word) || casePattern) continue;
    if (/^[$\-\d*@]|[=\]}]/.test(word)) continue;
    references.push({ program: baseName(word), file, line: lineOf(code, m.index) });
  }
  return { references, unnamed: [] };
}

/** Scans one source file by its kind (`.ts`/`.js`/`.mjs`, `.py`, shell). */
export function scanSource(file: string, text: string): ScanResult {
  if (/\.(ts|mts|js|mjs)$/.test(file)) return scanScript(file, text);
  if (file.endsWith('.py')) return scanPython(file, text);
  return scanShell(file, text);
}

export interface DependencyRow {
  /** a program name, an absolute path (a glob), or `-` for a package that is not a program */
  program: string;
  /** a Debian package, or `@npm`, `@go-built`, `@cargo-built`, `@machine` for what Debian does not bring */
  source: string;
  /** `start`: npm start and its sessions; `test`: npm test, the testbed and the benchmarks */
  neededFor: 'start' | 'test';
  note: string;
}

/** Parses `scripts/deps.tsv` (tab-separated, `#` comments), refusing malformed rows. */
export function parseDependencies(text: string): DependencyRow[] {
  const rows: DependencyRow[] = [];
  text.split('\n').forEach((raw, i) => {
    if (!raw.trim() || raw.startsWith('#')) return;
    const [program, source, neededFor, note = ''] = raw.split('\t');
    if (!program || !source || (neededFor !== 'start' && neededFor !== 'test')) {
      throw new Error(`deps.tsv line ${i + 1}: want program<TAB>package<TAB>start|test: ${raw}`);
    }
    rows.push({ program, source, neededFor, note });
  });
  return rows;
}
