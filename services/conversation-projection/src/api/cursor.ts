import { HttpProblem } from '@parley/http';

/** Opaque keyset cursors: the last row's sort key, base64url JSON. Clients must not build them. */
export function encodeCursor(position: ReadonlyArray<string | number>): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

export function decodeCursor(cursor: string, shape: ReadonlyArray<'string' | 'number'>): Array<string | number> {
  const invalid = () => new HttpProblem({ status: 400, code: 'invalid_cursor', title: 'Invalid cursor', detail: 'Pass back the nextCursor of a previous page, unchanged.' });
  if (cursor.length > 1_000 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(value) || value.length !== shape.length || !value.every((v, i) => typeof v === shape[i])) throw invalid();
  return value as Array<string | number>;
}
