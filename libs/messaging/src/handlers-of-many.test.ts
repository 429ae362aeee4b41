import { createEvent, deterministicId } from '@parley/contracts';
import type { ParleyEvent } from '@parley/contracts';
import { handlersOfMany } from './consumer.ts';
import type { ConsumedEvent } from './consumer.ts';

function consumed(pageId: string, n: number): ConsumedEvent {
  const event = createEvent('messenger.read.received', {
    id: deterministicId('test', pageId, n),
    pageId,
    conversationId: `${pageId}:c`,
    occurredAt: new Date(0),
    recordedAt: new Date(0),
    data: { channel: 'messenger', customer: { psid: 'c' }, timestamp: n, standby: false, throttled: false, raw: {}, watermark: n },
  });
  return { topic: 't', partition: 0, offset: String(n), event, headers: {} };
}

describe('handlersOfMany', () => {
  it('gives one event as a batch of one, several as they came, and leaves out what is not accepted', async () => {
    const calls: string[][] = [];
    const { handle, handleMany } = handlersOfMany(
      async (events: ReadonlyArray<ParleyEvent>) => void calls.push(events.map((e) => `${e.pageId}/${(e.data as { watermark: number }).watermark}`)),
      (event) => event.pageId !== 'other',
    );
    const one = consumed('mine', 1);
    await handle(one.event, one);
    await handleMany!([consumed('mine', 2), consumed('other', 3), consumed('mine', 4)]);
    const skipped = consumed('other', 5);
    await handle(skipped.event, skipped);
    expect(calls).toEqual([['mine/1'], ['mine/2', 'mine/4'], []]);
  });
});
