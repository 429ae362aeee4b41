// The durable health schedule: `pages.next_check_at` and `user_grants.next_refresh_at` say what is
// due; every HEALTH_POLL_INTERVAL_MS the scheduler claims due rows (`for update skip locked`, so
// replicas share the work) and runs them. Nothing lives only in memory: a restart picks up where
// the table says. `wake()` runs a round at once (a token rejection asked for a check).
import type { GraphApiClient } from '@parley/graph-api';
import type { Logger } from '@parley/observability';
import type { Database } from '@parley/persistence';
import { deleteExpired } from '../connect/connect-store.ts';
import { claimDueChecks } from '../connection/connection-store.ts';
import type { Connections } from '../connection/connections.ts';
import type { TokenVault } from '../tokens/vault.ts';
import { gatherFacts } from './facts.ts';
import { claimDueRefreshes, refreshGrant } from './refresh.ts';

export type HealthScheduler = {
  /** Runs a round now (and another right after the current one, if one is running). */
  wake(): void;
  /** Runs one round and resolves when it is done (tests, tools). */
  runOnce(): Promise<void>;
  stop(): Promise<void>;
};

export type HealthSchedulerDeps = {
  db: Database;
  graph: GraphApiClient;
  vault: TokenVault;
  connections: Connections;
  logger: Logger;
  now: () => number;
  appId: string;
  pollIntervalMs: number;
  checkRetryMs: number;
  refreshBeforeMs: number;
  /** A claimed check that did not finish (process died) runs again after this. */
  leaseMs?: number;
  batchSize?: number;
};

const HOUSEKEEPING_GRACE_MS = 60 * 60 * 1000;

export function startHealthScheduler(deps: HealthSchedulerDeps): HealthScheduler {
  const log = deps.logger.child({ component: 'health' });
  const leaseMs = deps.leaseMs ?? 10 * 60 * 1000;
  const batchSize = deps.batchSize ?? 20;
  let stopped = false;
  let current: Promise<void> | null = null;
  let again = false;
  let timer: NodeJS.Timeout | undefined;

  async function checkPages(): Promise<number> {
    const due = await claimDueChecks(deps.db, deps.now(), leaseMs, batchSize);
    for (const page of due) {
      if (stopped) break;
      try {
        const facts = await gatherFacts(deps.graph, deps.appId, page.pageId, deps.vault.open(page.sealedToken), page.subscribedFields);
        await deps.connections.recordCheck({
          pageId: page.pageId,
          checkedToken: page.sealedToken,
          facts: { token: facts.token, subscription: facts.subscription, loginExpired: page.loginExpired },
          causationId: page.causationId,
          correlationId: page.correlationId,
        });
        log.debug({ pageId: page.pageId, token: facts.token.kind, subscription: facts.subscription.kind }, 'page checked');
      } catch (error) {
        // The lease brings it back later; one Page's failure must not stop the others' checks.
        log.error({ err: error, pageId: page.pageId }, 'page check failed');
      }
    }
    return due.length;
  }

  async function refreshLogins(): Promise<number> {
    const due = await claimDueRefreshes(deps.db, deps.now(), leaseMs, batchSize);
    for (const grant of due) {
      if (stopped) break;
      try {
        await refreshGrant({ db: deps.db, graph: deps.graph, vault: deps.vault, logger: deps.logger, now: deps.now, refreshBeforeMs: deps.refreshBeforeMs, retryMs: deps.checkRetryMs }, grant);
      } catch (error) {
        log.error({ err: error, grantId: grant.grantId }, 'login renewal failed');
      }
    }
    return due.length;
  }

  async function round(): Promise<void> {
    try {
      // Keep going while full batches come back: a backlog drains without waiting for the next tick.
      while (!stopped && (await checkPages()) === batchSize) {
        /* more due */
      }
      while (!stopped && (await refreshLogins()) === batchSize) {
        /* more due */
      }
      if (!stopped) await deleteExpired(deps.db, deps.now(), HOUSEKEEPING_GRACE_MS);
    } catch (error) {
      log.warn({ err: error }, 'health round failed; retrying at the next tick');
    }
  }

  function run(): Promise<void> {
    if (current) {
      again = true;
      return current;
    }
    current = (async () => {
      do {
        again = false;
        await round();
      } while (again && !stopped);
    })().finally(() => {
      current = null;
    });
    return current;
  }

  const tick = () => {
    if (stopped) return;
    void run().finally(() => {
      if (!stopped) timer = setTimeout(tick, deps.pollIntervalMs);
    });
  };
  timer = setTimeout(tick, deps.pollIntervalMs);

  return {
    wake: () => {
      if (!stopped) void run();
    },
    async runOnce() {
      await run();
      if (again) await run();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current;
    },
  };
}
