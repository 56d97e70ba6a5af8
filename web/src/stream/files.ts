/**
 * The file panel: uploads (the button or files dropped on the stream) into the session's
 * upload folder with a progress bar each, resumed where they stopped when the connection
 * comes back; the download folder's files, each downloadable. Speaks the "files" channel of
 * streamer/src/protocol.ts; the streamer enforces every limit and switch, this only shows
 * what it says.
 */
import type { FileEntry, FileReply, FileRequest, TransferPolicy } from '@floe/streamer/protocol';
import { CHUNK_BYTES, formatSize, frameChunk, parseChunk, progressLabel } from './file-frames.ts';

/** Bytes queued on the channel before an upload waits for it to drain. */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
/** Bytes read from the file at once, then sent as chunks. */
const READ_BYTES = 1024 * 1024;

export interface FilesElements {
  toggle: HTMLButtonElement;
  panel: HTMLElement;
  input: HTMLInputElement;
  upload: HTMLButtonElement;
  uploadFolder: HTMLElement;
  downloadFolder: HTMLElement;
  refresh: HTMLButtonElement;
  transfers: HTMLElement;
  list: HTMLElement;
  message: HTMLElement;
  stage: HTMLElement;
}

export interface FilesHandle {
  /** What the streamer allows, from its welcome. */
  policy(policy: TransferPolicy | undefined): void;
  /** A new "files" channel of a new connection. */
  channel(channel: RTCDataChannel): void;
}

type Status = 'queued' | 'sending' | 'waiting' | 'done' | 'failed' | 'receiving';

interface Row {
  item: HTMLLIElement;
  bar: HTMLProgressElement;
  text: HTMLElement;
}

interface Upload {
  file: File;
  id: number;
  status: Status;
  /** where the streamer said to start from, on the last `upload-ready` */
  resumedFrom: number;
  row: Row;
}

interface Download {
  id: number;
  name: string;
  size: number;
  parts: Uint8Array[];
  received: number;
  row: Row;
}

