// The home as file transfer sees it (streamer/src/files/store.ts and transfer.ts) on a real
// file system: symlinks out of the home are refused whichever way they are laid, names are
// numbered rather than overwritten, limits refuse with a message, and an upload cut off
// resumes where its bytes end. The channel is a plain object here; the page's side runs in
// Chromium in files-e2e.test.ts.
import {
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HomeFiles, OutsideHomeError } from '../src/files/store.ts';
import {
  type FilesPolicy,
  frameChunk,
  parseChunk,
  ResumeBook,
  serveFiles,
} from '../src/files/transfer.ts';
import { FILE_LIMITS, type FileReply } from '../src/protocol.ts';

let dir: string;
let home: string;
let outside: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'floe-files-'));
  home = join(dir, 'home');
  outside = join(dir, 'outside');
  mkdirSync(home);
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.key'), 'not yours');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('HomeFiles', () => {
  it('makes the folder and numbers a taken name instead of overwriting it', async () => {
    const files = await HomeFiles.open(home);
    const folder = await files.folder('Uploads');
    expect(folder).toBe(join(home, 'Uploads'));
    writeFileSync(join(folder, 'a.txt'), 'first');
    const made = await files.create(folder, 'a.txt');
    await made.handle.close();
    expect(made.name).toBe('a (2).txt');
    expect(readFileSync(join(folder, 'a.txt'), 'utf8')).toBe('first');
  });

  it.skipIf(process.getuid?.() !== 0)(
    'as root, makes folders and files the home owner’s, the folder at once',
    async () => {
      chownSync(home, 12_345, 12_345);
      const files = await HomeFiles.open(home);
      expect(await files.folder('Downloads', false)).toBeNull();
      const folder = await files.folder('Uploads');
      expect(statSync(folder)).toMatchObject({ uid: 12_345, gid: 12_345 });
      expect(statSync(folder).mode & 0o777).toBe(0o755);
      const made = await files.create(folder, 'x.txt');
      await made.handle.close();
      expect(statSync(join(folder, 'x.txt')).uid).toBe(12_345);
      // no temporary folder is left behind
      expect(readdirSync(home)).toEqual(['Uploads']);
    },
  );

  it('refuses a folder that is a symlink out of the home', async () => {
    symlinkSync(outside, join(home, 'Downloads'));
    const files = await HomeFiles.open(home);
    await expect(files.folder('Downloads')).rejects.toBeInstanceOf(OutsideHomeError);
  });

  it('refuses a folder name that is a path', async () => {
    const files = await HomeFiles.open(home);
    await expect(files.folder('../outside')).rejects.toBeInstanceOf(OutsideHomeError);
  });

  it('does not read or write through a symlinked file', async () => {
    const files = await HomeFiles.open(home);
    const folder = await files.folder('Downloads');
    symlinkSync(join(outside, 'secret.key'), join(folder, 'link.txt'));
    await expect(files.read(folder, 'link.txt')).rejects.toBeInstanceOf(OutsideHomeError);
    await expect(files.reopen(folder, 'link.txt')).rejects.toBeInstanceOf(OutsideHomeError);
    // creating under a dangling link's name takes the next name, never the link's target
    symlinkSync(join(outside, 'new.txt'), join(folder, 'new.txt'));
    const made = await files.create(folder, 'new.txt');
    await made.handle.close();
    expect(made.name).toBe('new (2).txt');
    expect(await readdir(outside)).toEqual(['secret.key']);
  });

  it('lists regular files only, newest first', async () => {
    const files = await HomeFiles.open(home);
    const folder = await files.folder('Downloads');
    writeFileSync(join(folder, 'old.txt'), 'x');
    writeFileSync(join(folder, '.hidden'), 'x');
    mkdirSync(join(folder, 'sub'));
    symlinkSync(join(outside, 'secret.key'), join(folder, 'link'));
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(join(folder, 'new.txt'), 'xyz');
    const list = await files.list(folder, 10);
    expect(list.map((f) => [f.name, f.size])).toEqual([
      ['new.txt', 3],
      ['old.txt', 1],
    ]);
  });

  it('counts the home without following symlinks', async () => {
    writeFileSync(join(home, 'a'), Buffer.alloc(1000));
    mkdirSync(join(home, 'deep'));
    writeFileSync(join(home, 'deep', 'b'), Buffer.alloc(500));
    symlinkSync(outside, join(home, 'elsewhere'));
    const files = await HomeFiles.open(home);
    expect(await files.usage()).toBe(1500);
    expect(await files.free()).toBeGreaterThan(0);
  });
});

