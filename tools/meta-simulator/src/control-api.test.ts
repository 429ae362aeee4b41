import { startMetaSimulator, type RunningMetaSimulator } from './simulator.ts';
import { control, graph } from './test-helpers.ts';

const T0 = Date.UTC(2026, 2, 2, 10, 0, 0);

describe('control API (/_sim)', () => {
  let sim: RunningMetaSimulator;

  beforeEach(async () => {
    sim = await startMetaSimulator({ port: 0, frozenAt: T0 });
  });

  afterEach(async () => {
    await sim.stop();
  });

  it('creates pages, admins and customers, and refuses duplicates and dangling references', async () => {
    const page = await control(sim.url, 'POST', '/_sim/pages', { id: '123456789', name: 'Bakery', subscribe: ['messages', 'feed'] });
    expect(page.status).toBe(201);
    expect(page.body).toMatchObject({ id: '123456789', name: 'Bakery', accessToken: expect.any(String), subscribedFields: ['messages', 'feed'] });
    expect((await control(sim.url, 'POST', '/_sim/pages', { id: '123456789' })).status).toBe(409);
    expect((await control(sim.url, 'POST', '/_sim/pages', { admins: ['nobody'] })).status).toBe(404);
    expect((await control(sim.url, 'POST', '/_sim/pages', { subscribe: ['telepathy'] })).status).toBe(400);

    const user = await control(sim.url, 'POST', '/_sim/users', { name: 'Dana', pages: [{ pageId: '123456789', tasks: ['MESSAGING'] }] });
    expect(user.body).toMatchObject({ name: 'Dana', pages: [{ pageId: '123456789', tasks: ['MESSAGING'] }] });
    expect((await control(sim.url, 'POST', '/_sim/users', { pages: ['404'] })).status).toBe(404);

    const customer = await control(sim.url, 'POST', '/_sim/pages/123456789/customers', { name: 'Ana Maria Silva' });
    expect(customer.body).toMatchObject({ firstName: 'Ana', lastName: 'Maria Silva', hasProfile: true, unavailable: false, window: { standardOpen: false } });
    expect((await control(sim.url, 'POST', '/_sim/pages/123456789/customers', { psid: customer.body.psid })).status).toBe(409);
    expect((await control(sim.url, 'POST', '/_sim/pages/999/customers', {})).status).toBe(404);
  });

  it('generates ids that do not collide with ids given explicitly', async () => {
    await control(sim.url, 'POST', '/_sim/pages', { id: '100000000000001' });
    await control(sim.url, 'POST', '/_sim/pages', { id: '100000000000002' });
    const generated = await control(sim.url, 'POST', '/_sim/pages', {});
    expect(generated.status).toBe(201);
    expect(['100000000000001', '100000000000002']).not.toContain(generated.body.id);
    await control(sim.url, 'POST', '/_sim/pages/100000000000001/customers', { psid: '2400000000000004' });
    const psids = new Set<string>();
    for (let i = 0; i < 5; i++) psids.add((await control(sim.url, 'POST', `/_sim/pages/${generated.body.id}/customers`, {})).body.psid);
    expect(psids.size).toBe(5);
    expect(psids.has('2400000000000004')).toBe(false);
  });

  it('answers bad input with problem+json saying what is wrong', async () => {
    const response = await fetch(`${sim.url}/_sim/pages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(await response.json()).toMatchObject({ status: 400, detail: expect.stringContaining('JSON') });
    expect((await control(sim.url, 'POST', '/_sim/clock/advance', { ms: -1 })).status).toBe(400);
    expect((await control(sim.url, 'POST', '/_sim/faults', { kind: 'meteor' })).body.detail).toContain('kind');
    expect((await control(sim.url, 'PATCH', '/_sim/settings', { webhookUrl: 'ftp://x' })).status).toBe(400);
    expect((await control(sim.url, 'GET', '/_sim/nothing-here')).status).toBe(404);
  });

  it('moves the clock and shows the reply window closing', async () => {
    const page = await control(sim.url, 'POST', '/_sim/pages', {});
    const c = await control(sim.url, 'POST', `/_sim/pages/${page.body.id}/customers`, {});
    await control(sim.url, 'POST', `/_sim/pages/${page.body.id}/customers/${c.body.psid}/messages`, { text: 'hi' });
    const open = await control(sim.url, 'GET', `/_sim/pages/${page.body.id}/customers/${c.body.psid}`);
    expect(open.body.window).toMatchObject({ standardOpen: true, standardClosesAt: T0 + 24 * 3600_000 });
    const advanced = await control(sim.url, 'POST', '/_sim/clock/advance', { ms: 24 * 3600_000 });
    expect(advanced.body).toEqual({ now: T0 + 24 * 3600_000, iso: new Date(T0 + 24 * 3600_000).toISOString(), frozen: true });
    const closed = await control(sim.url, 'GET', `/_sim/pages/${page.body.id}/customers/${c.body.psid}`);
    expect(closed.body.window).toMatchObject({ standardOpen: false, humanAgentOpen: true });
  });

  it('resets everything, clock included', async () => {
    const page = await control(sim.url, 'POST', '/_sim/pages', {});
    await control(sim.url, 'POST', '/_sim/faults', { kind: 'timeout' });
    await control(sim.url, 'POST', '/_sim/clock/advance', { ms: 5000 });
    await control(sim.url, 'POST', '/_sim/reset');
    expect((await control(sim.url, 'GET', '/_sim/pages')).body.data).toEqual([]);
    expect((await control(sim.url, 'GET', '/_sim/faults')).body.data).toEqual([]);
    expect((await control(sim.url, 'GET', '/_sim/clock')).body.now).toBe(T0);
    const oldToken = await graph(sim.url, 'GET', '/v25.0/me', { access_token: page.body.accessToken });
    expect(oldToken.body.error).toMatchObject({ code: 190 });
  });

  it('serves the customer chat page with its parameters escaped', async () => {
    const response = await fetch(`${sim.url}/_sim/chat?pageId=${encodeURIComponent('1</script><script>alert(1)</script>')}&psid=2`);
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('<form id="composer"');
    expect(html).not.toContain('</script><script>alert(1)');
    expect(html).toContain('\\u003c/script\\u003e');
    // The page has no build step: its script must at least be valid JavaScript.
    const script = /<script>([\s\S]*)<\/script>/.exec(html)![1]!;
    expect(() => new Function(script)).not.toThrow();
  });

  it('serves the media that webhook URLs point at', async () => {
    const response = await fetch(`${sim.url}/_sim/media/sticker-369239263222822.png`);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await response.arrayBuffer()).subarray(1, 4).toString()).toBe('PNG');
  });

  it('answers unknown Graph paths like Graph does', async () => {
    const unknown = await graph(sim.url, 'GET', '/v25.0/me/feed/extra', { access_token: 'x' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toHaveProperty('fbtrace_id');
  });
});
