import { z } from 'zod';
import { EVENT_DEFINITIONS } from './events.ts';
import { EVENT_TOPICS } from './topics.ts';

export type CatalogueFile = { readonly path: string; readonly content: string };

/** JSON Schema (draft 2020-12) of one event, generated from its definition. */
export function jsonSchemaOf(definition: (typeof EVENT_DEFINITIONS)[number]): Record<string, unknown> {
  return {
    $id: `https://parley.dev/schemas/events/${definition.type}.v1.json`,
    ...z.toJSONSchema(definition.schema, { target: 'draft-2020-12', unrepresentable: 'any' }),
  };
}

/**
 * The machine-readable catalogue for downstream consumers: an AsyncAPI 3.0 document describing
 * every topic and event, and one JSON Schema per event. Paths are relative to `docs/events/`.
 */
export function buildCatalogue(): CatalogueFile[] {
  const messages: Record<string, unknown> = {};
  for (const definition of EVENT_DEFINITIONS) {
    messages[definition.type] = {
      name: definition.type,
      title: definition.type,
      summary: definition.description,
      contentType: 'application/json',
      headers: {
        type: 'object',
        description: 'W3C trace context (traceparent, tracestate) travels in Kafka headers.',
        properties: { traceparent: { type: 'string' }, tracestate: { type: 'string' } },
      },
      payload: { $ref: `./schemas/${definition.type}.v1.json` },
    };
  }
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  for (const topic of EVENT_TOPICS) {
    const channelMessages = Object.fromEntries(
      EVENT_DEFINITIONS.filter((d) => d.topic === topic.name).map((d) => [d.type, { $ref: `#/components/messages/${d.type}` }]),
    );
    channels[topic.name] = {
      address: topic.name,
      description: `${topic.description} Key: ${topic.keyedBy === 'conversation' ? '`{pageId}:{psid}` (the conversation), or the Page id for events of no conversation' : '`{pageId}`'}. Partitions: ${topic.partitions}.`,
      messages: channelMessages,
    };
    if (Object.keys(channelMessages).length > 0) {
      operations[`consume ${topic.name}`] = {
        action: 'receive',
        channel: { $ref: `#/channels/${topic.name}` },
      };
    }
  }
  const asyncapi = {
    asyncapi: '3.0.0',
    info: {
      title: 'Parley events',
      version: '1.0.0',
      description:
        'Every event Parley publishes on Kafka. One envelope for all: id, type, version, occurredAt, recordedAt, accountId, pageId, conversationId, causationId, correlationId, data. Consumers are at-least-once: deduplicate by `id`. Generated from libs/contracts; do not edit by hand.',
    },
    defaultContentType: 'application/json',
    channels,
    operations,
    components: { messages },
  };
  const files: CatalogueFile[] = [{ path: 'asyncapi.json', content: stableJson(asyncapi) }];
  for (const definition of EVENT_DEFINITIONS) {
    files.push({ path: `schemas/${definition.type}.v1.json`, content: stableJson(jsonSchemaOf(definition)) });
  }
  return files;
}

function stableJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
