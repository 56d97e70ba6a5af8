/**
 * What a session's streamer allows of clipboard and file transfer: its tenant's policy
 * narrowed by its app's (docs/files.md). Pure; the table in test/unit/transfer.test.ts is the
 * specification. The streamer enforces the result (streamer/src/config.ts FLOE_STREAMER_*).
 */

/** One policy row as the API shows it; limits in bytes, null: none. */
export interface TransferPolicy {
  clipboard: boolean;
  files: boolean;
  maxFileBytes: number | null;
  maxHomeBytes: number | null;
}

/** What a launch hands the streamer. */
export type TransferSettings = TransferPolicy;

/** No row: everything allowed, no limits but the disk (what streams did before policies). */
export const OPEN_POLICY: TransferPolicy = {
  clipboard: true,
  files: true,
  maxFileBytes: null,
  maxHomeBytes: null,
};

const smaller = (a: number | null, b: number | null) =>
  a === null ? b : b === null ? a : Math.min(a, b);

/** An app can only narrow its tenant: a switch is on when both say on, a limit the smaller. */
export function effectiveTransfer(
  tenant: TransferPolicy | null,
  app: TransferPolicy | null,
): TransferSettings {
  const t = tenant ?? OPEN_POLICY;
  const a = app ?? OPEN_POLICY;
  return {
    clipboard: t.clipboard && a.clipboard,
    files: t.files && a.files,
    maxFileBytes: smaller(t.maxFileBytes, a.maxFileBytes),
    maxHomeBytes: smaller(t.maxHomeBytes, a.maxHomeBytes),
  };
}

/** The streamer's environment for these settings (streamer/src/config.ts). */
export function transferEnv(settings: TransferSettings): Record<string, string> {
  return {
    FLOE_STREAMER_CLIPBOARD: settings.clipboard ? 'on' : 'off',
    FLOE_STREAMER_FILES: settings.files ? 'on' : 'off',
    ...(settings.maxFileBytes !== null && {
      FLOE_STREAMER_MAX_FILE_BYTES: String(settings.maxFileBytes),
    }),
    ...(settings.maxHomeBytes !== null && {
      FLOE_STREAMER_MAX_HOME_BYTES: String(settings.maxHomeBytes),
    }),
  };
}
