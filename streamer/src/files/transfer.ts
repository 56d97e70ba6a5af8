/**
 * File transfer for one viewer, on its "files" data channel (protocol.ts FILES_CHANNEL):
 * uploads into the home's upload folder, resumable; the download folder's listing; downloads.
 * Everything the session's policy decides is enforced here, whatever the page shows: with
 * files off, every request is answered `disabled` and no byte is written or read.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import { FILE_LIMITS, type FileErrorCode, type FileReply, type FileRequest } from '../protocol.ts';
import { fileRequest } from '../protocol-schema.ts';
import { type FileLimits, sizeVerdict, uploadVerdict } from './limits.ts';
import { isPlainName, sanitiseName } from './names.ts';
import { type HomeFiles, OutsideHomeError } from './store.ts';

/** What the streamer needs of a data channel (werift's RTCDataChannel has it). */
export interface FileChannel {
  send(data: string | Buffer): void;
  readonly bufferedAmount: number;
  readonly readyState: string;
}

export interface FilesPolicy extends FileLimits {
  enabled: boolean;
  uploadFolder: string;
  downloadFolder: string;
}

/** Uploads that stopped before their end, by what identifies the file: shared by viewers. */
export class ResumeBook {
  private readonly entries = new Map<string, string>();
  private readonly max: number;
  constructor(max = 256) {
    this.max = max;
  }

  static key(name: string, size: number, modified: number): string {
    return createHash('sha256')
      .update(JSON.stringify([name, size, modified]))
      .digest('hex');
  }
  get(key: string): string | undefined {
    return this.entries.get(key);
  }
  set(key: string, name: string) {
    this.entries.delete(key);
    this.entries.set(key, name);
    // the oldest goes first: a resume is for a file the user is still sending
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
  }
  delete(key: string) {
    this.entries.delete(key);
  }
}

export interface FilesContext {
  policy: FilesPolicy;
  /** null: the session has no home the streamer can reach */
  home: HomeFiles | null;
  resume: ResumeBook;
  log: Logger;
  /** told of every byte moved, for metrics */
  moved?: (direction: 'upload' | 'download', bytes: number) => void;
}

/** Above this many bytes queued on the channel a download waits for it to drain. */
const HIGH_WATER = 1024 * 1024;