export function attachFiles(ui: FilesElements): FilesHandle {
  let channel: RTCDataChannel | null = null;
  let allowed: TransferPolicy | undefined;
  let nextId = 1;
  const uploads = new Map<number, Upload>();
  const downloads = new Map<number, Download>();
  let drainWaiters: (() => void)[] = [];

  const say = (text: string) => {
    ui.message.textContent = text;
    ui.message.hidden = text === '';
  };
  const request = (message: FileRequest) => {
    if (channel?.readyState !== 'open') return false;
    channel.send(JSON.stringify(message));
    return true;
  };

  const newRow = (name: string, direction: string): Row => {
    const item = document.createElement('li');
    item.className = 'transfer';
    item.dataset.direction = direction;
    const label = document.createElement('span');
    label.className = 'transfer-name';
    label.textContent = name;
    const bar = document.createElement('progress');
    bar.max = 1;
    bar.value = 0;
    bar.setAttribute('aria-label', `${direction} of ${name}`);
    const text = document.createElement('span');
    text.className = 'transfer-status';
    item.append(label, bar, text);
    ui.transfers.prepend(item);
    return { item, bar, text };
  };
  const show = (row: Row, status: Status, done: number, total: number, note = '') => {
    row.item.dataset.status = status;
    row.bar.value = total === 0 ? 1 : done / total;
    row.text.textContent = note || progressLabel(done, total);
  };

  // ── uploads ───────────────────────────────────────────────────────────────────────────────

  const begin = (upload: Upload) => {
    upload.id = nextId++;
    uploads.set(upload.id, upload);
    upload.status = 'queued';
    const { file } = upload;
    show(upload.row, 'queued', 0, file.size, 'waiting for the stream…');
    request({
      t: 'upload',
      id: upload.id,
      name: file.name,
      size: file.size,
      modified: file.lastModified,
    });
  };

  const drained = () =>
    new Promise<void>((resolve) => {
      drainWaiters.push(resolve);
    });

  const send = async (upload: Upload, from: number) => {
    const { file, row } = upload;
    const ch = channel;
    upload.status = 'sending';
    upload.resumedFrom = from;
    row.item.dataset.resumedFrom = String(from);
    let offset = from;
    while (offset < file.size) {
      if (ch !== channel || ch?.readyState !== 'open' || upload.status !== 'sending') return;
      // a read of the file per block, not per chunk: each read is a round trip to the disk
      const block = new Uint8Array(await file.slice(offset, offset + READ_BYTES).arrayBuffer());
      for (let at = 0; at < block.byteLength; at += CHUNK_BYTES) {
        if (ch.readyState !== 'open' || upload.status !== 'sending') return;
        const data = block.subarray(at, at + CHUNK_BYTES);
        ch.send(frameChunk(upload.id, offset, data));
        offset += data.byteLength;
        if (ch.bufferedAmount > HIGH_WATER) await drained();
      }
      const note = from > 0 ? `${progressLabel(offset, file.size)}, resumed` : '';
      show(row, 'sending', offset, file.size, note);
    }
    request({ t: 'upload-end', id: upload.id });
  };

  const add = (files: Iterable<File>) => {
    if (!allowed?.files) {
      say('File transfer is turned off for this session.');
      return;
    }
    say('');
    for (const file of files) {
      if (allowed.maxFileBytes !== null && file.size > allowed.maxFileBytes) {
        const row = newRow(file.name, 'upload');
        show(
          row,
          'failed',
          0,
          file.size,
          `larger than the ${formatSize(allowed.maxFileBytes)} allowed`,
        );
        continue;
      }
      begin({ file, id: 0, status: 'queued', resumedFrom: 0, row: newRow(file.name, 'upload') });
    }
    open(true);
  };

  // ── downloads ─────────────────────────────────────────────────────────────────────────────

  const renderListing = (files: FileEntry[]) => {
    if (files.length === 0) {
      const empty = document.createElement('li');
      empty.className = 'empty';
      empty.textContent = `Nothing in ~/${allowed?.downloadFolder ?? 'Downloads'} yet.`;
      ui.list.replaceChildren(empty);
      return;
    }
    ui.list.replaceChildren(
      ...files.map((f) => {
        const item = document.createElement('li');
        const name = document.createElement('span');
        name.className = 'file-name';
        name.textContent = f.name;
        const size = document.createElement('span');
        size.className = 'file-size';
        size.textContent = formatSize(f.size);
        const get = document.createElement('button');
        get.type = 'button';
        get.textContent = 'Download';
        get.setAttribute('aria-label', `Download ${f.name}`);
        get.addEventListener('click', () => startDownload(f.name));
        item.append(name, size, get);
        return item;
      }),
    );
  };

  const startDownload = (name: string) => {
    const id = nextId++;
    const row = newRow(name, 'download');
    downloads.set(id, { id, name, size: 0, parts: [], received: 0, row });
    show(row, 'receiving', 0, 0, 'asking…');
    if (!request({ t: 'download', id, name })) show(row, 'failed', 0, 0, 'not connected');
  };

  const save = (download: Download) => {
    const blob = new Blob(download.parts as BlobPart[]);
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = download.name;
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  };

  // ── the channel ───────────────────────────────────────────────────────────────────────────

  const onReply = (reply: FileReply) => {
    switch (reply.t) {
      case 'upload-ready': {
        const upload = uploads.get(reply.id);
        if (!upload) return;
        send(upload, reply.offset).catch((error: unknown) => {
          // a channel closing under the send: the next connection resumes it
          if (channel?.readyState !== 'open') return;
          // a send the browser refuses on an open channel: the row says so
          uploads.delete(upload.id);
          upload.status = 'failed';
          show(upload.row, 'failed', 0, upload.file.size, `could not send: ${error}`);
        });
        return;
      }
      case 'upload-done': {
        const upload = uploads.get(reply.id);
        if (!upload) return;
        uploads.delete(reply.id);
        upload.status = 'done';
        show(
          upload.row,
          'done',
          reply.size,
          reply.size,
          `in ~/${allowed?.uploadFolder ?? 'Uploads'}/${reply.name}`,
        );
        return;
      }
      case 'listing':
        renderListing(reply.files);
        return;
      case 'download-start': {
        const d = downloads.get(reply.id);
        if (!d) return;
        d.size = reply.size;
        show(d.row, 'receiving', 0, d.size);
        return;
      }
      case 'download-end': {
        const d = downloads.get(reply.id);
        if (!d) return;
        downloads.delete(reply.id);
        show(d.row, 'done', d.received, d.size, `saved (${formatSize(d.received)})`);
        save(d);
        return;
      }
      case 'file-error': {
        const upload = reply.id === null ? undefined : uploads.get(reply.id);
        const download = reply.id === null ? undefined : downloads.get(reply.id);
        if (upload) {
          uploads.delete(upload.id);
          upload.status = 'failed';
          show(upload.row, 'failed', 0, upload.file.size, reply.message);
        } else if (download) {
          downloads.delete(download.id);
          show(download.row, 'failed', download.received, download.size, reply.message);
        } else {
          say(reply.message);
        }
        return;
      }
    }
  };

  const onChunk = (frame: ArrayBuffer) => {
    const chunk = parseChunk(frame);
    const d = chunk && downloads.get(chunk.id);
    if (!chunk || !d || chunk.offset !== d.received) return;
    d.parts.push(chunk.data.slice());
    d.received += chunk.data.byteLength;
    show(d.row, 'receiving', d.received, d.size);
  };

  const attach = (ch: RTCDataChannel) => {
    channel = ch;
    ch.binaryType = 'arraybuffer';
    ch.bufferedAmountLowThreshold = LOW_WATER;
    ch.onbufferedamountlow = () => {
      const waiting = drainWaiters;
      drainWaiters = [];
      for (const resolve of waiting) resolve();
    };
    ch.onmessage = (e) => {
      if (typeof e.data !== 'string') return onChunk(e.data as ArrayBuffer);
      try {
        onReply(JSON.parse(e.data) as FileReply);
      } catch {
        // not JSON: nothing this page understands
      }
    };
    ch.onopen = () => {
      // what a lost connection cut off starts again: the streamer says from where
      const unfinished = [...uploads.values()];
      uploads.clear();
      for (const upload of unfinished) begin(upload);
      if (!ui.panel.hidden) request({ t: 'list' });
    };
    ch.onclose = () => {
      if (channel !== ch) return;
      const waiting = drainWaiters;
      drainWaiters = [];
      for (const resolve of waiting) resolve();
      for (const upload of uploads.values()) {
        upload.status = 'waiting';
        show(
          upload.row,
          'waiting',
          0,
          upload.file.size,
          'connection lost — resumes when it is back',
        );
      }
      for (const d of downloads.values())
        show(d.row, 'failed', d.received, d.size, 'connection lost — download it again');
      downloads.clear();
    };
  };

  // ── the page ──────────────────────────────────────────────────────────────────────────────

  const open = (on: boolean) => {
    ui.panel.hidden = !on;
    ui.toggle.setAttribute('aria-expanded', String(on));
    if (on) request({ t: 'list' });
  };

  ui.toggle.addEventListener('click', () => open(ui.panel.hidden));
  ui.upload.addEventListener('click', () => ui.input.click());
  ui.input.addEventListener('change', () => {
    if (ui.input.files) add([...ui.input.files]);
    ui.input.value = '';
  });
  ui.refresh.addEventListener('click', () => request({ t: 'list' }));

  // files dropped on the stream: the stage shows where they go while they are dragged over it
  const hasFiles = (e: DragEvent) => e.dataTransfer?.types.includes('Files') ?? false;
  ui.stage.addEventListener('dragover', (e) => {
    if (!hasFiles(e) || !allowed?.files) return;
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
    ui.stage.dataset.drop = 'over';
  });
  ui.stage.addEventListener('dragleave', () => delete ui.stage.dataset.drop);
  ui.stage.addEventListener('drop', (e) => {
    delete ui.stage.dataset.drop;
    if (!e.dataTransfer?.files.length) return;
    e.preventDefault();
    add([...e.dataTransfer.files]);
  });

  return {
    policy(policy) {
      allowed = policy;
      ui.toggle.hidden = !policy?.files;
      if (!policy?.files) ui.panel.hidden = true;
      if (policy) {
        ui.uploadFolder.textContent = `~/${policy.uploadFolder}`;
        ui.downloadFolder.textContent = `~/${policy.downloadFolder}`;
      }
    },
    channel: attach,
  };
}
