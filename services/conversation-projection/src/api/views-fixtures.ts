import { blankMessage } from '../inbox/evolve.ts';
import type { InboxMessage } from '../inbox/model.ts';

/** A message with every fact empty, for tests of how the API shows it. */
export function blankForTest(overrides: Partial<InboxMessage>): InboxMessage {
  return { ...blankMessage('m1', 'p:c', 0), mid: 'm1', ...overrides };
}
