// The Send API body for one part (meta-platform.md §3b, §3e). Pure.
import type { SendMessageRequest } from '@parley/graph-api';
import type { OutboundPart } from '@parley/contracts';
import type { Send } from '../scheduling/send.ts';

/** `outboundId:part`: Meta returns it in the echo, so an echo can be matched to the part that caused it. */
export function partMetadata(outboundId: string, part: number): string {
  return `${outboundId}:${part}`;
}

/**
 * Messenger: to the customer's PSID, with the command's messaging type (RESPONSE inside the window;
 * MESSAGE_TAG + HUMAN_AGENT only for a person's reply that says so — planSend refuses anything else).
 * Page comments: a private reply to the comment (`recipient.comment_id`), text only.
 * Attachments go by URL.
 */
export function sendMessageBody(send: Pick<Send, 'outboundId' | 'channel' | 'commentId' | 'customer' | 'messagingType' | 'tag'>, part: number, content: OutboundPart): SendMessageRequest {
  const metadata = partMetadata(send.outboundId, part);
  const message: SendMessageRequest['message'] =
    'text' in content
      ? { text: content.text, metadata }
      : { attachment: { type: content.attachment.type, payload: { url: content.attachment.url, is_reusable: false } }, metadata };
  const recipient: SendMessageRequest['recipient'] =
    send.channel === 'page_comment' && send.commentId !== null ? { comment_id: send.commentId } : { id: send.customer.psid };
  return {
    recipient,
    messaging_type: send.messagingType,
    ...(send.messagingType === 'MESSAGE_TAG' && send.tag !== null ? { tag: send.tag } : {}),
    message,
  };
}
