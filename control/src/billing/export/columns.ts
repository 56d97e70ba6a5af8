/**
 * The columns of a usage export, defined once: their order, their meaning (which the
 * OpenAPI document repeats) and their kinds, from which parquet.ts makes the Parquet types.
 * CSV and JSON Lines carry the same columns in the same order; decimals are strings there,
 * so that no reader rounds them.
 */

import { z } from '@hono/zod-openapi';

/**
 * One usage record as read for the JSON Lines export: the text of each column in
 * `EXPORT_COLUMNS` order (null for SQL NULL). Integers are their decimal digits, timestamps
 * ISO 8601, decimals with all their places.
 */
export type ExportRow = (string | null)[];

export type ColumnKind =
  | 'int64'
  | 'int32'
  | 'string'
  | 'uuid'
  | 'timestamp'
  | 'decimal3'
  | 'decimal6';

export interface ExportColumn {
  name: string;
  kind: ColumnKind;
  nullable?: boolean;
  /**
   * Parquet: dictionary-encode this column (few distinct values in a row group: tenants,
   * users, apps, SKUs). Columns of mostly distinct values (ids, times, amounts) are written
   * plain, where a dictionary would cost time and bytes for nothing.
   */
  dictionary?: boolean;
  description: string;
}

export const EXPORT_COLUMNS: readonly ExportColumn[] = [
  {
    name: 'record_id',
    kind: 'int64',
    description: 'the usage record’s id (ascending within a period)',
  },
  {
    name: 'kind',
    kind: 'string',
    dictionary: true,
    description:
      '`usage`, or `adjustment`: late usage of the closed period `adjusts_period`, booked in this one',
  },
  {
    name: 'tenant_id',
    kind: 'uuid',
    dictionary: true,
    description: 'the tenant (UUID)',
  },
  {
    name: 'tenant_slug',
    kind: 'string',
    dictionary: true,
    description: 'the tenant’s slug',
  },
  {
    name: 'period',
    kind: 'string',
    dictionary: true,
    description: 'the billing period the record is booked in (YYYY-MM of its time zone)',
  },
  {
    name: 'period_start',
    kind: 'timestamp',
    dictionary: true,
    description: 'start of the billing period (UTC)',
  },
  {
    name: 'period_end',
    kind: 'timestamp',
    dictionary: true,
    description: 'end of the billing period, exclusive (UTC)',
  },
  {
    name: 'adjusts_period',
    kind: 'string',
    nullable: true,
    dictionary: true,
    description: 'for an adjustment: the closed period the usage belongs to; else empty',
  },
  { name: 'session_id', kind: 'uuid', description: 'the session (UUID)' },
  {
    name: 'user_id',
    kind: 'uuid',
    dictionary: true,
    description: 'the user who ran it (UUID)',
  },
  {
    name: 'user_email',
    kind: 'string',
    dictionary: true,
    description: 'the user’s email when the record was made',
  },
  {
    name: 'app_id',
    kind: 'uuid',
    dictionary: true,
    description: 'the app (UUID)',
  },
  {
    name: 'app_slug',
    kind: 'string',
    dictionary: true,
    description: 'the app’s slug',
  },
  {
    name: 'app_class',
    kind: 'string',
    nullable: true,
    dictionary: true,
    description:
      'the app’s pricing class when the record was made (rate cards may price a class of apps); empty without one',
  },
  {
    name: 'cluster_id',
    kind: 'uuid',
    nullable: true,
    dictionary: true,
    description: 'the cluster it ran on (UUID)',
  },
  {
    name: 'cluster_name',
    kind: 'string',
    nullable: true,
    dictionary: true,
    description: 'the cluster’s name',
  },
  {
    name: 'region',
    kind: 'string',
    nullable: true,
    dictionary: true,
    description: 'the cluster’s region',
  },
  {
    name: 'gpu_sku',
    kind: 'string',
    nullable: true,
    dictionary: true,
    description: 'the GPU model; empty without GPUs',
  },
  {
    name: 'gpu_count',
    kind: 'int32',
    dictionary: true,
    description: 'GPUs the session held',
  },
  {
    name: 'slice_start',
    kind: 'timestamp',
    description: 'first billed instant of the session in this period (UTC)',
  },
  {
    name: 'slice_end',
    kind: 'timestamp',
    description: 'last billed instant of the session in this period, exclusive (UTC)',
  },
  {
    name: 'session_seconds',
    kind: 'decimal3',
    description:
      'seconds the session ran in this period (decimal, 3 places; negative for a credit)',
  },
  {
    name: 'gpu_seconds',
    kind: 'decimal3',
    description: 'session_seconds × gpu_count (decimal, 3 places)',
  },
  {
    name: 'currency',
    kind: 'string',
    dictionary: true,
    description: 'ISO 4217 code of the rate card; XXX when no rate card applied',
  },
  {
    name: 'amount',
    kind: 'decimal6',
    description: 'the price of this record on the period’s rate card (decimal, 6 places)',
  },
];

export const COLUMN_NAMES = EXPORT_COLUMNS.map((c) => c.name);

const ZOD_TYPES: Record<ColumnKind, z.ZodType> = {
  int64: z.number().int(),
  int32: z.number().int(),
  string: z.string(),
  uuid: z.string(),
  timestamp: z.string().openapi({ format: 'date-time' }),
  decimal3: z.string().openapi({ pattern: '^-?\\d+\\.\\d{3}$' }),
  decimal6: z.string().openapi({ pattern: '^-?\\d+\\.\\d{6}$' }),
};

/** A line of the JSON Lines export (and a row of the CSV one), every column described. */
export const UsageExportRow = z
  .object(
    Object.fromEntries(
      EXPORT_COLUMNS.map((c) => {
        const t = ZOD_TYPES[c.kind];
        return [c.name, (c.nullable ? t.nullable() : t).describe(c.description)];
      }),
    ),
  )
  .openapi('UsageExportRow', {
    description:
      'One usage record. CSV has these columns in this order under a header row (null is an ' +
      'empty field); Parquet has them typed: timestamps as TIMESTAMP(MILLIS, UTC), decimals ' +
      'as DECIMAL(18, 3 or 6), gpu_count INT32, record_id INT64.',
  });
