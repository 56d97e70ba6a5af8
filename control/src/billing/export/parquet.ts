/**
 * The Parquet export: `COPY (the export's query) TO … WITH (FORMAT binary)` of each part
 * (copy-out.ts), its records read into typed arrays ARROW_BATCH_ROWS at a time
 * (binary-copy.ts, column-batch.ts), each batch handed as an Arrow IPC stream to
 * parquet-wasm (arrow-rs's Parquet writer compiled to WebAssembly) in a thread of the
 * export's own (parquet-encoder.ts: its memory ends with the export, and the encoding does
 * not hold the event loop), which encodes it at once and sends each row group's bytes on as
 * soon as it is complete.
 *
 * Why this way (docs/benchmarks.md, "Billing exports", has the numbers): hyparquet-writer,
 * fed a JavaScript value per field from rows read as text, reached 0.15× COPY at
 * 10,000,000 records with a 275 MB peak; its time went to garbage collection (21 %), its
 * dictionaries (14 %) and node-postgres making a string of every field. Here the database
 * sends each column in its own binary form (no cast, no text: it spends less than on the
 * CSV COPY of the same rows), no field becomes a JavaScript value, and dictionaries,
 * encoding and snappy run in WebAssembly, whose memory is outside the JavaScript heap and
 * reused from one row group to the next. parquet-wasm (arrow-rs, the Rust implementation of
 * Apache Arrow and Parquet) and apache-arrow (Apache Arrow's JavaScript library) are both
 * maintained. DuckDB's Node API was the other candidate: it reads PostgreSQL only through
 * its postgres extension, which it downloads at run time (from outside the package
 * registry), and appending rows to it from JavaScript is a call per value. The output is
 * deterministic (no write time; the same row groups for the same records), so a closed
 * period's export is the same bytes every time.
 */
import { Worker } from 'node:worker_threads';
import { AsyncByteQueue, RecordBatchStreamWriter } from 'apache-arrow';
import type { Db } from '../../db/connect.ts';
import { BinaryCopyReader } from './binary-copy.ts';
import { ARROW_SCHEMA, ColumnBatch } from './column-batch.ts';
import { EXPORT_COLUMNS } from './columns.ts';
import { type CopyQuery, copyChunks, rangeSql } from './copy-out.ts';
import type { EncoderSettings, FromEncoder, ToEncoder } from './parquet-encoder.ts';
import type { ExportPart } from './read.ts';

/**
 * Records per Arrow batch: what the server holds of records not yet encoded (the batch's
 * typed arrays, its Arrow IPC copy, parquet-wasm's decoded copy) is proportional to it.
 */
export const ARROW_BATCH_ROWS = 8_192;

/**
 * Records per row group, written from several batches: parquet-wasm holds a row group's
 * encoded pages (snappy, about 3.5 MB here) until it is complete, and the metadata of every
 * row group for the footer (in WebAssembly memory, which never shrinks). With a row group
 * per batch of 8,192, that metadata grew WebAssembly memory from 16 to 33 MB over
 * 10,000,000 records (and would go on growing with the file); with 65,536 it stays at
 * 32 MB, and the file is 4.5 % smaller. Readers prefer larger groups too.
 */
export const ROW_GROUP_ROWS = 65_536;

/**
 * COPY of the part's records as PostgreSQL's binary format, one field per export column in
 * order, each in its column's own type (binary-copy.ts reads uuid, timestamptz and numeric
 * as they are stored): no cast or text conversion per value in the database, which costs
 * it less than the CSV COPY of the same rows, and no more bytes than needed.
 */
export const copyBinaryQuery: CopyQuery = (part, ids, literal, to) => {
  const time = (d: Date) => `${literal(d.toISOString())}::timestamptz`;
  return `copy (select r.id, r.kind, r.tenant_id, ${literal(part.tenantSlug)}::text,
    ${literal(part.label)}::text, ${time(part.start)}, ${time(part.end)}, a.label,
    r.session_id, r.user_id, r.user_email, r.app_id, r.app_slug, r.app_class, r.cluster_id,
    r.cluster_name, r.region, r.gpu_sku, r.gpu_count, r.slice_start, r.slice_end,
    r.session_seconds, r.gpu_seconds, r.currency, r.amount
  from usage_records r left join billing_periods a on a.id = r.adjusts_period_id
  where r.period_id = ${literal(part.periodId)}::uuid and r.id > ${literal(ids.after)}::int8
    and r.id <= ${literal(ids.upTo)}::int8 ${rangeSql(part, literal)}
  order by r.id) to ${to} with (format binary)`;
};

