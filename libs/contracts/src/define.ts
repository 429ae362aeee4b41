import { z } from 'zod';
import { envelopeFields } from './envelope.ts';
import type { TopicName } from './topics.ts';

/**
 * One definition per event: its type name, topic, description and data schema. The TypeScript
 * type, the runtime validation and the published JSON Schema all come from it.
 */
export type EventDefinition<TType extends string = string, TData extends z.ZodType = z.ZodType> = {
  readonly type: TType;
  readonly topic: TopicName;
  readonly description: string;
  readonly data: TData;
  readonly schema: z.ZodObject<
    typeof envelopeFields & { type: z.ZodLiteral<TType>; data: TData }
  >;
};

export function defineEvent<TType extends string, TData extends z.ZodType>(
  type: TType,
  topic: TopicName,
  description: string,
  data: TData,
): EventDefinition<TType, TData> {
  const schema = z
    .object({ ...envelopeFields, type: z.literal(type), data })
    .meta({ title: type, description });
  return { type, topic, description, data, schema };
}
