import { createEvent, deterministicId, messengerConversationId } from '@parley/contracts';
import type { ParleyEvent } from '@parley/contracts';
import { GraphApiError } from '@parley/graph-api';
import type { GraphApiClient } from '@parley/graph-api';
import type { Logger } from '@parley/observability';
import type { Database } from '@parley/persistence';
import { decideProfile } from './decide.ts';
import type { ProfileAnswer } from './decide.ts';
import type { PageTokens } from './page-tokens.ts';

// Asks Meta for the profile of customers the inbox has just met, and records the answer as
// `messenger.customer.profile.updated` on messenger.inbound.v1: the projection takes the name from
// the log like everything else, so a rebuild keeps names without asking Meta again.
//
// Work comes from the serving inbox's `customers` rows (status `needed`): each is claimed with a
// lease (`fetching`, SKIP LOCKED, so several replicas share the work), answered, and either
// published (`published`, until the projection records the event) or put back with a later
// `next_attempt_at`. A crash mid-way only lets the lease expire: the customer is asked again.

export type ProfileEnricher = {
  /** Claims and answers up to `limit` customers; resolves with how many were handled. */
  runOnce(limit?: number): Promise<number>;
  /** Asks soon (new customers were just seen). */
  poke(): void;
  stop(): Promise<void>;
};

export type ProfileEnricherOptions = {
  inbox: () => { db: Database };
  graph: Pick<GraphApiClient, 'getUserProfile'>;
  tokens: PageTokens;
  publish: (events: ParleyEvent[]) => Promise<void>;
  logger: Logger;
  clock?: () => number;
  /** Poll interval when idle. */
  pollMs?: number;
  /** Start the background loop (tests call runOnce themselves). */
  autoStart?: boolean;
  leaseMs?: number;
};

type Claimed = { page_id: string; psid: string; attempts: number; account_id: string | null };

export function createProfileEnricher(options: ProfileEnricherOptions): ProfileEnricher {
  const clock = options.clock ?? Date.now;
  const log = options.logger.child({ component: 'profile-enricher' });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let stopped = false;

  async function answerFor(customer: Claimed): Promise<{ answer: ProfileAnswer; accountId: string | null }> {
    let accountId = customer.account_id;
    try {
      const token = await options.tokens.get(customer.page_id);
      if (token.kind === 'unavailable') return { answer: { kind: 'not_yet', reason: token.reason }, accountId };
      accountId ??= token.accountId;
      const profile = await options.graph.getUserProfile(token.token, customer.psid);
      return { answer: { kind: 'profile', firstName: profile.firstName, lastName: profile.lastName, name: profile.name }, accountId };
    } catch (error) {
      if (error instanceof GraphApiError) {
        if (error.code === 2018218 || error.subcode === 2018218) return { answer: { kind: 'no_profile' }, accountId };
        if (error.code === 190) options.tokens.invalidate(customer.page_id);
        return { answer: { kind: 'not_yet', reason: `${error.category}: ${error.reason}` }, accountId };
      }
      return { answer: { kind: 'not_yet', reason: (error as Error).message ?? String(error) }, accountId };
    }
  }

  async function runOnce(limit = 20): Promise<number> {
    const { db } = options.inbox();
    const now = clock();
    const claimed = await db.query<Claimed>(
      `update customers c set profile_status = 'fetching', next_attempt_at = ?, updated_at = now()
       from (select page_id, psid from customers
             where profile_status in ('needed', 'fetching') and next_attempt_at <= ?
             order by next_attempt_at limit ? for update skip locked) x
       where c.page_id = x.page_id and c.psid = x.psid
       returning c.page_id, c.psid, c.attempts, (select p.account_id from pages p where p.page_id = c.page_id) as account_id`,
      [new Date(now + (options.leaseMs ?? 5 * 60_000)), new Date(now), limit],
    );
    for (const customer of claimed) {
      const { answer, accountId } = await answerFor(customer);
      const outcome = decideProfile(customer.psid, answer, customer.attempts, clock());
      if (outcome.kind === 'retry') {
        log.info({ pageId: customer.page_id, psid: customer.psid, reason: outcome.reason, retryAt: new Date(outcome.at).toISOString() }, 'customer profile not available yet; will ask again');
        await db.query(
          `update customers set profile_status = 'needed', attempts = attempts + 1, next_attempt_at = ?, last_error = ?, updated_at = now()
           where page_id = ? and psid = ? and profile_status = 'fetching'`,
          [new Date(outcome.at), outcome.reason.slice(0, 1_000), customer.page_id, customer.psid],
        );
        continue;
      }
      const at = new Date(clock());
      const event = createEvent('messenger.customer.profile.updated', {
        id: deterministicId('customer-profile', customer.page_id, customer.psid, at.toISOString()),
        pageId: customer.page_id,
        accountId,
        conversationId: messengerConversationId(customer.page_id, customer.psid),
        occurredAt: at,
        recordedAt: at,
        data: {
          customer: { psid: customer.psid, name: outcome.available ? outcome.displayName : null },
          channel: 'messenger',
          available: outcome.available,
          firstName: outcome.firstName,
          lastName: outcome.lastName,
          displayName: outcome.displayName,
          // Meta's picture link expires within days: not worth keeping in the log.
          profilePicUrl: null,
          reason: outcome.reason,
        },
      });
      try {
        await options.publish([event]);
      } catch (error) {
        log.warn({ err: error, pageId: customer.page_id }, 'could not publish a customer profile; the lease expires and it is asked again');
        continue;
      }
      // Unless the projection already recorded the event (then the status is available/unavailable).
      await db.query(
        `update customers set profile_status = 'published', attempts = attempts + 1, updated_at = now()
         where page_id = ? and psid = ? and profile_status = 'fetching'`,
        [customer.page_id, customer.psid],
      );
    }
    return claimed.length;
  }

  const loop = () => {
    if (stopped) return;
    running = runOnce()
      .catch((error: unknown) => {
        log.warn({ err: error }, 'profile enrichment round failed');
        return 0;
      })
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(loop, options.pollMs ?? 2_000);
      });
  };
  if (options.autoStart ?? true) timer = setTimeout(loop, 0);

  return {
    runOnce,
    poke() {
      if (stopped || running || !(options.autoStart ?? true)) return;
      clearTimeout(timer);
      timer = setTimeout(loop, 0);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
