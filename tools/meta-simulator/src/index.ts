// Public surface of the Meta platform simulator: start it in-process for tests, or mount its app.
export { createMetaSimulator, startMetaSimulator } from './simulator.ts';
export type { MetaSimulator, MetaSimulatorOptions, RunningMetaSimulator } from './simulator.ts';
export { signMetaPayload, signMetaPayloadSha1, encodeMetaJson } from './signature.ts';
export { createSimClock } from './clock.ts';
export type { SimClock } from './clock.ts';
export { MetaPlatform, ControlError, PAGE_INBOX_APP_ID, THUMBS_UP_STICKER_ID, LONG_LIVED_TOKEN_SEC } from './platform.ts';
export type {
  SimSettings,
  StickerFormat,
  GraphResult,
  CreatePageInput,
  CreateUserInput,
  CreateCustomerInput,
  CustomerMessageInput,
  CustomerAttachmentInput,
  CustomerActionResult,
} from './platform.ts';
export { graphErrors, graphErrorBody } from './graph-errors.ts';
export type { GraphError, GraphErrorBody } from './graph-errors.ts';
export {
  REPLY_WINDOW_MS,
  HUMAN_AGENT_WINDOW_MS,
  PRIVATE_REPLY_WINDOW_MS,
  MAX_TEXT_CHARS,
  ACTIVE_TAGS,
  RETIRED_TAGS,
  checkReplyWindow,
  checkTag,
  checkPrivateReply,
  checkToken,
  parseSendRequest,
  replyWindowState,
} from './rules.ts';
export type { SendRequest, SendRecipient, MessagingType, SenderAction, ReplyWindowState, OutboundMessage } from './rules.ts';
export { retryDelayMs, DEFAULT_RETRY_POLICY } from './webhook-delivery.ts';
export type { RetryPolicy, WebhookDelivery, DeliveryAttempt, DeliveryStatus, RawDeliveryOptions } from './webhook-delivery.ts';
export {
  envelope,
  customerMessageEvent,
  echoEvent,
  postbackEvent,
  reactionEvent,
  deliveryEvent,
  readEvent,
  feedCommentEvent,
} from './webhook-payloads.ts';
export type { PageEvent, WebhookPayload, WebhookEntry, MessagingEvent, FeedChange, InboundAttachment } from './webhook-payloads.ts';
export type { FaultSpec, FaultKind, FaultMatch, ActiveFault } from './faults.ts';
export type {
  SimState,
  SimPage,
  SimUser,
  SimCustomer,
  SimToken,
  SimComment,
  SimPost,
  SentRecord,
  ThreadEntry,
  PageTask,
  WebhookField,
  TokenType,
} from './model.ts';
export { seedDemo } from './seed.ts';
