import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { HttpProblem } from '@parley/http';

/**
 * `Authorization: Bearer <api key>` → the key's account (API_KEYS holds `accountId:key` pairs).
 * Keys are compared in constant time, all of them, so the answer's timing says nothing about a key.
 */
export function requireAccount(apiKeys: ReadonlyMap<string, string>): RequestHandler {
  const keys = [...apiKeys].map(([key, accountId]) => ({ digest: digest(key), accountId }));
  return (req, res, next) => {
    const header = req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    let accountId: string | undefined;
    if (match) {
      const given = digest(match[1]!);
      for (const key of keys) if (timingSafeEqual(given, key.digest)) accountId ??= key.accountId;
    }
    if (!accountId) {
      res.setHeader('www-authenticate', 'Bearer realm="parley"');
      throw new HttpProblem({
        status: 401,
        code: 'unauthorized',
        title: 'Unauthorized',
        detail: match ? 'The API key is not valid.' : 'Send your API key as "Authorization: Bearer <key>".',
      });
    }
    res.locals['accountId'] = accountId;
    next();
  };
}

/** Only operators' accounts (ADMIN_ACCOUNT_IDS) may use the admin routes. */
export function requireAdmin(adminAccountIds: ReadonlyArray<string>): RequestHandler {
  const admins = new Set(adminAccountIds);
  return (_req, res, next) => {
    if (!admins.has(accountOf(res))) {
      throw new HttpProblem({ status: 403, code: 'forbidden', title: 'Forbidden', detail: 'This API key\'s account may not run admin operations.' });
    }
    next();
  };
}

export function accountOf(res: Response): string {
  return res.locals['accountId'] as string;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