/**
 * The writer's settings (snappy, in parquet-encoder.ts): dictionaries only for the columns
 * of few values (columns.ts); min/max statistics per row group for all but the strings
 * (those of UUIDs and emails would cost a comparison of every value, for little).
 */
const ENCODER_SETTINGS: EncoderSettings = {
  rowGroupRows: ROW_GROUP_ROWS,
  dictionary: EXPORT_COLUMNS.filter((c) => c.dictionary).map((c) => c.name),
  noStatistics: EXPORT_COLUMNS.filter((c) => c.kind === 'string' || c.kind === 'uuid').map(
    (c) => c.name,
  ),
};

/**
 * The Arrow IPC stream of a batch, written into one buffer reused from batch to batch and
 * shared with the encoder's thread, which copies it into its WebAssembly memory (the IPC
 * writer's own sink would allocate a new one each time: garbage of the batch's size,
 * outside the JavaScript heap, that is only freed by a full collection).
 */
class IpcBuffer extends AsyncByteQueue {
  bytes = new Uint8Array(new SharedArrayBuffer(1 << 20));
  size = 0;

  override write(value: Uint8Array) {
    if (this.size + value.byteLength > this.bytes.length) {
      const length = Math.max(2 * this.bytes.length, this.size + value.byteLength);
      const bytes = new Uint8Array(new SharedArrayBuffer(length));
      bytes.set(this.bytes.subarray(0, this.size));
      this.bytes = bytes;
    }
    this.bytes.set(value, this.size);
    this.size += value.byteLength;
  }

  /** writes the IPC stream (schema, the batch, its end) of the batch's records so far */
  of(batch: ColumnBatch) {
    this.size = 0;
    const writer = new RecordBatchStreamWriter().reset(this, ARROW_SCHEMA);
    writer.write(batch.toArrow());
    writer.finish();
    batch.reset();
  }
}

const ENCODER = new URL('./parquet-encoder.ts', import.meta.url);

/** The Parquet export of these parts, a row group at a time. */
export function parquetStream(db: Db, parts: ExportPart[]): ReadableStream<Uint8Array> {
  const chunks = copyChunks(db, parts, copyBinaryQuery);
  const reader = new BinaryCopyReader();
  const batch = new ColumnBatch(ARROW_BATCH_ROWS);
  const ipc = new IpcBuffer();
  const encoder = new Worker(ENCODER, { workerData: ENCODER_SETTINGS });
  const send = (m: ToEncoder) => encoder.postMessage(m);
  // set when reading failed or the download was cancelled: parquet-wasm ends its file
  // (footer and all) on any end of its input, which must then not be sent as if complete
  let stopped: unknown = null;
  let sentBatch = false;
  let ended = false;

  /** The next batch for the encoder (at least one: it takes the schema from the first, so
   * an export of no records is one empty batch), or the end. */
  const nextBatch = async (): Promise<ToEncoder> => {
    if (ended) return { t: 'end' };
    try {
      for (;;) {
        if (stopped) throw stopped;
        if (reader.fill(batch)) break;
        const next = await chunks.next();
        if (next.done) {
          if (!reader.complete) throw new Error('binary COPY ended inside a record');
          ended = true;
          if (batch.rows === 0 && sentBatch) return { t: 'end' };
          break;
        }
        reader.feed(next.value);
      }
    } catch (err) {
      stopped ??= err;
      ended = true;
      await chunks.return(undefined);
      return { t: 'end' };
    }
    sentBatch = true;
    ipc.of(batch);
    return { t: 'batch', bytes: ipc.bytes, size: ipc.size };
  };

  // the answer to the pending `read`
  let piece: { resolve: (m: FromEncoder) => void; reject: (err: Error) => void } | null = null;
  encoder.on('message', (m: FromEncoder) => {
    if (m.t === 'want') {
      void nextBatch().then(send);
      return;
    }
    const waiting = piece;
    piece = null;
    waiting?.resolve(m);
  });
  encoder.on('error', (err) => {
    stopped ??= err;
    piece?.reject(err);
  });
  const finish = () => {
    void encoder.terminate();
    return chunks.return(undefined);
  };

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const m = await new Promise<FromEncoder>((resolve, reject) => {
        piece = { resolve, reject };
        send({ t: 'read' });
      });
      // checked before every piece: the footer of a file cut short is never sent
      if (stopped) {
        await finish();
        throw stopped;
      }
      if (m.t === 'error') {
        await finish();
        throw new Error(`Parquet encoder: ${m.message}`);
      }
      if (m.t === 'done') {
        await finish();
        controller.close();
      } else if (m.t === 'piece') controller.enqueue(m.bytes);
    },
    async cancel() {
      stopped ??= new Error('export cancelled');
      await finish();
    },
  });
}
