import { z } from 'zod';
import { createEvent, pageSettings, responseDelay } from '@parley/contracts';
import type { EventOf, PageSettings } from '@parley/contracts';
import { effectiveSettings } from '../pages/page-state.ts';
import type { PageState } from '../pages/page-state.ts';

/** Limits of a settings document (the contract's: 2,000 characters per message, 100 keywords of 100 characters). */
export const SETTINGS_LIMITS = { messageChars: 2_000, keywords: 100, keywordChars: 100, assistantIdChars: 200 } as const;

/**
 * The body of `PUT /v1/pages/{pageId}/settings`: the whole document (a replace). Unknown fields are
 * rejected so that a typo ("autoreply") is an error rather than silently ignored. `greetingMessage`
 * and `awayMessage` may be left out or null (none); blank ones count as none.
 */
export const settingsInput = z
  .object({
    autoReply: z.boolean(),
    assistantId: z.string().trim().min(1).max(SETTINGS_LIMITS.assistantIdChars).nullable(),
    responseDelay,
    greetingMessage: z.string().max(SETTINGS_LIMITS.messageChars).nullable().optional(),
    awayMessage: z.string().max(SETTINGS_LIMITS.messageChars).nullable().optional(),
    escalationKeywords: z
      .array(z.string().trim().min(1, 'a keyword must not be blank').max(SETTINGS_LIMITS.keywordChars))
      .max(SETTINGS_LIMITS.keywords),
  })
  .strict();

export type SettingsProblem = { path: string; message: string };

export type ParsedSettings = { ok: true; settings: PageSettings } | { ok: false; problems: SettingsProblem[] };

/** Validates and normalizes a settings body: messages trimmed (blank → none), keywords trimmed and de-duplicated ignoring case. */
export function parseSettings(body: unknown): ParsedSettings {
  const result = settingsInput.safeParse(body);
  if (!result.success) {
    return { ok: false, problems: result.error.issues.map((issue) => ({ path: issue.path.join('.') || '(body)', message: issue.message })) };
  }
  const input = result.data;
  const seen = new Set<string>();
  const escalationKeywords: string[] = [];
  for (const keyword of input.escalationKeywords) {
    const collapsed = keyword.replace(/\s+/g, ' ');
    const key = collapsed.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    escalationKeywords.push(collapsed);
  }
  const settings = pageSettings.parse({
    autoReply: input.autoReply,
    assistantId: input.assistantId,
    responseDelay: input.responseDelay,
    greetingMessage: blankToNull(input.greetingMessage),
    awayMessage: blankToNull(input.awayMessage),
    escalationKeywords,
  });
  return { ok: true, settings };
}

function blankToNull(value: string | null | undefined): string | null {
  const trimmed = value?.trim();
  return trimmed ? trimmed : null;
}

/**
 * A settings change: `page.settings.changed` with the full new settings, or nothing when they are
 * the same as the current ones (a repeated PUT changes nothing and emits nothing).
 */
export function decideSettingsChange(
  page: PageState & { accountId: string },
  settings: PageSettings,
  now: Date,
  eventId: string,
  correlationId: string | null,
): Array<EventOf<'page.settings.changed'>> {
  if (sameSettings(effectiveSettings(page), settings)) return [];
  // Changes are ordered by time (see evolvePage): two changes in the same millisecond must still differ.
  const previous = page.settingsChangedAt === null ? -Infinity : Date.parse(page.settingsChangedAt);
  const at = new Date(Math.max(now.getTime(), previous + 1));
  return [
    createEvent('page.settings.changed', {
      id: eventId,
      pageId: page.pageId,
      accountId: page.accountId,
      occurredAt: at,
      recordedAt: at,
      correlationId,
      data: { settings },
    }),
  ];
}

function sameSettings(a: PageSettings, b: PageSettings): boolean {
  return (
    a.autoReply === b.autoReply &&
    a.assistantId === b.assistantId &&
    a.responseDelay === b.responseDelay &&
    a.greetingMessage === b.greetingMessage &&
    a.awayMessage === b.awayMessage &&
    a.escalationKeywords.length === b.escalationKeywords.length &&
    a.escalationKeywords.every((k, i) => k === b.escalationKeywords[i])
  );
}
