import { z } from '@hono/zod-openapi';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'not_found' }),
      message: z.string(),
      quota: z.string().optional().openapi({
        description: 'the quota that refused a launch (429), e.g. tenant.maxGpusPerSku',
        example: 'tenant.maxGpusPerSku',
      }),
      sku: z.string().optional().openapi({ description: 'the GPU SKU, for a per-SKU quota' }),
      limit: z.number().optional().openapi({ description: 'the quota’s limit' }),
      used: z.number().optional().openapi({
        description: 'what is held now (GPU-hours: used this month) without the refused launch',
      }),
      details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
  })
  .openapi('Error');

export type ErrorBody = z.infer<typeof ErrorSchema>;

/** An error a client caused or may act on; rendered as `{error: {code, message}}`. */
export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: string;
  readonly extra: Omit<ErrorBody['error'], 'code' | 'message'>;
  readonly headers: Record<string, string>;
  constructor(
    status: ContentfulStatusCode,
    code: string,
    message: string,
    extra: Omit<ErrorBody['error'], 'code' | 'message'> = {},
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.extra = extra;
    this.headers = headers;
  }
  body(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...this.extra } };
  }
}

export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);
export const badRequest = (message: string) => new ApiError(400, 'invalid_request', message);
export const conflict = (message: string) => new ApiError(409, 'conflict', message);
export const forbidden = (message = 'your role does not allow this') =>
  new ApiError(403, 'forbidden', message);

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: ErrorSchema } },
});

/** Responses every route that takes a request body documents besides its own. */
export const bodyErrorResponses = {
  413: errorResponse('the request body is larger than 64 KiB'),
  415: errorResponse('the request body is not application/json'),
};

/** Responses every route documents besides its own. */
export const errorResponses = Object.fromEntries(
  [
    [400, 'invalid request'],
    [401, 'missing, wrong or expired API key'],
    [403, 'role does not allow this'],
    [404, 'not found (or another tenant’s)'],
  ].map(([status, description]) => [
    status,
    { description, content: { 'application/json': { schema: ErrorSchema } } },
  ]),
) as Record<
  400 | 401 | 403 | 404,
  { description: string; content: { 'application/json': { schema: typeof ErrorSchema } } }
>;
