/**
 * What the webhook answers WeChat. v3 speaks JSON `{"code","message"}`, v2 speaks `<xml><return_code>...`.
 * Messages are fixed texts chosen here: nothing from the request, no stack trace and no key ever reaches a reply.
 */
import type { FastifyReply } from 'fastify';

export type ReplyFormat = 'json' | 'xml';

export interface Answer {
  httpStatus: number;
  ok: boolean;
  /** Short public reason (a fixed text, safe to show to the caller). */
  message: string;
}

export const ACCEPTED: Answer = { httpStatus: 200, ok: true, message: 'OK' };

/** CDATA cannot contain `]]>`; our messages never do, but a future edit must not break the XML. */
function cdata(text: string): string {
  return `<![CDATA[${text.replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
}

export function v2Xml(ok: boolean, message: string): string {
  return `<xml><return_code>${cdata(ok ? 'SUCCESS' : 'FAIL')}</return_code><return_msg>${cdata(message)}</return_msg></xml>`;
}

export function sendAnswer(reply: FastifyReply, format: ReplyFormat, answer: Answer): FastifyReply {
  reply.code(answer.httpStatus);
  if (format === 'xml') {
    return reply.type('text/xml; charset=utf-8').send(v2Xml(answer.ok, answer.message));
  }
  // 200 + {"code":"SUCCESS"} also satisfies the older rule that demanded a SUCCESS body (reference §10).
  return reply
    .type('application/json; charset=utf-8')
    .send(JSON.stringify({ code: answer.ok ? 'SUCCESS' : 'FAIL', message: answer.message }));
}

export function fail(httpStatus: number, message: string): Answer {
  return { httpStatus, ok: false, message };
}
