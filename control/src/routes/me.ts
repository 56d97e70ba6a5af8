import { notFound } from '../http/errors.ts';
import { apiRoute, json, router } from '../http/route.ts';
import { Me } from '../http/schemas.ts';
import type { Lookups } from '../lookups.ts';

export function meRoutes(lookups: Lookups) {
  const app = router();

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/me',
      tags: ['me'],
      summary: 'Who the caller is: role, tenant and user (any caller)',
      responses: { 200: json(Me, 'the caller') },
    }),
    async (c) => {
      const { role, tenantId, userId } = c.get('principal');
      const tenant = tenantId ? await lookups.tenant(tenantId) : undefined;
      if (tenantId && !tenant) throw notFound('tenant');
      const user = tenant && userId ? await lookups.user(tenant.id, userId) : undefined;
      return c.json(
        {
          role,
          tenant: tenant ? { id: tenant.id, slug: tenant.slug, name: tenant.name } : null,
          user: user
            ? { id: user.id, email: user.email, ...(user.name !== null && { name: user.name }) }
            : null,
        },
        200,
      );
    },
  );

  return app;
}
