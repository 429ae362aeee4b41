// The pages a Page admin's browser sees during the connect flow: plain HTML, no script, every
// interpolated value escaped. The selection page marks each Page with data attributes so that tests
// and support tools can read it without parsing prose.
import type { ConnectOutcome } from '../connection/connections.ts';
import type { PageChoice } from './page-choice.ts';

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `
  body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; background: #f5f6f8; margin: 0; color: #1c1e21; }
  main { max-width: 560px; margin: 40px auto; background: #fff; border-radius: 8px; box-shadow: 0 1px 4px rgba(0,0,0,.12); padding: 24px 28px; }
  h1 { font-size: 22px; margin-top: 0; }
  .muted { color: #606770; font-size: 14px; }
  .page { padding: 10px 0; border-bottom: 1px solid #eceef1; }
  .page:last-of-type { border-bottom: 0; }
  .why { color: #8a1c1c; font-size: 14px; margin: 4px 0 0 26px; }
  .ok { color: #1d6b2f; } .bad { color: #8a1c1c; }
  button { font-size: 15px; border-radius: 6px; border: 0; padding: 9px 18px; cursor: pointer; background: #1a73e8; color: #fff; }
`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeHtml(title)} · Parley</title><style>${STYLE}</style></head>
<body><main>${body}</main></body></html>`;
}

function startAgain(consoleUrl: string | undefined): string {
  return consoleUrl
    ? `<p><a href="${escapeHtml(consoleUrl)}">Start again from Settings → Pages</a> and choose “Connect a Page”.</p>`
    : '<p>Start again from Parley: Settings → Pages → “Connect a Page”.</p>';
}

/** The Pages a person may connect, with a checkbox each; the others are listed with the reason. */
export function renderSelection(view: { selectionId: string; actionUrl: string; choices: readonly PageChoice[]; expiresAt: number }): string {
  const pickable = view.choices.filter((c) => c.pickable);
  const rows = view.choices
    .map((c) => {
      const id = escapeHtml(c.pageId);
      const label = `${escapeHtml(c.name)} <span class="muted">(${id})</span>${c.reconnect ? ' <span class="muted">— connected already; picking it reconnects it</span>' : ''}`;
      return c.pickable
        ? `<div class="page" data-page-id="${id}" data-pickable="true"><label><input type="checkbox" name="page_id" value="${id}" checked> ${label}</label></div>`
        : `<div class="page" data-page-id="${id}" data-pickable="false"><label><input type="checkbox" disabled> ${label}</label><p class="why">${escapeHtml(c.reason ?? 'This Page cannot be connected.')}</p></div>`;
    })
    .join('\n');
  const body =
    view.choices.length === 0
      ? `<h1>No Pages to connect</h1><p>Facebook did not share any Page with Parley. In Facebook's dialog, tick the Pages you want Parley to answer for.</p>`
      : `<h1>Choose the Pages Parley answers for</h1>
<form method="post" action="${escapeHtml(view.actionUrl)}">
<input type="hidden" name="selection" value="${escapeHtml(view.selectionId)}">
${rows}
${pickable.length > 0 ? '<p><button type="submit">Connect the chosen Pages</button></p>' : '<p>None of these Pages can be connected by you; the reasons are shown under each.</p>'}
<p class="muted">This choice is valid until ${escapeHtml(new Date(view.expiresAt).toISOString().slice(11, 16))} UTC.</p>
</form>`;
  return layout('Choose Pages', body);
}

/** What happened to each picked Page. */
export function renderResult(outcomes: readonly ConnectOutcome[], consoleUrl: string | undefined): string {
  const rows = outcomes
    .map((o) => {
      const good = o.outcome === 'connected' || o.outcome === 'reconnected';
      const word = { connected: 'Connected', reconnected: 'Reconnected', subscription_failed: 'Not receiving messages', needs_reconnect: 'Needs reconnecting', revoked: 'Access withdrawn', refused: 'Not connected' }[o.outcome];
      return `<div class="page" data-page-id="${escapeHtml(o.pageId)}" data-outcome="${escapeHtml(o.outcome)}"><strong>${escapeHtml(o.name)}</strong>: <span class="${good ? 'ok' : 'bad'}">${word}</span><p class="${good ? 'muted' : 'why'}">${escapeHtml(o.reason)}</p></div>`;
    })
    .join('\n');
  const title = outcomes.length === 0 ? 'Nothing was connected' : 'Your Pages';
  const body = outcomes.length === 0 ? '<p>No Page was picked, so nothing was connected.</p>' : rows;
  return layout(title, `<h1>${title}</h1>${body}${consoleUrl ? `<p><a href="${escapeHtml(consoleUrl)}">Back to Settings → Pages</a></p>` : ''}`);
}

export function renderCancelled(consoleUrl: string | undefined): string {
  return layout(
    'Cancelled',
    `<h1>You cancelled; nothing was connected</h1><p>You pressed Cancel in Facebook's dialog, so Parley did not connect any Page and received no access.</p>${
      consoleUrl ? `<p>Changed your mind? <a href="${escapeHtml(consoleUrl)}">Connect a Page</a> from Settings → Pages.</p>` : '<p>Changed your mind? Connect a Page from Settings → Pages.</p>'
    }`,
  );
}

/** A failed step: what happened and how to start again. `code` is machine-readable (data attribute). */
export function renderProblem(view: { code: string; title: string; message: string; consoleUrl: string | undefined }): string {
  return layout(view.title, `<h1 data-problem="${escapeHtml(view.code)}">${escapeHtml(view.title)}</h1><p>${escapeHtml(view.message)}</p>${startAgain(view.consoleUrl)}`);
}