class TransferError extends Error {
  readonly code: FileErrorCode;
  constructor(code: FileErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

interface Upload {
  handle: FileHandle;
  folder: string;
  name: string;
  key: string;
  size: number;
  written: number;
  /** writes run one after another, in the order the chunks came */
  chain: Promise<void>;
  failed: TransferError | null;
}

export interface FilesSession {
  /** A message arrived on the channel. */
  receive(data: string | Buffer): void;
  /** The channel has room again (bufferedamountlow). */
  drained(): void;
  /** The channel closed: open files are closed, uploads kept for a resume. */
  close(): Promise<void>;
}

/** Frames a chunk: id, offset, bytes (protocol.ts). */
export function frameChunk(id: number, offset: number, data: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FILE_LIMITS.chunkHeader + data.byteLength);
  frame.writeUInt32BE(id, 0);
  frame.writeDoubleBE(offset, 4);
  frame.set(data, FILE_LIMITS.chunkHeader);
  return frame;
}

export function parseChunk(frame: Buffer): { id: number; offset: number; data: Buffer } | null {
  if (frame.byteLength < FILE_LIMITS.chunkHeader) return null;
  if (frame.byteLength > FILE_LIMITS.chunkHeader + FILE_LIMITS.chunkBytes) return null;
  const offset = frame.readDoubleBE(4);
  if (!Number.isSafeInteger(offset) || offset < 0) return null;
  return { id: frame.readUInt32BE(0), offset, data: frame.subarray(FILE_LIMITS.chunkHeader) };
}

export function serveFiles(channel: FileChannel, ctx: FilesContext): FilesSession {
  const { policy, log } = ctx;
  const uploads = new Map<number, Upload>();
  const downloads = new Map<number, { cancelled: boolean }>();
  let waiters: (() => void)[] = [];
  let closed = false;

  const reply = (message: FileReply) => {
    if (!closed && channel.readyState === 'open') channel.send(JSON.stringify(message));
  };
  const fail = (id: number | null, error: unknown) => {
    // ours (no errno code: a refusal, "not a folder", too many numbered names) say why; a
    // system error names only its code, never a path of the host
    const known =
      error instanceof TransferError ||
      error instanceof OutsideHomeError ||
      (error instanceof Error && (error as NodeJS.ErrnoException).code === undefined);
    const code: FileErrorCode =
      error instanceof TransferError
        ? error.code
        : error instanceof OutsideHomeError
          ? 'bad_name'
          : (error as NodeJS.ErrnoException).code === 'ENOSPC' ||
              (error as NodeJS.ErrnoException).code === 'EDQUOT'
            ? 'no_space'
            : 'io';
    const message = known
      ? (error as Error).message
      : `the file could not be written or read (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
    if (!known) log.warn({ err: (error as Error).message, id }, 'file transfer failed');
    reply({ t: 'file-error', id, code, message });
  };
  const room = () => new Promise<void>((resolve) => waiters.push(resolve));

  const home = (): HomeFiles => {
    if (!policy.enabled) {
      throw new TransferError('disabled', 'file transfer is turned off for this session');
    }
    if (!ctx.home) throw new TransferError('disabled', 'this session has no home to send files to');
    return ctx.home;
  };

  async function startUpload(request: Extract<FileRequest, { t: 'upload' }>) {
    const files = home();
    if (uploads.has(request.id))
      throw new TransferError('bad_request', `upload ${request.id} is already open`);
    if (uploads.size + downloads.size >= FILE_LIMITS.maxOpen) {
      throw new TransferError('busy', `at most ${FILE_LIMITS.maxOpen} transfers at once`);
    }
    const named = sanitiseName(request.name);
    if (!named.ok) throw new TransferError(named.code, named.message);
    const size = sizeVerdict(request.size, policy);
    if (!size.ok) throw new TransferError(size.code, size.message);
    const folder = await files.folder(policy.uploadFolder);
    const key = ResumeBook.key(named.name, request.size, request.modified);
    let handle: FileHandle | null = null;
    let name = ctx.resume.get(key);
    let offset = 0;
    let made = false;
    if (name) {
      handle = await files.reopen(folder, name);
      offset = handle ? (await handle.stat()).size : 0;
      if (handle && offset > request.size) {
        await handle.truncate(0);
        offset = 0;
      }
    }
    if (!handle) {
      const created = await files.create(folder, named.name);
      handle = created.handle;
      name = created.name;
      made = true;
    }
    const verdict = uploadVerdict(
      { size: request.size, offset, homeBytes: await files.usage(), freeBytes: await files.free() },
      policy,
    );
    if (!verdict.ok) {
      await handle.close();
      if (made) await files.remove(folder, name!);
      throw new TransferError(verdict.code, verdict.message);
    }
    ctx.resume.set(key, name!);
    uploads.set(request.id, {
      handle,
      folder,
      name: name!,
      key,
      size: request.size,
      written: offset,
      chain: Promise.resolve(),
      failed: null,
    });
    log.info(
      { name, size: request.size, offset },
      offset > 0 ? 'upload resumed' : 'upload started',
    );
    reply({ t: 'upload-ready', id: request.id, name: name!, offset });
  }

  function chunk(frame: Buffer) {
    const parsed = parseChunk(frame);
    if (!parsed)
      return reply({
        t: 'file-error',
        id: null,
        code: 'bad_request',
        message: 'a file chunk is malformed',
      });
    const upload = uploads.get(parsed.id);
    if (!upload || upload.failed) return; // cancelled or failed: the rest of its chunks are dropped
    const end = parsed.offset + parsed.data.byteLength;
    if (parsed.offset !== upload.written || end > upload.size) {
      upload.failed = new TransferError(
        'bad_request',
        `a chunk at ${parsed.offset} does not follow the ${upload.written} bytes received of ${upload.size}`,
      );
      return fail(parsed.id, upload.failed);
    }
    upload.written = end;
    // the bytes are copied: werift may reuse its buffer
    const data = Buffer.from(parsed.data);
    upload.chain = upload.chain.then(async () => {
      if (upload.failed) return;
      try {
        await upload.handle.write(data, 0, data.byteLength, parsed.offset);
        ctx.moved?.('upload', data.byteLength);
      } catch (error) {
        upload.failed = new TransferError('io', (error as Error).message);
        fail(parsed.id, error);
      }
    });
  }

  async function endUpload(id: number) {
    const upload = uploads.get(id);
    if (!upload) throw new TransferError('not_found', `no upload ${id} is open`);
    await upload.chain;
    uploads.delete(id);
    try {
      if (upload.failed) throw upload.failed;
      if (upload.written !== upload.size) {
        throw new TransferError('bad_request', `${upload.written} of ${upload.size} bytes arrived`);
      }
      await upload.handle.sync();
    } finally {
      await upload.handle.close().catch(() => {});
    }
    ctx.resume.delete(upload.key);
    log.info({ name: upload.name, size: upload.size }, 'upload done');
    reply({ t: 'upload-done', id, name: upload.name, size: upload.size });
  }

  async function cancelUpload(id: number) {
    const upload = uploads.get(id);
    if (!upload) return;
    uploads.delete(id);
    upload.failed = new TransferError('bad_request', 'cancelled');
    await upload.chain;
    await upload.handle.close().catch(() => {});
    await ctx.home?.remove(upload.folder, upload.name);
    ctx.resume.delete(upload.key);
  }

  async function listing() {
    const files = home();
    // a missing folder is an empty listing: the app (a browser) makes it when it saves
    const folder = await files.folder(policy.downloadFolder, false);
    reply({
      t: 'listing',
      folder: policy.downloadFolder,
      files: folder ? await files.list(folder, FILE_LIMITS.maxListed) : [],
    });
  }

  async function download(request: Extract<FileRequest, { t: 'download' }>) {
    const files = home();
    if (downloads.has(request.id))
      throw new TransferError('bad_request', `download ${request.id} is already open`);
    if (uploads.size + downloads.size >= FILE_LIMITS.maxOpen) {
      throw new TransferError('busy', `at most ${FILE_LIMITS.maxOpen} transfers at once`);
    }
    if (!isPlainName(request.name))
      throw new TransferError(
        'bad_name',
        `“${request.name.slice(0, 64)}” is not a file of ${policy.downloadFolder}`,
      );
    const folder = await files.folder(policy.downloadFolder, false);
    const file = folder && (await files.read(folder, request.name));
    if (!file)
      throw new TransferError(
        'not_found',
        `${policy.downloadFolder} has no file “${request.name}”`,
      );
    const state = { cancelled: false };
    downloads.set(request.id, state);
    try {
      const size = sizeVerdict(file.size, policy);
      if (!size.ok) throw new TransferError(size.code, size.message);
      reply({ t: 'download-start', id: request.id, name: request.name, size: file.size });
      const buffer = Buffer.allocUnsafe(FILE_LIMITS.chunkBytes);
      let offset = 0;
      while (offset < file.size && !state.cancelled && !closed) {
        const { bytesRead } = await file.handle.read(buffer, 0, buffer.byteLength, offset);
        if (bytesRead === 0) break; // the file shrank meanwhile: what there was is sent
        channel.send(frameChunk(request.id, offset, buffer.subarray(0, bytesRead)));
        ctx.moved?.('download', bytesRead);
        offset += bytesRead;
        if (channel.bufferedAmount > HIGH_WATER) await room();
      }
      if (!state.cancelled) reply({ t: 'download-end', id: request.id });
      log.info({ name: request.name, size: offset, cancelled: state.cancelled }, 'download done');
    } finally {
      downloads.delete(request.id);
      await file.handle.close().catch(() => {});
    }
  }

  async function handle(request: FileRequest) {
    home(); // files off: every request is refused, whatever it is
    switch (request.t) {
      case 'upload':
        return startUpload(request);
      case 'upload-end':
        return endUpload(request.id);
      case 'upload-cancel':
        return cancelUpload(request.id);
      case 'list':
        return listing();
      case 'download':
        return download(request);
      case 'download-cancel': {
        const d = downloads.get(request.id);
        if (d) d.cancelled = true;
        return;
      }
    }
  }

  return {
    receive(data) {
      if (closed) return;
      if (typeof data !== 'string') {
        if (!policy.enabled)
          return fail(
            null,
            new TransferError('disabled', 'file transfer is turned off for this session'),
          );
        return chunk(data);
      }
      let parsed: ReturnType<typeof fileRequest.safeParse>;
      try {
        parsed = fileRequest.safeParse(JSON.parse(data));
      } catch {
        return reply({
          t: 'file-error',
          id: null,
          code: 'bad_request',
          message: 'requests are JSON text',
        });
      }
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return reply({
          t: 'file-error',
          id: null,
          code: 'bad_request',
          message: `${issue?.path.join('.') || 'request'}: ${issue?.message ?? 'invalid'}`,
        });
      }
      const request = parsed.data;
      const id = 'id' in request ? request.id : null;
      handle(request).catch((error: unknown) => fail(id, error));
    },
    drained() {
      const ready = waiters;
      waiters = [];
      for (const resolve of ready) resolve();
    },
    async close() {
      closed = true;
      for (const d of downloads.values()) d.cancelled = true;
      this.drained();
      for (const upload of uploads.values()) {
        await upload.chain;
        await upload.handle.close().catch(() => {});
      }
      uploads.clear();
    },
  };
}
