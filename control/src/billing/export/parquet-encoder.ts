/**
 * The Parquet encoder's thread (a worker of one export, see parquet.ts): parquet-wasm turns
 * the Arrow batches the export's thread sends into Parquet row groups, which go back as they
 * are complete. Why a thread of its own: WebAssembly memory never shrinks, so the encoder's
 * (about 40 MB by the end of a large file) would stay with the server after the export;
 * with the thread it ends with the export. And the encoding, most of the export's CPU, no
 * longer holds the server's event loop (a row group is a hundred milliseconds or more).
 *
 * The two sides talk in pulls, as streams do: the export's thread asks for the next piece of
 * the file (`read`); to make it, parquet-wasm asks here for the next batch (`want`), which
 * the export's thread fills from COPY and answers (`batch`, or `end`). One batch is asked
 * ahead, so that reading COPY and encoding overlap.
 */
import { parentPort, workerData } from 'node:worker_threads';

/** What the export's thread sends here. */
export type ToEncoder =
  | { t: 'read' }
  /** an Arrow IPC stream of one record batch: `size` bytes of `bytes` (shared memory) */
  | { t: 'batch'; bytes: Uint8Array; size: number }
  | { t: 'end' };

/** What the encoder sends back. */
export type FromEncoder =
  | { t: 'want' }
  | { t: 'piece'; bytes: Uint8Array }
  | { t: 'done' }
  | { t: 'error'; message: string };

/** The writer's settings, from the export's columns (columns.ts, read in the export's thread). */
export interface EncoderSettings {
  rowGroupRows: number;
  /** columns with a dictionary; all others are written plain */
  dictionary: string[];
  /** columns without min/max statistics */
  noStatistics: string[];
}

async function encode(port: NonNullable<typeof parentPort>, settings: EncoderSettings) {
  const pw = await import('parquet-wasm');
  const post = (m: FromEncoder, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer ?? []);
  let answer: ((m: ToEncoder) => void) | null = null;
  let output: ReadableStreamDefaultReader<Uint8Array> | null = null;

  const batches = new ReadableStream(
    {
      async pull(controller) {
        post({ t: 'want' });
        const m = await new Promise<ToEncoder>((resolve) => {
          answer = resolve;
        });
        if (m.t === 'end') return controller.close();
        if (m.t !== 'batch') throw new Error(`parquet encoder: ${m.t} where a batch was due`);
        // copied into WebAssembly memory now: the shared buffer is written again only after
        // the next `want`, which comes after this
        const table = pw.Table.fromIPCStream(m.bytes.subarray(0, m.size));
        try {
          controller.enqueue(table.recordBatch(0));
        } finally {
          table.free();
        }
      },
    },
    { highWaterMark: 1 },
  );

  const next = async () => {
    try {
      output ??= (await pw.transformParquetStream(batches, properties(pw, settings))).getReader();
      const r = await output.read();
      if (r.done) return post({ t: 'done' });
      // a copy out of WebAssembly memory, handed over without another
      const bytes = r.value.slice();
      post({ t: 'piece', bytes }, [bytes.buffer as ArrayBuffer]);
    } catch (err) {
      post({ t: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  };

  // reads come one at a time (the export's stream pulls once per piece): chained anyway
  let chain = Promise.resolve();
  port.on('message', (m: ToEncoder) => {
    if (m.t === 'read') {
      chain = chain.then(next);
    } else {
      const resolve = answer;
      answer = null;
      resolve?.(m);
    }
  });
}

function properties(pw: typeof import('parquet-wasm'), s: EncoderSettings) {
  let b = new pw.WriterPropertiesBuilder()
    .setCreatedBy('floe usage export')
    .setCompression(pw.Compression.SNAPPY)
    .setMaxRowGroupSize(s.rowGroupRows)
    .setDictionaryEnabled(false)
    .setStatisticsEnabled(pw.EnabledStatistics.Chunk);
  for (const name of s.dictionary) b = b.setColumnDictionaryEnabled(name, true);
  for (const name of s.noStatistics) {
    b = b.setColumnStatisticsEnabled(name, pw.EnabledStatistics.None);
  }
  return b.build();
}

if (parentPort) void encode(parentPort, workerData as EncoderSettings);
