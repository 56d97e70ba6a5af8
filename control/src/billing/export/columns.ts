/**
 * The columns of a usage export, defined once: their order, their meaning (which the
 * OpenAPI document repeats) and their Parquet types. CSV and JSON Lines carry the same
 * columns in the same order; decimals are strings there, so that no reader rounds them.
 */

import { z } from '@hono/zod-openapi';
import type { SchemaElement } from 'hyparquet';

/**
 * One usage record as read for an export: the text of each column in `EXPORT_COLUMNS`
 * order (null for SQL NULL), which each format writes without parsing what it needs not
 * touch. Integers are their decimal digits; timestamps and decimals are read as the format
 * wants them (see ReadAs in read.ts): shown as text, or as integers for Parquet.
 */
export type ExportRow = (string | null)[];

type Kind = 'int64' | 'int32' | 'string' | 'timestamp' | 'decimal3' | 'decimal6';

interface Column {
  name: string;
  kind: Kind;
  nullable?: boolean;
  description: string;
}

export const EXPORT_COLUMNS: readonly Column[] = [
  {
    name: 'record_id',
    kind: 'int64',
    description: 'the usage record’s id (ascending within a period)',
  },
  {
    name: 'kind',
    kind: 'string',
    description:
      '`usage`, or `adjustment`: late usage of the closed period `adjusts_period`, booked in this one',
  },
  { name: 'tenant_id', kind: 'string', description: 'the tenant (UUID)' },
  { name: 'tenant_slug', kind: 'string', description: 'the tenant’s slug' },
  {
    name: 'period',
    kind: 'string',
    description: 'the billing period the record is booked in (YYYY-MM of its time zone)',
  },
  { name: 'period_start', kind: 'timestamp', description: 'start of the billing period (UTC)' },
  {
    name: 'period_end',
    kind: 'timestamp',
    description: 'end of the billing period, exclusive (UTC)',
  },
  {
    name: 'adjusts_period',
    kind: 'string',
    nullable: true,
    description: 'for an adjustment: the closed period the usage belongs to; else empty',
  },
  { name: 'session_id', kind: 'string', description: 'the session (UUID)' },
  { name: 'user_id', kind: 'string', description: 'the user who ran it (UUID)' },
  { name: 'user_email', kind: 'string', description: 'the user’s email when the record was made' },
  { name: 'app_id', kind: 'string', description: 'the app (UUID)' },
  { name: 'app_slug', kind: 'string', description: 'the app’s slug' },
  {
    name: 'cluster_id',
    kind: 'string',
    nullable: true,
    description: 'the cluster it ran on (UUID)',
  },
  { name: 'cluster_name', kind: 'string', nullable: true, description: 'the cluster’s name' },
  { name: 'region', kind: 'string', nullable: true, description: 'the cluster’s region' },
  {
    name: 'gpu_sku',
    kind: 'string',
    nullable: true,
    description: 'the GPU model; empty without GPUs',
  },
  { name: 'gpu_count', kind: 'int32', description: 'GPUs the session held' },
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
    description: 'ISO 4217 code of the rate card; XXX when no rate card applied',
  },
  {
    name: 'amount',
    kind: 'decimal6',
    description: 'the price of this record on the period’s rate card (decimal, 6 places)',
  },
];

export const COLUMN_NAMES = EXPORT_COLUMNS.map((c) => c.name);

const TIMESTAMP = {
  type: 'INT64',
  converted_type: 'TIMESTAMP_MILLIS',
  logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' },
} as const;
const decimal = (scale: number) =>
  ({
    type: 'INT64',
    converted_type: 'DECIMAL',
    logical_type: { type: 'DECIMAL', precision: 18, scale },
    precision: 18,
    scale,
  }) as const;

const PARQUET_TYPES: Record<Kind, Omit<SchemaElement, 'name'>> = {
  int64: { type: 'INT64' },
  int32: { type: 'INT32' },
  string: { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } },
  timestamp: TIMESTAMP,
  decimal3: decimal(3),
  decimal6: decimal(6),
};

export const PARQUET_SCHEMA: SchemaElement[] = [
  { name: 'root', num_children: EXPORT_COLUMNS.length },
  ...EXPORT_COLUMNS.map(
    (c): SchemaElement => ({
      name: c.name,
      repetition_type: c.nullable ? 'OPTIONAL' : 'REQUIRED',
      ...PARQUET_TYPES[c.kind],
    }),
  ),
];

const ZOD_TYPES: Record<Kind, z.ZodType> = {
  int64: z.number().int(),
  int32: z.number().int(),
  string: z.string(),
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
