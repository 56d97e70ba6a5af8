import { createRoute, OpenAPIHono, type RouteConfig, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './auth.ts';
import { ApiError, bodyErrorResponses, errorResponses } from './errors.ts';

/**
 * A documented route: bearer auth and the common error responses are added to every one; a
 * route with a request body also documents 413 and 415, and refuses a request without one.
 */
export function apiRoute<R extends RouteConfig>(config: R) {
  const hasBody = config.request?.body !== undefined;
  const middleware = config.middleware === undefined ? [] : [config.middleware].flat();
  return createRoute({
    security: [{ bearer: [] }],
    ...config,
    ...(hasBody && { middleware: [requireBody, ...middleware] }),
    responses: { ...errorResponses, ...(hasBody && bodyErrorResponses), ...config.responses },
  }) as R & { responses: R['responses'] & typeof errorResponses };
}

/**
 * Without a Content-Type, the validator would read a missing body as `{}`, so that a PATCH
 * with no body changed nothing and answered 200: a route that takes a body requires one.
 */
const requireBody: MiddlewareHandler = async (c, next) => {
  if (!c.req.header('content-type')) {
    throw new ApiError(
      400,
      'invalid_request',
      'a JSON request body is required (Content-Type: application/json)',
    );
  }
  await next();
};

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

export const body = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { 'application/json': { schema } },
});

// a pattern rather than a refinement, so that /openapi.json says it too
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse them
const PRINTABLE = /^[^\x00-\x1f\x7f]*$/;

export const params = <K extends string>(...names: K[]) =>
  z.object(
    Object.fromEntries(
      names.map((n) => [n, z.string().min(1).max(320).regex(PRINTABLE, 'no control characters')]),
    ) as Record<K, z.ZodString>,
  );

export const router = () => new OpenAPIHono<AppEnv>();

/** A documented Retry-After header (seconds), sent with every response of that status. */
export const retryAfter = (description: string) => ({
  'Retry-After': { description, required: true, schema: { type: 'integer' as const, minimum: 1 } },
});
