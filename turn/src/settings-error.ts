// One line per problem, `path: message`, so a bad setting names itself.
import type { z } from 'zod';

export function settingsError(what: string, error: z.ZodError): Error {
  const lines = error.issues.map((issue) => {
    const path = issue.path
      .map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i > 0 ? '.' : ''}${String(key)}`))
      .join('');
    return `  ${path || '(settings)'}: ${issue.message}`;
  });
  return new Error(`invalid ${what}:\n${lines.join('\n')}`);
}