describe('chunk frames', () => {
  it('carry id and offset, and malformed ones are refused', () => {
    const frame = frameChunk(7, 2 ** 40, new Uint8Array([1, 2, 3]));
    const parsed = parseChunk(frame);
    expect(parsed?.id).toBe(7);
    expect(parsed?.offset).toBe(2 ** 40);
    expect([...(parsed?.data ?? [])]).toEqual([1, 2, 3]);
    expect(parseChunk(Buffer.alloc(5))).toBeNull();
    expect(
      parseChunk(Buffer.alloc(FILE_LIMITS.chunkHeader + FILE_LIMITS.chunkBytes + 1)),
    ).toBeNull();
    const negative = frameChunk(1, 0, new Uint8Array(1));
    negative.writeDoubleBE(-1, 4);
    expect(parseChunk(negative)).toBeNull();
  });
});

/** A channel that keeps what the streamer sends. */
function channel() {
  const replies: FileReply[] = [];
  const chunks: Buffer[] = [];
  return {
    replies,
    chunks,
    bufferedAmount: 0,
    readyState: 'open',
    send(data: string | Buffer) {
      if (typeof data === 'string') replies.push(JSON.parse(data));
      else chunks.push(Buffer.from(data));
    },
  };
}

const policy: FilesPolicy = {
  enabled: true,
  maxFileBytes: 1024 * 1024,
  maxHomeBytes: 4 * 1024 * 1024,
  uploadFolder: 'Uploads',
  downloadFolder: 'Downloads',
};
const log = pino({ level: 'silent' });

async function until<T>(find: () => T | undefined): Promise<T> {
  await expect.poll(find, { timeout: 5000 }).toBeDefined();
  return find()!;
}

