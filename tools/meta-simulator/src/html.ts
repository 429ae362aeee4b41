// The two pages a person sees: the Facebook Login dialog (pick Pages, approve or cancel) and the
// customer chat page. Plain HTML and fetch, no build step. Everything interpolated is escaped; the
// chat page builds its DOM with textContent, never innerHTML, so message text cannot inject markup.

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON safe to place inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

const STYLE = `
  body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; background: #f0f2f5; margin: 0; color: #1c1e21; }
  .card { max-width: 520px; margin: 40px auto; background: #fff; border-radius: 8px; box-shadow: 0 2px 8px rgba(0,0,0,.15); padding: 24px; }
  .brand { color: #1877f2; font-weight: 700; font-size: 22px; margin-bottom: 8px; }
  .muted { color: #65676b; font-size: 14px; }
  button { font-size: 15px; border-radius: 6px; border: 0; padding: 8px 16px; cursor: pointer; }
  .primary { background: #1877f2; color: #fff; }
  .secondary { background: #e4e6eb; color: #050505; }
  label { display: block; padding: 6px 0; }
  code { background: #f0f2f5; padding: 1px 4px; border-radius: 3px; }
`;

export interface DialogView {
  readonly actionUrl: string;
  readonly selfUrl: string;
  readonly appName: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly state: string | undefined;
  readonly scope: string | undefined;
  readonly users: ReadonlyArray<{ id: string; name: string }>;
  readonly selectedUserId: string | undefined;
  readonly pages: ReadonlyArray<{ id: string; name: string }>;
}

export function renderDialog(view: DialogView): string {
  const hidden = (name: string, value: string | undefined): string =>
    value === undefined ? '' : `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
  const switchUser = (id: string): string => {
    const url = new URL(view.selfUrl, 'http://x');
    url.searchParams.set('sim_user', id);
    return escapeHtml(url.pathname + url.search);
  };
  const userList =
    view.users.length > 1
      ? `<p class="muted">Logged in as: ${view.users
          .map((u) => (u.id === view.selectedUserId ? `<strong>${escapeHtml(u.name)}</strong>` : `<a href="${switchUser(u.id)}">${escapeHtml(u.name)}</a>`))
          .join(' · ')}</p>`
      : '';
  const scopes = (view.scope ?? '').split(/[ ,]+/).filter(Boolean);
  const body =
    view.selectedUserId === undefined
      ? `<p>No simulated people exist yet. Create one with <code>POST /_sim/users</code> and give them Pages.</p>
         <form method="post" action="${escapeHtml(view.actionUrl)}">${hidden('redirect_uri', view.redirectUri)}${hidden('state', view.state)}
         <button class="secondary" name="decision" value="cancel">Cancel</button></form>`
      : `<form method="post" action="${escapeHtml(view.actionUrl)}">
      ${hidden('client_id', view.clientId)}${hidden('redirect_uri', view.redirectUri)}${hidden('state', view.state)}${hidden('scope', view.scope)}${hidden('user_id', view.selectedUserId)}
      <p>Choose the Pages you want <strong>${escapeHtml(view.appName)}</strong> to access:</p>
      ${
        view.pages.length === 0
          ? '<p class="muted">This person runs no Pages.</p>'
          : view.pages
              .map((p) => `<label><input type="checkbox" name="page_ids" value="${escapeHtml(p.id)}" checked> ${escapeHtml(p.name)} <span class="muted">(${escapeHtml(p.id)})</span></label>`)
              .join('\n')
      }
      ${scopes.length > 0 ? `<p class="muted">Requested permissions: ${scopes.map(escapeHtml).join(', ')}</p>` : ''}
      <p><button class="primary" name="decision" value="approve">Continue</button>
         <button class="secondary" name="decision" value="cancel">Cancel</button></p>
    </form>`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>Log in with Facebook (simulated)</title><style>${STYLE}</style></head>
<body><div class="card"><div class="brand">facebook <span class="muted">(simulator)</span></div>
<h2>${escapeHtml(view.appName)} is requesting access</h2>${userList}${body}</div></body></html>`;
}

