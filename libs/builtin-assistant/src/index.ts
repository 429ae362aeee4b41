// The built-in assistant (no language model: it answers from knowledge by retrieval, never invents),
// shared by the responder and by benchmarks that must answer with the very same logic.
export {
  builtinAnswer,
  instructionPassages,
  isGreeting,
  isThanks,
  opensWithGreeting,
  HOW_CAN_I_HELP,
  MEDIA_FOLLOW_UP,
  NOT_SURE,
  NOT_SURE_ABOUT_THE_REST,
  YOU_ARE_WELCOME,
} from './builtin-assistant.ts';
export type { BuiltinAnswer, BuiltinInput } from './builtin-assistant.ts';
export { MIN_COVERAGE, bestMatch, rank, stem, tokenize } from './retrieval.ts';
export type { Passage, Ranked } from './retrieval.ts';
export { latestCustomerTurn } from './turn.ts';
export type { AttachmentKind, AttachmentNote, Author, ConversationEntry } from './turn.ts';
