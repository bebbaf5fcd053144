import { MESSAGE_MAX_CHARS } from './limits.ts';
import { CloseReason, RefusalCode } from './protocol.ts';

/**
 * What a person reads when the server refuses a message or closes a conversation: plain words, one
 * line, no protocol codes. Records over every code, so a new code does not compile without its text.
 */

const NOT_A_MEMBER = 'You are no longer a member of this conversation.';
const NOT_SENT_TRY_AGAIN = 'Not sent because of a problem on this device. Try again.';

const REFUSALS: Record<RefusalCode, string> = {
	[RefusalCode.ForeignClient]: NOT_SENT_TRY_AGAIN,
	[RefusalCode.ForeignAuthor]: 'Not sent: it was written under another account on this device.',
	[RefusalCode.ForeignMessage]: 'Not sent: only the person who wrote a message can change it.',
	[RefusalCode.UnknownRoot]: NOT_SENT_TRY_AGAIN,
	[RefusalCode.UnsupportedContent]: 'Not sent: this kind of content cannot be sent.',
	[RefusalCode.InvalidMessage]: NOT_SENT_TRY_AGAIN,
	[RefusalCode.MessageEmpty]: 'The message is empty.',
	[RefusalCode.MessageTooLong]: `The message is longer than ${MESSAGE_MAX_CHARS} characters.`,
	[RefusalCode.MessageDeleted]: 'Not sent: this message was deleted.',
	[RefusalCode.OutOfOrder]: NOT_SENT_TRY_AGAIN,
	[RefusalCode.AttachmentUnknown]: 'Not sent: the file is no longer on the server. Attach it again.',
	[RefusalCode.ForeignAttachment]: 'Not sent: the file was uploaded under another account.',
	[RefusalCode.AttachmentTaken]: 'Not sent: the file is already part of another message. Attach it again.',
	[RefusalCode.ConversationClosed]: 'Not sent: this conversation was closed.'
};

const CLOSES: Record<CloseReason, string> = {
	[CloseReason.Unauthenticated]: 'You are signed out. Sign in again to send it.',
	[CloseReason.ConversationNotFound]: 'This conversation does not exist.',
	[CloseReason.NotAMember]: NOT_A_MEMBER,
	[CloseReason.SessionEnded]: 'You are signed out. Sign in again to send it.',
	[CloseReason.MembershipRevoked]: NOT_A_MEMBER,
	[CloseReason.MalformedMessage]: NOT_SENT_TRY_AGAIN,
	[CloseReason.UpdateRefused]: 'The server did not accept this message.',
	[CloseReason.BroadcastNotAllowed]: NOT_SENT_TRY_AGAIN,
	[CloseReason.Forbidden]: 'You do not have access to this conversation.',
	[CloseReason.UpdateIncomplete]: 'Not sent yet: the connection dropped midway. It will be sent again.',
	[CloseReason.Reloading]: 'The server is busy. It will be sent again in a moment.',
	[CloseReason.AwarenessRefused]: NOT_SENT_TRY_AGAIN,
	[CloseReason.TooManyConnections]: 'Too many windows are open. Close a few and try again.',
	[CloseReason.RateLimited]: 'You are sending too fast. Wait a moment and try again.',
	[CloseReason.EpochEnded]: 'Not sent yet. It will be sent again in a moment.'
};

const isRefusalCode = (code: string): code is RefusalCode => Object.hasOwn(REFUSALS, code);
const isCloseReason = (code: string): code is CloseReason => Object.hasOwn(CLOSES, code);

/** Plain text for a refusal code or close reason; any other text passes through, or the fallback when empty. */
export function reasonText(code: string | undefined, fallback = 'Not sent.'): string {
	if (!code) return fallback;
	if (isRefusalCode(code)) return REFUSALS[code];
	if (isCloseReason(code)) return CLOSES[code];
	return code;
}
