import { createHmac } from 'node:crypto';
import { startMetaSimulator, type RunningMetaSimulator } from './simulator.ts';
import { control, eventually, graph } from './test-helpers.ts';

const T0 = Date.UTC(2026, 2, 2, 10, 0, 0);
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

describe('Graph API on the simulator (HTTP, port 0)', () => {
  let sim: RunningMetaSimulator;
  let pageId: string;
  let pageToken: string;
  let psid: string;

  beforeEach(async () => {
    sim = await startMetaSimulator({ port: 0, frozenAt: T0 });
    const page = await control(sim.url, 'POST', '/_sim/pages', { name: 'Bakery' });
    pageId = page.body.id;
    pageToken = page.body.accessToken;
    psid = (await control(sim.url, 'POST', `/_sim/pages/${pageId}/customers`, { firstName: 'Ana', lastName: 'Silva' })).body.psid;
  });

  afterEach(async () => {
    await sim.stop();
  });

  const customerWrites = (text = 'hello'): Promise<unknown> => control(sim.url, 'POST', `/_sim/pages/${pageId}/customers/${psid}/messages`, { text });
  const sendText = (text: string, extra: Record<string, unknown> = {}, path = '/v25.0/me/messages') =>
    graph(sim.url, 'POST', path, { access_token: pageToken, recipient: { id: psid }, messaging_type: 'RESPONSE', message: { text }, ...extra });

  describe('Send API and the 24-hour window', () => {
    it('sends inside the window and records what the Page sent', async () => {
      await customerWrites();
      const sent = await sendText('Hi Ana!', { message: { text: 'Hi Ana!', metadata: 'outbound-1' } });
      expect(sent.status).toBe(200);
      expect(sent.body).toEqual({ recipient_id: psid, message_id: expect.stringMatching(/^m_/) });

      const log = await control(sim.url, 'GET', `/_sim/pages/${pageId}/sent`);
      expect(log.body.data).toHaveLength(1);
      expect(log.body.data[0]).toMatchObject({ accepted: true, recipientId: psid, messageId: sent.body['message_id'], request: { message: { text: 'Hi Ana!', metadata: 'outbound-1' } } });
      expect(log.body.data[0].request.access_token).toBeUndefined();
    });

    it('accepts /{page-id}/messages and the token in the Authorization header', async () => {
      await customerWrites();
      const response = await fetch(`${sim.url}/v25.0/${pageId}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${pageToken}` },
        body: JSON.stringify({ recipient: { id: psid }, messaging_type: 'UPDATE', message: { text: 'x' } }),
      });
      expect(response.status).toBe(200);
    });

    it('refuses a send 24 hours after the customer wrote with 10/2018278, HTTP 400', async () => {
      await customerWrites();
      await control(sim.url, 'POST', '/_sim/clock/advance', { ms: DAY });
      const sent = await sendText('too late');
      expect(sent.status).toBe(400);
      expect(sent.body.error).toEqual({
        message: '(#10) This message is sent outside of allowed window.',
        type: 'OAuthException',
        code: 10,
        error_subcode: 2018278,
        fbtrace_id: expect.any(String),
      });
      const all = await control(sim.url, 'GET', `/_sim/pages/${pageId}/sent?all=true`);
      expect(all.body.data[0]).toMatchObject({ accepted: false, response: { error: { code: 10 } } });
      expect((await control(sim.url, 'GET', `/_sim/pages/${pageId}/sent`)).body.data).toHaveLength(0);
    });

    it('lets HUMAN_AGENT answer after 24 hours, but not after 7 days', async () => {
      await customerWrites();
      await control(sim.url, 'POST', '/_sim/clock/advance', { ms: 2 * DAY });
      const human = { messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' };
      expect((await sendText('a person here', human)).status).toBe(200);
      await control(sim.url, 'POST', '/_sim/clock/advance', { ms: 5 * DAY });
      const late = await sendText('a week later', human);
      expect(late.status).toBe(400);
      expect(late.body.error).toMatchObject({ code: 10, error_subcode: 2018278 });
    });

    it('reopens the window when the customer writes, taps a postback or reacts', async () => {
      await control(sim.url, 'POST', `/_sim/pages/${pageId}/customers/${psid}/postbacks`, { getStarted: true });
      const first = await sendText('welcome');
      expect(first.status).toBe(200);
      await control(sim.url, 'POST', '/_sim/clock/advance', { ms: DAY + HOUR });
      expect((await sendText('closed')).status).toBe(400);
      await control(sim.url, 'POST', `/_sim/pages/${pageId}/customers/${psid}/reactions`, { mid: first.body['message_id'], reaction: 'like' });
      expect((await sendText('open again')).status).toBe(200);
    });

    it('refuses a customer who never wrote', async () => {
      expect((await sendText('cold outreach')).body.error).toMatchObject({ code: 10, error_subcode: 2018278 });
    });

    it('refuses retired tags and text of 2000 characters with code 100', async () => {
      await customerWrites();
      expect((await sendText('x', { messaging_type: 'MESSAGE_TAG', tag: 'POST_PURCHASE_UPDATE' })).body.error).toMatchObject({ code: 100 });
      const long = await sendText('a'.repeat(2000));
      expect(long.status).toBe(400);
      expect(long.body.error).toMatchObject({ code: 100, type: 'OAuthException' });
    });

    it('answers 100/2018001 for an unknown recipient and 551 for an unavailable customer', async () => {
      await customerWrites();
      const unknown = await graph(sim.url, 'POST', '/v25.0/me/messages', { access_token: pageToken, recipient: { id: '999' }, messaging_type: 'RESPONSE', message: { text: 'x' } });
      expect(unknown.body.error).toMatchObject({ code: 100, error_subcode: 2018001, message: '(#100) No matching user found' });
      await control(sim.url, 'PATCH', `/_sim/pages/${pageId}/customers/${psid}`, { unavailable: true });
      const blocked = await sendText('hello?');
      expect(blocked.status).toBe(400);
      expect(blocked.body.error).toMatchObject({ code: 551, message: "(#551) This person isn't available right now." });
    });

    it('lets typing indicators carry only recipient and sender_action', async () => {
      await customerWrites();
      const typing = await graph(sim.url, 'POST', '/v25.0/me/messages', { access_token: pageToken, recipient: { id: psid }, sender_action: 'typing_on' });
      expect(typing.status).toBe(200);
      expect(typing.body).toEqual({ recipient_id: psid });
      const mixed = await graph(sim.url, 'POST', '/v25.0/me/messages', { access_token: pageToken, recipient: { id: psid }, sender_action: 'typing_on', message: { text: 'hi' } });
      expect(mixed.body.error).toMatchObject({ code: 100 });
    });

    it('refuses a Page token used on another Page (100/33) and a call without a token (104)', async () => {
      await customerWrites();
      const other = await control(sim.url, 'POST', '/_sim/pages', {});
      expect((await sendText('x', {}, `/v25.0/${other.body.id}/messages`)).body.error).toMatchObject({ code: 100, error_subcode: 33 });
      const missing = await graph(sim.url, 'POST', '/v25.0/me/messages', { recipient: { id: psid }, messaging_type: 'RESPONSE', message: { text: 'x' } });
      expect(missing.body.error).toMatchObject({ code: 104 });
    });

    it('answers malformed JSON with a Graph error', async () => {
      const response = await fetch(`${sim.url}/v25.0/me/messages?access_token=${pageToken}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"recipient":' });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { code: number } }).error.code).toBe(100);
    });

    it('limits sends per Page per second with 613', async () => {
      sim.settings.sendRateLimitPerSecond = 2;
      await customerWrites();
      expect((await sendText('1')).status).toBe(200);
      expect((await sendText('2')).status).toBe(200);
      expect((await sendText('3')).body.error).toMatchObject({ code: 613 });
      await control(sim.url, 'POST', '/_sim/clock/advance', { ms: 1000 });
      expect((await sendText('4')).status).toBe(200);
    });
  });

  describe('tokens', () => {
    it('answers 190/460 after the Page token was revoked', async () => {
      await customerWrites();
      expect((await sendText('before')).status).toBe(200);
      const fault = await control(sim.url, 'POST', '/_sim/faults', { kind: 'revokeToken', pageId });
      expect(fault.body.data[0]).toEqual({ kind: 'revokeToken', revoked: 1 });
      const after = await sendText('after');
      expect(after.status).toBe(400);
      expect(after.body.error).toMatchObject({ code: 190, error_subcode: 460, type: 'OAuthException' });
      expect(after.headers.get('www-authenticate')).toContain('invalid_token');
    });

    it('checks appsecret_proof when given', async () => {
      await customerWrites();
      const bad = await sendText('x', { appsecret_proof: 'deadbeef' });
      expect(bad.body.error?.message).toContain('appsecret_proof');
      const proof = createHmac('sha256', sim.state.app.secret).update(pageToken).digest('hex');
      expect((await sendText('x', { appsecret_proof: proof })).status).toBe(200);
    });
  });

  describe('private replies to comments', () => {
    it('allows one private reply per comment, within 7 days, without opening the window', async () => {
      const comment = await control(sim.url, 'POST', `/_sim/pages/${pageId}/customers/${psid}/comments`, { message: 'Do you deliver?' });
      const reply = (text: string) =>
        graph(sim.url, 'POST', `/v25.0/${pageId}/messages`, { access_token: pageToken, recipient: { comment_id: comment.body.commentId }, messaging_type: 'RESPONSE', message: { text } });
      const first = await reply('We do! Details in Messenger.');
      expect(first.status).toBe(200);
      expect(first.body['recipient_id']).toBe(psid);
      expect((await reply('again')).body.error).toMatchObject({ code: 10900 });
      expect((await sendText('follow-up in Messenger')).body.error).toMatchObject({ code: 10, error_subcode: 2018278 });

      const old = await control(sim.url, 'POST', `/_sim/pages/${pageId}/customers/${psid}/comments`, { message: 'Hello?' });
      await control(sim.url, 'POST', '/_sim/clock/advance', { ms: 7 * DAY });
      const late = await graph(sim.url, 'POST', `/v25.0/${pageId}/messages`, { access_token: pageToken, recipient: { comment_id: old.body.commentId }, messaging_type: 'RESPONSE', message: { text: 'sorry' } });
      expect(late.body.error).toMatchObject({ code: 10903 });
    });
  });

  describe('profiles, attachments, subscriptions', () => {
    it('returns a customer profile, and 2018218 for customers without one', async () => {
      const profile = await graph(sim.url, 'GET', `/v25.0/${psid}`, { fields: 'first_name,last_name,profile_pic', access_token: pageToken });
      expect(profile.body).toEqual({ first_name: 'Ana', last_name: 'Silva', profile_pic: expect.stringContaining('/_sim/media/'), id: psid });
      const phoneOnly = await control(sim.url, 'POST', `/_sim/pages/${pageId}/customers`, { profile: false });
      const none = await graph(sim.url, 'GET', `/v25.0/${phoneOnly.body.psid}`, { fields: 'first_name', access_token: pageToken });
      expect(none.status).toBe(400);
      expect(none.body.error).toMatchObject({ error_subcode: 2018218, message: expect.stringContaining('No profile available for this user') });
    });

    it('uploads an attachment and sends it by id', async () => {
      await customerWrites();
      const uploaded = await graph(sim.url, 'POST', `/v25.0/${pageId}/message_attachments`, {
        access_token: pageToken,
        message: { attachment: { type: 'image', payload: { url: 'https://cdn.example/menu.png', is_reusable: true } } },
      });
      expect(uploaded.body).toEqual({ attachment_id: expect.stringMatching(/^\d+$/) });
      const sent = await graph(sim.url, 'POST', '/v25.0/me/messages', {
        access_token: pageToken,
        recipient: { id: psid },
        messaging_type: 'RESPONSE',
        message: { attachment: { type: 'image', payload: { attachment_id: uploaded.body['attachment_id'] } } },
      });
      expect(sent.status).toBe(200);
      const thread = await control(sim.url, 'GET', `/_sim/pages/${pageId}/customers/${psid}/thread`);
      expect(thread.body.entries.at(-1).attachments).toEqual([{ type: 'image', payload: { url: 'https://cdn.example/menu.png' } }]);
      const wrongId = await graph(sim.url, 'POST', '/v25.0/me/messages', {
        access_token: pageToken,
        recipient: { id: psid },
        messaging_type: 'RESPONSE',
        message: { attachment: { type: 'image', payload: { attachment_id: '1' } } },
      });
      expect(wrongId.body.error).toMatchObject({ code: 100 });
    });

    it('subscribes, lists and unsubscribes the app', async () => {
      expect((await graph(sim.url, 'GET', `/v25.0/${pageId}/subscribed_apps`, { access_token: pageToken })).body).toEqual({ data: [] });
      const subscribed = await graph(sim.url, 'POST', `/v25.0/${pageId}/subscribed_apps`, { access_token: pageToken, subscribed_fields: 'messages,message_echoes,feed' });
      expect(subscribed.body).toEqual({ success: true });
      const listed = await graph(sim.url, 'GET', `/v25.0/${pageId}/subscribed_apps`, { access_token: pageToken });
      expect(listed.body).toEqual({ data: [expect.objectContaining({ id: sim.state.app.id, subscribed_fields: ['messages', 'message_echoes', 'feed'] })] });
      expect((await graph(sim.url, 'POST', `/v25.0/${pageId}/subscribed_apps`, { access_token: pageToken, subscribed_fields: 'everything' })).body.error).toMatchObject({ code: 100 });
      expect((await graph(sim.url, 'DELETE', `/v25.0/${pageId}/subscribed_apps`, { access_token: pageToken })).body).toEqual({ success: true });
      expect((await graph(sim.url, 'GET', `/v25.0/${pageId}/subscribed_apps`, { access_token: pageToken })).body).toEqual({ data: [] });
    });
  });

  describe('fault injection', () => {
    it('fails the next N matching requests with code 2, HTTP 500, then recovers', async () => {
      await customerWrites();
      await control(sim.url, 'POST', '/_sim/faults', { kind: 'serverError', count: 2, match: { path: '*/messages' } });
      const profile = await graph(sim.url, 'GET', `/v25.0/${psid}`, { access_token: pageToken });
      expect(profile.status).toBe(200); // outside the pattern
      for (let i = 0; i < 2; i++) {
        const failed = await sendText('x');
        expect(failed.status).toBe(500);
        expect(failed.body.error).toMatchObject({ code: 2, is_transient: true });
      }
      expect((await sendText('x')).status).toBe(200);
      expect((await control(sim.url, 'GET', '/_sim/faults')).body.data).toEqual([]);
    });

    it('scopes faults to one Page', async () => {
      await customerWrites();
      const other = await control(sim.url, 'POST', '/_sim/pages', {});
      await control(sim.url, 'POST', '/_sim/faults', { kind: 'rateLimit', match: { pageId: other.body.id } });
      expect((await sendText('x')).status).toBe(200);
      const limited = await graph(sim.url, 'GET', `/v25.0/${other.body.id}/subscribed_apps`, { access_token: other.body.accessToken });
      expect(limited.body.error).toMatchObject({ code: 613 });
    });

    it('fails subscription when told to', async () => {
      await control(sim.url, 'POST', '/_sim/faults', { kind: 'subscriptionFailure', error: { code: 200, message: '(#200) Permissions error', httpStatus: 403 } });
      const failed = await graph(sim.url, 'POST', `/v25.0/${pageId}/subscribed_apps`, { access_token: pageToken, subscribed_fields: 'messages' });
      expect(failed.status).toBe(403);
      expect(failed.body.error).toMatchObject({ code: 200, message: '(#200) Permissions error' });
    });

    it('hangs a request until the client gives up, and answers the next one', async () => {
      await customerWrites();
      await control(sim.url, 'POST', '/_sim/faults', { kind: 'timeout', match: { path: '/me/messages' } });
      const hung = sendText('x', {}, '/v25.0/me/messages');
      const outcome = hung.then(
        () => 'answered',
        () => 'failed',
      );
      // The fault is used up once the request reached the simulator; it must still be unanswered then.
      await eventually(() => expect(sim.platform.faults).toHaveLength(0));
      const raced = await Promise.race([outcome, Promise.resolve('pending')]);
      expect(raced).toBe('pending');
      expect((await sendText('y')).status).toBe(200);
      await sim.stop();
      expect(await outcome).toBe('failed');
      sim = await startMetaSimulator({ port: 0 }); // afterEach stops this one
    });

    it('adds latency and still answers', async () => {
      await customerWrites();
      await control(sim.url, 'POST', '/_sim/faults', { kind: 'latency', ms: 20, match: { path: '/me/messages' } });
      expect((await sendText('slow')).status).toBe(200);
      expect(sim.platform.faults[0]).toMatchObject({ kind: 'latency', hits: 1, remaining: null });
    });
  });
});
