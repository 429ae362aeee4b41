import type { z } from 'zod';
import type { EnvelopeFields } from './envelope.ts';
import { definitionOf, isKnownEventType, parleyEventSchema } from './events.ts';
import type { DataOf, EventOf, EventType, ParleyEvent } from './events.ts';
import type { TopicName } from './topics.ts';

export type NewEvent<T extends EventType> = Partial<Omit<EnvelopeFields, 'id' | 'pageId' | 'occurredAt' | 'recordedAt'>> & {
  id: string;
  pageId: string;
  occurredAt: Date | string;
  recordedAt: Date | string;
  data: DataOf<T>;
};

/**
 * Builds a validated event. Time and ids are passed in (never read from globals) so that the
 * code producing events stays deterministic and testable.
 */
export function createEvent<T extends EventType>(type: T, fields: NewEvent<T>): EventOf<T> {
  const candidate = {
    id: fields.id,
    type,
    version: 1 as const,
    occurredAt: toIso(fields.occurredAt),
    recordedAt: toIso(fields.recordedAt),
    accountId: fields.accountId ?? null,
    pageId: fields.pageId,
    conversationId: fields.conversationId ?? null,
    causationId: fields.causationId ?? null,
    correlationId: fields.correlationId ?? null,
    data: fields.data,
  };
  return definitionOf(type).schema.parse(candidate) as EventOf<T>;
}

function toIso(value: Date | string): string {
  return typeof value === 'string' ? value : value.toISOString();
}

export type DecodeResult =
  | { ok: true; event: ParleyEvent }
  | { ok: false; reason: 'not_json' | 'unknown_type' | 'invalid'; message: string; issues?: z.core.$ZodIssue[] };

/**
 * Upcasters turn an older published shape into the current one, keyed by `type@version`. A
 * published event is never edited in place; a breaking change is a new version plus an upcaster.
 */
const upcasters = new Map<string, (old: Record<string, unknown>) => Record<string, unknown>>();

/** Validates an unknown value as a Parley event (after upcasting older versions). */
export function parseEvent(value: unknown): DecodeResult {
  if (typeof value !== 'object' || value === null) {
    return { ok: false, reason: 'invalid', message: 'An event must be a JSON object' };
  }
  let record = value as Record<string, unknown>;
  const type = record['type'];
  if (typeof type !== 'string' || !isKnownEventType(type)) {
    return { ok: false, reason: 'unknown_type', message: `Unknown event type ${JSON.stringify(type)}` };
  }
  const upcast = upcasters.get(`${type}@${String(record['version'])}`);
  if (upcast) record = upcast(record);
  const result = parleyEventSchema.safeParse(record);
  if (!result.success) {
    return {
      ok: false,
      reason: 'invalid',
      message: `Invalid ${type}: ${result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
      issues: result.error.issues,
    };
  }
  return { ok: true, event: result.data };
}

/**
 * Serializes an event for the wire: JSON text, which the Kafka client writes as UTF-8. A string
 * rather than bytes, so that it crosses to a publishing thread without copying a buffer pool.
 */
export function encodeEvent(event: ParleyEvent): string {
  return JSON.stringify(event);
}

/** Parses and validates an event read from the wire. */
export function decodeEvent(bytes: Buffer | string | null): DecodeResult {
  if (bytes === null) return { ok: false, reason: 'invalid', message: 'Empty record value (tombstone)' };
  let value: unknown;
  try {
    value = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (error) {
    return { ok: false, reason: 'not_json', message: `Not JSON: ${(error as Error).message}` };
  }
  return parseEvent(value);
}

/** The topic an event is published to. */
export function topicOf(event: ParleyEvent): TopicName {
  return definitionOf(event.type).topic;
}

/**
 * The partition key: the conversation on conversation topics (so a conversation is ordered end
 * to end), the Page on Page topics and for events that belong to no conversation.
 */
export function keyOf(event: ParleyEvent): string {
  return event.conversationId ?? event.pageId;
}
