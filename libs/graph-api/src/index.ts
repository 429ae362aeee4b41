// Public API of @parley/graph-api: a thin Meta Graph API client behind one circuit breaker, plus the
// pure helpers that interpret its failures and usage headers.
export { createGraphApiClient } from './client.ts';
// The breaker reports its states in observability's terms, so its reporter can take them as they are.
export type { BreakerState } from '@parley/observability';
export type {
  AttachmentType,
  GraphApiBreakerOptions,
  GraphApiClient,
  GraphApiClientOptions,
  ManagedPage,
  MessageTag,
  MessagingType,
  SendMessageRequest,
  SendMessageResult,
  SenderAction,
  SubscribedApp,
  TokenDebugInfo,
  UploadAttachmentRequest,
  UserAccessToken,
  UserProfile,
} from './client.ts';
export { GraphApiError, isBreakerFailure } from './graph-api-error.ts';
export type { GraphApiErrorInit } from './graph-api-error.ts';
export { classifyGraphError } from './classify.ts';
export type { GraphErrorCategory, GraphErrorClassification, GraphErrorFacts, GraphErrorKind } from './classify.ts';
export { parseUsageHeaders } from './usage.ts';
export type { GraphUsage, HeaderSource } from './usage.ts';