describe('serveFiles', () => {
  it('resumes an upload cut off mid-way, and keeps it under the name it started with', async () => {
    const files = await HomeFiles.open(home);
    const resume = new ResumeBook();
    const content = Buffer.from(Array.from({ length: 40_000 }, (_, i) => i % 251));
    const request = { t: 'upload', id: 1, name: '../evil.bin', size: content.length, modified: 5 };

    const first = channel();
    const a = serveFiles(first, { policy, home: files, resume, log });
    a.receive(JSON.stringify(request));
    const ready = await until(() => first.replies.find((r) => r.t === 'upload-ready'));
    expect(ready).toEqual({ t: 'upload-ready', id: 1, name: '.._evil.bin', offset: 0 });
    a.receive(frameChunk(1, 0, content.subarray(0, 16_384)));
    await a.close(); // the connection drops

    const second = channel();
    const b = serveFiles(second, { policy, home: files, resume, log });
    b.receive(JSON.stringify({ ...request, id: 9 }));
    const resumed = await until(() => second.replies.find((r) => r.t === 'upload-ready'));
    expect(resumed).toEqual({ t: 'upload-ready', id: 9, name: '.._evil.bin', offset: 16_384 });
    for (let offset = 16_384; offset < content.length; offset += FILE_LIMITS.chunkBytes) {
      b.receive(frameChunk(9, offset, content.subarray(offset, offset + FILE_LIMITS.chunkBytes)));
    }
    b.receive(JSON.stringify({ t: 'upload-end', id: 9 }));
    const done = await until(() => second.replies.find((r) => r.t === 'upload-done'));
    expect(done).toEqual({ t: 'upload-done', id: 9, name: '.._evil.bin', size: content.length });
    expect(readFileSync(join(home, 'Uploads', '.._evil.bin')).equals(content)).toBe(true);
  });

  it.each([
    ['too_large', { size: 2 * 1024 * 1024 }],
    ['bad_name', { name: '..' }],
    ['bad_request', { size: -1 }],
  ])('refuses %s with a message', async (code, change) => {
    const files = await HomeFiles.open(home);
    const ch = channel();
    const s = serveFiles(ch, { policy, home: files, resume: new ResumeBook(), log });
    s.receive(JSON.stringify({ t: 'upload', id: 1, name: 'x', size: 10, modified: 0, ...change }));
    const error = await until(() => ch.replies.find((r) => r.t === 'file-error'));
    expect(error).toMatchObject({ t: 'file-error', code });
    expect(await readdir(home)).not.toContain('x');
  });

  it('refuses an upload the home cap cannot hold and leaves nothing behind', async () => {
    writeFileSync(join(home, 'big'), Buffer.alloc(3.5 * 1024 * 1024));
    const files = await HomeFiles.open(home);
    const ch = channel();
    const s = serveFiles(ch, { policy, home: files, resume: new ResumeBook(), log });
    s.receive(
      JSON.stringify({ t: 'upload', id: 1, name: 'x.bin', size: 1024 * 1024, modified: 0 }),
    );
    const error = await until(() => ch.replies.find((r) => r.t === 'file-error'));
    expect(error).toMatchObject({ code: 'quota' });
    expect(JSON.stringify(error)).toContain('the home holds 3.5 MiB of its 4.0 MiB');
    expect(await readdir(join(home, 'Uploads'))).toEqual([]);
  });

  it('answers every request `disabled` with files off, and writes nothing', async () => {
    const files = await HomeFiles.open(home);
    const ch = channel();
    const s = serveFiles(ch, {
      policy: { ...policy, enabled: false },
      home: files,
      resume: new ResumeBook(),
      log,
    });
    s.receive(JSON.stringify({ t: 'upload', id: 1, name: 'x', size: 1, modified: 0 }));
    s.receive(JSON.stringify({ t: 'list' }));
    s.receive(frameChunk(1, 0, new Uint8Array(1)));
    await expect.poll(() => ch.replies.length).toBe(3);
    expect(ch.replies.every((r) => r.t === 'file-error' && r.code === 'disabled')).toBe(true);
    expect(await readdir(home)).toEqual([]);
  });

  it('sends a file of the download folder in framed chunks, and refuses a path', async () => {
    const files = await HomeFiles.open(home);
    mkdirSync(join(home, 'Downloads'));
    const content = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 7) % 256));
    writeFileSync(join(home, 'Downloads', 'out.bin'), content);
    const ch = channel();
    const s = serveFiles(ch, { policy, home: files, resume: new ResumeBook(), log });
    s.receive(JSON.stringify({ t: 'download', id: 3, name: 'out.bin' }));
    await until(() => ch.replies.find((r) => r.t === 'download-end'));
    expect(ch.replies[0]).toEqual({ t: 'download-start', id: 3, name: 'out.bin', size: 50_000 });
    const got = Buffer.concat(ch.chunks.map((c) => parseChunk(c)!.data));
    expect(got.equals(content)).toBe(true);
    s.receive(JSON.stringify({ t: 'download', id: 4, name: '../outside/secret.key' }));
    const error = await until(() => ch.replies.find((r) => r.t === 'file-error'));
    expect(error).toMatchObject({ id: 4, code: 'bad_name' });
  });
});

describe('whatever arrives on the files channel', () => {
  it('is answered without a throw, and nothing lands outside the home', async () => {
    const files = await HomeFiles.open(home);
    const message = fc.oneof(
      fc.string(),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc
        .record({
          t: fc.constantFrom('upload', 'upload-end', 'upload-cancel', 'list', 'download', 'x'),
          id: fc.oneof(fc.integer(), fc.double(), fc.string()),
          name: fc.oneof(fc.string(), fc.constantFrom('..', '../x', '/etc/passwd', 'a\u0000b')),
          size: fc.oneof(fc.integer({ min: -5, max: 100 }), fc.double()),
          modified: fc.integer(),
        })
        .map((v) => JSON.stringify(v)),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(message, { maxLength: 12 }), async (messages) => {
        const ch = channel();
        const s = serveFiles(ch, { policy, home: files, resume: new ResumeBook(), log });
        for (const m of messages) s.receive(m);
        await new Promise((r) => setTimeout(r, 5));
        await s.close();
        for (const reply of ch.replies) {
          expect([
            'file-error',
            'upload-ready',
            'upload-done',
            'listing',
            'download-end',
          ]).toContain(reply.t);
        }
      }),
      { numRuns: Number(process.env.FLOE_FUZZ_RUNS ?? 200) },
    );
    expect(readdirSync(outside)).toEqual(['secret.key']);
    expect(readdirSync(dir).sort()).toEqual(['home', 'outside']);
  });
});
