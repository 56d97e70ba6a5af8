// The gateway serves the stream page and its bundle itself (sessions/stream-page.ts): the
// files it answers for must be the ones web/build.ts writes, or a file of the page would be
// asked of the session (and refused, or worse, answered by it).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWeb } from '@floe/web/build';
import { describe, expect, it } from 'vitest';
import { STREAM_ASSETS, streamPageDir } from '../../src/sessions/stream-page.ts';

describe('the stream page’s files', () => {
  it('are those web/build.ts writes, found from FLOE_GATEWAY_WEB_DIR or its app folder', async () => {
    const out = mkdtempSync(join(tmpdir(), 'floe-stream-page-'));
    const built = await buildWeb({ outDir: out });
    expect(built.files).toEqual(
      ['index.html', ...[...STREAM_ASSETS].map((a) => a.slice(1))].sort(),
    );
    expect(streamPageDir(out)).toBe(built.dir);
    expect(streamPageDir(join(out, 'app'))).toBe(built.dir);
    expect(streamPageDir(join(out, 'nothing-here', 'app'))).toBeNull();
    expect(streamPageDir(undefined)).toBeNull();
  }, 60_000);
});
