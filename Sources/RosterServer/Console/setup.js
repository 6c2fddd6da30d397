// The setup portal (/setup#rset_…): for the holder of a setup link, who has no Roster account. It can read the
// guide for the link's tenant, create that tenant's SCIM token, and read its provisioning log — the three routes of
// /api/v1/setup — and nothing else. The secret arrives in the fragment (never sent in a request line), is kept in
// sessionStorage, and the address is replaced so it does not stay in the history.

import { Api } from './api.js';
import { h, when, errorBox, secretOnce, fill } from './ui.js';
import { loadGuides, connectFlow } from './guide.js';
import { provisioningLog } from './provisioning.js';

const SECRET = 'roster.setup.secret';

if (location.hash.startsWith('#rset_')) {
  sessionStorage.setItem(SECRET, decodeURIComponent(location.hash.slice(1)));
  history.replaceState(null, '', location.pathname);
}
const secret = sessionStorage.getItem(SECRET);
const api = new Api({ credential: () => ({ Authorization: `Bearer ${secret}` }) });
const page = document.getElementById('page');

function forget() {
  sessionStorage.removeItem(SECRET);
  page.replaceChildren(h('h1', { tabindex: '-1' }, 'This computer has forgotten the setup link'), h('p', {}, 'Open the link again to come back.'));
  page.querySelector('h1').focus();
  document.getElementById('account').replaceChildren();
}

async function start() {
  if (!secret) {
    page.replaceChildren(h('h1', { tabindex: '-1' }, 'Open your setup link'),
      h('p', {}, 'This page is opened from a setup link that a Roster administrator sent you (it ends in #rset_…). Open that link to continue.'));
    return;
  }
  let info;
  try {
    info = await api.get('/api/v1/setup');
  } catch (error) {
    page.replaceChildren(h('h1', { tabindex: '-1' }, 'This setup link does not work'), errorBox(error),
      h('p', {}, 'Ask the administrator who sent it for a new one.'));
    page.querySelector('h1').focus();
    return;
  }
  document.title = `Connect your identity provider to ${info.tenant.name} — Roster`;
  document.getElementById('account').replaceChildren(h('button', { type: 'button', onclick: forget }, 'Forget this link'));
  const count = h('span', {}, `${info.tokens_created} of ${info.tokens_allowed}`);
  const guides = await loadGuides();
  const log = provisioningLog({
    caption: `Provisioning log of ${info.tenant.name}`,
    fetchPage: ({ cursor, outcome }) => api.get('/api/v1/setup/provisioning-log', { cursor, outcome }),
  });
  const canCreate = info.tokens_created < info.tokens_allowed;
  fill(page,
    h('h1', { tabindex: '-1' }, `Connect your identity provider to ${info.tenant.name}`),
    h('p', { class: 'intro' }, 'Pick your identity provider, create the SCIM token, and follow the steps: every value Roster needs is filled in. Then watch the provisioning log below for your first request.'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Organisation'), h('dd', {}, info.tenant.name),
      h('dt', {}, 'This link'), h('dd', {}, info.link?.name ?? ''),
      h('dt', {}, 'Works until'), h('dd', {}, when(info.expires_at)),
      h('dt', {}, 'Tokens created with it'), h('dd', {}, count)),
    canCreate ? null : h('p', { class: 'notice' }, 'This link has created all the tokens it may. Ask the administrator for a new link if you need another.'),
    connectFlow({
      guides, canCreate, secretOnce,
      values: { scim_base_url: info.scim_base_url, tenant_name: info.tenant.name },
      createToken: async (name) => {
        const token = await api.post('/api/v1/setup/scim-tokens', { name });
        count.textContent = `${info.tokens_created += 1} of ${info.tokens_allowed}`;
        return token;
      },
    }),
    h('section', { 'aria-labelledby': 'log-heading' }, h('h2', { id: 'log-heading' }, 'Provisioning log'),
      h('p', { class: 'hint' }, 'Every request your identity provider sends with the token, newest first, and why one failed.'),
      log.node));
  page.querySelector('h1').focus();
  await log.start();
}

document.querySelector('.skip-link').addEventListener('click', (event) => {
  event.preventDefault();
  document.getElementById('main').focus();
});
// Another link opened in this tab while the page is open: start again with it.
window.addEventListener('hashchange', () => { if (location.hash.startsWith('#rset_')) location.reload(); });
start();
