import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  EVENT_DEFINITIONS,
  EVENT_TOPICS,
  buildCatalogue,
  createEvent,
  decodeEvent,
  deterministicId,
  encodeEvent,
  keyOf,
  messengerConversationId,
  topicOf,
} from './index.ts';

const now = '2026-11-26T04:00:00.000Z';

function readReceived() {
  return createEvent('messenger.read.received', {
    id: deterministicId('read', 'page-1', 'psid-1', 1700000000000),
    pageId: 'page-1',
    conversationId: messengerConversationId('page-1', 'psid-1'),
    occurredAt: now,
    recordedAt: now,
    data: { channel: 'messenger', customer: { psid: 'psid-1' }, timestamp: 1, standby: false, throttled: false, raw: { read: { watermark: 1 } }, watermark: 1 },
  });
}

describe('event contracts', () => {
  it('given a valid event, when encoded and decoded, then it is the same event', () => {
    const event = readReceived();
    const decoded = decodeEvent(encodeEvent(event));
    expect(decoded).toEqual({ ok: true, event });
  });

  it('routes conversation events by conversation and page events by page', () => {
    const event = readReceived();
    expect(topicOf(event)).toBe('messenger.inbound.v1');
    expect(keyOf(event)).toBe('page-1:psid-1');
    const connected = createEvent('page.connected', {
      id: 'e1', pageId: 'page-1', occurredAt: now, recordedAt: now,
      data: { name: 'Acme', subscribedFields: ['messages'], reconnect: false },
    });
    expect(topicOf(connected)).toBe('page.events.v1');
    expect(keyOf(connected)).toBe('page-1');
  });

  it('refuses to create an event whose data breaks the schema', () => {
    expect(() =>
      createEvent('messenger.read.received', {
        id: 'x', pageId: 'p', occurredAt: now, recordedAt: now,
        // @ts-expect-error — a watermark must be a number
        data: { watermark: 'yesterday' },
      }),
    ).toThrow(/watermark/);
  });

  it('names what is wrong with bytes that are not an event', () => {
    expect(decodeEvent(Buffer.from('{nope'))).toMatchObject({ ok: false, reason: 'not_json' });
    expect(decodeEvent(Buffer.from('{"type":"something.else"}'))).toMatchObject({ ok: false, reason: 'unknown_type' });
    expect(decodeEvent(Buffer.from('{"type":"messenger.read.received"}'))).toMatchObject({ ok: false, reason: 'invalid' });
    expect(decodeEvent(null)).toMatchObject({ ok: false, reason: 'invalid' });
  });

  it('derives the same UUID-shaped id from the same parts, and different ids from different parts', () => {
    const a = deterministicId('mid', 'm_1');
    expect(a).toBe(deterministicId('mid', 'm_1'));
    expect(a).not.toBe(deterministicId('mid', 'm_2'));
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // Parts are separated, so ("ab","c") and ("a","bc") differ.
    expect(deterministicId('ab', 'c')).not.toBe(deterministicId('a', 'bc'));
  });

  it('provisions every event topic with a dead-letter topic, all kept forever', () => {
    const names = EVENT_TOPICS.map((t) => t.name);
    for (const definition of EVENT_DEFINITIONS) {
      expect(names).toContain(definition.topic);
      expect(names).toContain(`${definition.topic}.dlq`);
    }
    for (const topic of EVENT_TOPICS) expect(topic.config['retention.ms']).toBe('-1');
  });

  it('keeps the committed AsyncAPI document and JSON Schemas in step with the definitions (npm run contracts:generate)', () => {
    const docs = join(__dirname, '..', '..', '..', 'docs', 'events');
    for (const file of buildCatalogue()) {
      let committed: string;
      try {
        committed = readFileSync(join(docs, file.path), 'utf8');
      } catch {
        throw new Error(`docs/events/${file.path} is missing: run npm run contracts:generate`);
      }
      expect({ path: file.path, content: committed }).toEqual({ path: file.path, content: file.content });
    }
  });
});
