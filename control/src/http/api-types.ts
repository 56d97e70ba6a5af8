// The response bodies that other packages read (the gateway, web/), as TypeScript types
// inferred from the zod schemas that serve and document them (schemas.ts): one definition.
// Import them with `import type` (`@floe/control/api-types`): erased, nothing of the control
// plane is loaded at run time.
import type { z } from '@hono/zod-openapi';
import type * as schemas from './schemas.ts';

export type SessionEvent = z.infer<typeof schemas.SessionEvent>;
export type Session = z.infer<typeof schemas.Session>;
/** A session as /v1/gateway/sessions/{id} answers it to a gateway. */
export type GatewaySession = z.infer<typeof schemas.GatewaySession>;
/** An app as the API shows it. */
export type App = z.infer<typeof schemas.App>;
/** A session's grant, as its owner lists and creates them. */
export type SessionGrant = z.infer<typeof schemas.SessionGrant>;
/** A live grant, as a gateway sees it beside the session. */
export type LiveGrant = z.infer<typeof schemas.LiveGrant>;
