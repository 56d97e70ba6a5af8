import { createRoute, OpenAPIHono, type RouteConfig, z } from '@hono/zod-openapi';
import type { AppEnv } from './auth.ts';
import { errorResponses } from './errors.ts';

/** A documented route: bearer auth and the common error responses are added to every one. */
export function apiRoute<R extends RouteConfig>(config: R) {
  return createRoute({
    security: [{ bearer: [] }],
    ...config,
    responses: { ...errorResponses, ...config.responses },
  }) as R & { responses: R['responses'] & typeof errorResponses };
}

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

export const body = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { 'application/json': { schema } },
});

const printable = (s: string) => [...s].every((ch) => ch >= ' ' && ch !== '\x7f');

export const params = <K extends string>(...names: K[]) =>
  z.object(
    Object.fromEntries(
      names.map((n) => [n, z.string().min(1).max(320).refine(printable, 'no control characters')]),
    ) as Record<K, z.ZodString>,
  );

export const router = () => new OpenAPIHono<AppEnv>();