export function renderDialogError(message: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Error</title><style>${STYLE}</style></head>
<body><div class="card"><div class="brand">facebook <span class="muted">(simulator)</span></div><h2>Sorry, something went wrong.</h2><p>${escapeHtml(message)}</p></div></body></html>`;
}

/** The customer's side of Messenger: read the thread, write, tap quick replies, Get Started, react. */
export function renderChatPage(input: { pageId?: string; psid?: string }): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Messenger (simulated customer)</title>
<style>${STYLE}
  .chat { max-width: 560px; margin: 20px auto; background: #fff; border-radius: 8px; box-shadow: 0 2px 8px rgba(0,0,0,.15); display: flex; flex-direction: column; height: 90vh; }
  header { padding: 12px 16px; border-bottom: 1px solid #e4e6eb; }
  #thread { flex: 1; overflow-y: auto; padding: 12px 16px; }
  .row { display: flex; margin: 4px 0; }
  .row.in { justify-content: flex-end; }
  .bubble { max-width: 75%; padding: 8px 12px; border-radius: 18px; white-space: pre-wrap; word-wrap: break-word; }
  .in .bubble { background: #0084ff; color: #fff; }
  .out .bubble { background: #e4e6eb; }
  .meta { font-size: 11px; color: #65676b; margin: 0 8px; align-self: flex-end; }
  .bubble img { max-width: 200px; display: block; }
  #quick { padding: 4px 16px; }
  #quick button { margin: 2px; border: 1px solid #0084ff; background: #fff; color: #0084ff; border-radius: 16px; }
  form { display: flex; gap: 8px; padding: 12px 16px; border-top: 1px solid #e4e6eb; }
  #text { flex: 1; border-radius: 18px; border: 1px solid #ccd0d5; padding: 8px 12px; font-size: 15px; }
  #typing { height: 18px; padding: 0 16px; font-size: 12px; color: #65676b; }
  .actions { padding: 0 16px 8px; }
  .actions button { font-size: 12px; padding: 4px 8px; }
  ul { line-height: 1.8; }
</style></head>
<body><div class="chat">
  <header><strong id="title">Messenger</strong> <span id="window" class="muted"></span></header>
  <div id="thread"></div>
  <div id="typing"></div>
  <div id="quick"></div>
  <div class="actions" id="actions" hidden>
    <button type="button" id="getStarted" class="secondary">Get Started</button>
    <button type="button" id="sticker" class="secondary">Send 👍 sticker</button>
    <button type="button" id="react" class="secondary">❤ last Page message</button>
  </div>
  <form id="composer" hidden><input id="text" autocomplete="off" placeholder="Aa"><button class="primary">Send</button></form>
</div>
<script>
const params = ${scriptJson(input)};
const api = (path, init) => fetch(path, init).then(async (r) => { const body = await r.json().catch(() => ({})); if (!r.ok) throw new Error(body.detail || r.statusText); return body; });
const post = (path, body) => api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body || {}) });
const el = (tag, attrs, ...children) => { const e = document.createElement(tag); Object.assign(e, attrs || {}); for (const c of children) e.append(c); return e; };
const thread = document.getElementById('thread');

async function choosePage() {
  const pages = await api('/_sim/pages');
  thread.append(el('h3', { textContent: 'Pick a Page to write to' }));
  const list = el('ul');
  for (const p of pages.data) list.append(el('li', {}, el('a', { href: '?pageId=' + encodeURIComponent(p.id), textContent: p.name + ' (' + p.id + ')' })));
  thread.append(list);
  if (pages.data.length === 0) thread.append(el('p', { textContent: 'No pages yet: POST /_sim/pages first.' }));
}

async function chooseCustomer() {
  const customers = await api('/_sim/pages/' + encodeURIComponent(params.pageId) + '/customers');
  thread.append(el('h3', { textContent: 'Who are you?' }));
  const list = el('ul');
  for (const c of customers.data) list.append(el('li', {}, el('a', { href: '?pageId=' + encodeURIComponent(params.pageId) + '&psid=' + encodeURIComponent(c.psid), textContent: c.firstName + ' ' + c.lastName + ' (' + c.psid + ')' })));
  thread.append(list);
  const create = el('button', { className: 'primary', textContent: 'Be a new customer' });
  create.onclick = async () => { const c = await post('/_sim/pages/' + encodeURIComponent(params.pageId) + '/customers', {}); location.search = '?pageId=' + encodeURIComponent(params.pageId) + '&psid=' + encodeURIComponent(c.psid); };
  thread.append(create);
}

let lastRendered = '';
async function refresh() {
  const base = '/_sim/pages/' + encodeURIComponent(params.pageId) + '/customers/' + encodeURIComponent(params.psid);
  const data = await api(base + '/thread');
  document.getElementById('title').textContent = data.page.name + ' — you are ' + data.customer.firstName + ' ' + data.customer.lastName;
  document.getElementById('window').textContent = data.window.standardOpen ? '(Page may reply until ' + new Date(data.window.standardClosesAt).toLocaleString() + ')' : '(reply window closed)';
  const visible = data.entries.filter((e) => e.kind !== 'sender_action');
  const key = JSON.stringify(visible.map((e) => [e.mid, e.readAt]));
  if (key !== lastRendered) {
    lastRendered = key;
    thread.replaceChildren();
    for (const e of visible) {
      const bubble = el('div', { className: 'bubble' });
      if (e.kind === 'reaction') bubble.textContent = (e.reaction.action === 'react' ? 'reacted ' + e.reaction.emoji : 'removed a reaction');
      else if (e.kind === 'postback') bubble.textContent = '▶ ' + e.text;
      else if (e.kind === 'comment') bubble.textContent = '💬 commented: ' + e.text;
      else if (e.text) bubble.textContent = e.text;
      for (const a of e.attachments || []) {
        const url = a.payload && a.payload.url;
        if ((a.type === 'image' || a.type === 'sticker') && url) bubble.append(el('img', { src: url, alt: a.type }));
        else bubble.append(el('div', {}, url ? el('a', { href: url, textContent: '[' + a.type + ']', target: '_blank' }) : '[' + a.type + ']'));
      }
      const meta = el('span', { className: 'meta', textContent: new Date(e.at).toLocaleTimeString() + (e.direction === 'outbound' && e.readAt ? ' · seen' : '') });
      thread.append(el('div', { className: 'row ' + (e.direction === 'inbound' ? 'in' : 'out') }, ...(e.direction === 'inbound' ? [meta, bubble] : [bubble, meta])));
    }
    thread.scrollTop = thread.scrollHeight;
  }
  const last = data.entries[data.entries.length - 1];
  const typing = last && last.kind === 'sender_action' && last.senderAction === 'typing_on' && data.now - last.at < 20000;
  document.getElementById('typing').textContent = typing ? data.page.name + ' is typing…' : '';
  const lastVisible = visible[visible.length - 1];
  const quick = document.getElementById('quick');
  quick.replaceChildren();
  if (lastVisible && lastVisible.direction === 'outbound' && lastVisible.quickReplies) {
    for (const q of lastVisible.quickReplies) {
      const b = el('button', { type: 'button', textContent: q.title || q.content_type });
      b.onclick = () => post(base + '/messages', { quickReply: { payload: q.payload || q.title, title: q.title || q.content_type } }).then(refresh);
      quick.append(b);
    }
  }
  if (document.visibilityState === 'visible' && data.entries.some((e) => e.direction === 'outbound' && e.kind === 'message' && !e.readAt)) {
    await post(base + '/reads', {});
  }
}

async function chat() {
  const base = '/_sim/pages/' + encodeURIComponent(params.pageId) + '/customers/' + encodeURIComponent(params.psid);
  document.getElementById('composer').hidden = false;
  document.getElementById('actions').hidden = false;
  document.getElementById('composer').onsubmit = async (ev) => {
    ev.preventDefault();
    const input = document.getElementById('text');
    const text = input.value;
    if (!text.trim()) return;
    input.value = '';
    await post(base + '/messages', { text }).catch((e) => alert(e.message));
    refresh();
  };
  document.getElementById('getStarted').onclick = () => post(base + '/postbacks', { getStarted: true }).then(refresh);
  document.getElementById('sticker').onclick = () => post(base + '/messages', { sticker: {} }).then(refresh);
  document.getElementById('react').onclick = async () => {
    const data = await api(base + '/thread');
    const target = data.entries.filter((e) => e.direction === 'outbound' && e.kind === 'message').pop();
    if (target) await post(base + '/reactions', { mid: target.mid, reaction: 'love' });
    refresh();
  };
  await refresh();
  setInterval(() => refresh().catch(() => undefined), 1000);
}

(params.pageId ? (params.psid ? chat() : chooseCustomer()) : choosePage()).catch((e) => thread.append(el('p', { textContent: 'Error: ' + e.message })));
</script></body></html>`;
}
