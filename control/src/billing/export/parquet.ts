/**
 * The Parquet export: `COPY (the export's query) TO … WITH (FORMAT binary)` of each part
 * (copy-out.ts), its records read into typed arrays ARROW_BATCH_ROWS at a time
 * (binary-copy.ts, column-batch.ts), each batch handed as an Arrow record batch to
 * parquet-wasm (arrow-rs's Parquet writer compiled to WebAssembly), which encodes it at
 * once and sends each row group's bytes on as soon as it is complete.
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
import { AsyncByteQueue, RecordBatchStreamWriter } from 'apache-arrow';
import type { Db } from '../../db/connect.ts';
import { BinaryCopyReader } from './binary-copy.ts';
import { ARROW_SCHEMA, ColumnBatch } from './column-batch.ts';
import { EXPORT_COLUMNS } from './columns.ts';
import { type CopyQuery, copyChunks, rangeSql } from './copy-out.ts';
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

type ParquetWasm = typeof import('parquet-wasm');
let loaded: Promise<ParquetWasm> | null = null;
/** parquet-wasm, compiled on the first Parquet export rather than when the server starts */
const parquetWasm = () => {
  loaded ??= import('parquet-wasm');
  return loaded;
};

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
 * The writer's settings: snappy; dictionaries only for the columns of few values
 * (columns.ts); min/max statistics per row group for all but the strings (those of UUIDs
 * and emails would cost a comparison of every value, for little).
 */
function writerProperties(pw: ParquetWasm) {
  let b = new pw.WriterPropertiesBuilder()
    .setCreatedBy('floe usage export')
    .setCompression(pw.Compression.SNAPPY)
    .setMaxRowGroupSize(ROW_GROUP_ROWS)
    .setDictionaryEnabled(false)
    .setStatisticsEnabled(pw.EnabledStatistics.Chunk);
  for (const c of EXPORT_COLUMNS) {
    if (c.dictionary) b = b.setColumnDictionaryEnabled(c.name, true);
    if (c.kind === 'string' || c.kind === 'uuid') {
      b = b.setColumnStatisticsEnabled(c.name, pw.EnabledStatistics.None);
    }
  }
  return b.build();
}

/**
 * The Arrow IPC stream of a batch, written into one buffer reused from batch to batch (the
 * IPC writer's own sink would allocate a new one each time: garbage of the batch's size,
 * outside the JavaScript heap, that is only freed by a full collection).
 */
class IpcBuffer extends AsyncByteQueue {
  bytes = new Uint8Array(1 << 20);
  size = 0;

  override write(value: Uint8Array) {
    if (this.size + value.byteLength > this.bytes.length) {
      const bytes = new Uint8Array(Math.max(2 * this.bytes.length, this.size + value.byteLength));
      bytes.set(this.bytes.subarray(0, this.size));
      this.bytes = bytes;
    }
    this.bytes.set(value, this.size);
    this.size += value.byteLength;
  }

  /** the IPC stream (schema, the batch, its end) of the batch's records so far */
  of(batch: ColumnBatch): Uint8Array {
    this.size = 0;
    const writer = new RecordBatchStreamWriter().reset(this, ARROW_SCHEMA);
    writer.write(batch.toArrow());
    writer.finish();
    return this.bytes.subarray(0, this.size);
  }
}

/** The Parquet export of these parts, a row group at a time. */
export function parquetStream(db: Db, parts: ExportPart[]): ReadableStream<Uint8Array> {
  const chunks = copyChunks(db, parts, copyBinaryQuery);
  const reader = new BinaryCopyReader();
  const batch = new ColumnBatch(ARROW_BATCH_ROWS);
  const ipc = new IpcBuffer();
  let pw: ParquetWasm;
  let output: ReadableStreamDefaultReader<Uint8Array>;
  // set when reading failed or the download was cancelled: parquet-wasm ends its file
  // (footer and all) on any end of its input, which must then not be sent as if complete
  let stopped: unknown = null;
  let sentBatch = false;

  /** the batch so far into WebAssembly memory, as parquet-wasm's record batch */
  const toWasm = () => {
    const table = pw.Table.fromIPCStream(ipc.of(batch));
    batch.reset();
    try {
      return table.recordBatch(0);
    } finally {
      table.free();
    }
  };

  // record batches for parquet-wasm (at least one: it takes the schema from the first, so
  // an export of no records is one empty batch)
  const batches = new ReadableStream(
    {
      async pull(controller) {
        try {
          for (;;) {
            if (stopped) throw stopped;
            if (reader.fill(batch)) {
              sentBatch = true;
              controller.enqueue(toWasm());
              return;
            }
            const next = await chunks.next();
            if (next.done) {
              if (!reader.complete) throw new Error('binary COPY ended inside a record');
              if (batch.rows > 0 || !sentBatch) controller.enqueue(toWasm());
              controller.close();
              return;
            }
            reader.feed(next.value);
          }
        } catch (err) {
          stopped ??= err;
          await chunks.return(undefined);
          controller.close();
        }
      },
      async cancel() {
        await chunks.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );

  return new ReadableStream<Uint8Array>({
    async start() {
      pw = await parquetWasm();
      output = (await pw.transformParquetStream(batches, writerProperties(pw))).getReader();
    },
    async pull(controller) {
      const next = await output.read();
      // checked before every piece: the footer of a file cut short is never sent
      if (stopped) throw stopped;
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      stopped ??= new Error('export cancelled');
      await output.cancel();
    },
  });
}
