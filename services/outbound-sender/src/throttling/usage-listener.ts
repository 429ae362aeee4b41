// Meta's usage headers come back on every Graph answer; the Graph client reports them without
// knowing which Page the call was for. The dispatcher makes each call inside `pageContext.run(pageId)`,
// so the listener can slow down that Page (and only that one).
import type { AsyncLocalStorage } from 'node:async_hooks';
import type { GraphUsage } from '@parley/graph-api';
import type { Clock } from '../clock.ts';
import type { PageRateLimiter } from './page-rate-limiter.ts';

export function pageUsageListener(limiter: PageRateLimiter, pageContext: AsyncLocalStorage<string>, clock: Clock): (usage: GraphUsage) => void {
  return (usage) => {
    const pageId = pageContext.getStore();
    if (pageId !== undefined) limiter.noteUsage(pageId, usage, clock.now());
  };
}
