// The admin console: sign-in, the navigation (only what the credential may do, as GET /api/v1/auth/me says),
// and a hash router that opens one page module at a time (page-*.js), each over the same admin API client.

import { Session, Rights } from './session.js';
import { h, field, form, errorBox, describe, fill } from './ui.js';

const session = new Session((message) => showSignIn(message));
const state = { rights: null, tenants: [], leaving: [], rendering: 0 };

// Pages of the whole installation, then pages of one tenant (#/t/<tenant>/…). `scope` decides whether the
// page is offered; `global` pages need it held globally.
const PAGES = [
  { path: 'tenants', title: 'Tenants', module: 'page-tenants.js', scope: 'tenants' },
  { path: 'admin-keys', title: 'Admin keys', module: 'page-admin-keys.js', scope: 'admin-keys' },
  { path: 'admins', title: 'Admin users and roles', module: 'page-admins.js', scope: 'admin-users' },
  { path: 'audit', title: 'Audit log', module: 'page-audit.js', scope: 'audit:read' },
  { path: 'settings', title: 'Runtime settings', module: 'page-settings.js', scope: 'config', global: true },
  { path: 'health', title: 'Health', module: 'page-health.js' },
];
const TENANT_PAGES = [
  { path: 'tokens', title: 'SCIM tokens', module: 'page-tokens.js', scope: 'scim-tokens' },
  { path: 'connect', title: 'Connect an identity provider', module: 'page-connect.js', scope: 'scim-tokens' },
  { path: 'setup-links', title: 'Setup links', module: 'page-setup-links.js', scope: 'scim-tokens' },
  { path: 'provisioning', title: 'Provisioning log', module: 'page-provisioning.js', scope: 'provisioning:read' },
  { path: 'webhooks', title: 'Webhooks', module: 'page-webhooks.js', scope: 'webhooks' },
  { path: 'feed', title: 'Change feed', module: 'page-feed.js', scope: 'feed:read' },
  { path: 'rate-limits', title: 'Rate limits', module: 'page-rate-limits.js', scope: 'config' },
];

const pageArea = () => document.getElementById('page');

function allowed(page, tenant) {
  const rights = state.rights;
  if (!page) return false;
  if (!page.scope) return true;
  if (page.global) return rights.isGlobal(page.scope);
  return tenant ? rights.can(page.scope, tenant.id) : rights.canAnywhere(page.scope);
}

/** The tenant a route names (by name or id), as far as the console knows it. */
function tenantNamed(name) {
  return state.tenants.find((t) => t.name === name || t.id === name) ?? { id: name, name };
}

function currentTenant() {
  const match = location.hash.match(/^#\/t\/([^/]+)/);
  if (match) return tenantNamed(decodeURIComponent(match[1]));
  return state.tenants.find((t) => t.name === sessionStorage.getItem('roster.console.tenant')) ?? state.tenants[0] ?? null;
}

async function loadTenants() {
  const rights = state.rights;
  if (rights.canAnywhere('tenants')) {
    const all = [];
    let cursor;
    do {
      const page = await session.api.get('/api/v1/tenants', { cursor, limit: 500 });
      all.push(...(page.data ?? []));
      cursor = page.next_cursor;
    } while (cursor && all.length < 5000);
    state.tenants = all;
  } else {
    // Without the tenants scope the names are not ours to read: the tenants the credential holds scopes on, by id.
    state.tenants = [...rights.tenants.keys()].map((id) => ({ id, name: id }));
    if (!state.tenants.length) state.tenants = [{ id: 'default', name: 'default' }];
  }
}

function renderAccount() {
  const account = document.getElementById('account');
  if (!state.rights) { account.replaceChildren(); return; }
  const identity = state.rights.identity;
  const who = identity.email ?? ({ admin_key: 'an admin key', bootstrap: 'the bootstrap key', oidc: 'an identity provider\'s token' }[identity.type] ?? identity.type);
  account.replaceChildren(
    h('span', { class: 'who' }, 'Signed in as ', h('strong', {}, who)),
    h('button', { type: 'button', onclick: signOut }, session.adminKey ? 'Forget key' : 'Sign out'));
}

function renderNav() {
  const nav = document.getElementById('nav');
  const tenant = currentTenant();
  const link = (href, text) => {
    const current = location.hash === href || location.hash.startsWith(`${href}/`);
    return h('li', {}, h('a', { href, 'aria-current': current ? 'page' : null }, text));
  };
  const tenantPages = tenant ? TENANT_PAGES.filter((p) => allowed(p, tenant)) : [];
  // A form, not a select that navigates on change: arrowing through the options must not leave the page.
  const picker = state.tenants.length > 1 ? h('form', {
    class: 'tenant-picker', 'aria-label': 'Switch tenant',
    onsubmit: (event) => {
      event.preventDefault();
      const chosen = state.tenants.find((t) => t.id === event.target.elements.tenant.value);
      sessionStorage.setItem('roster.console.tenant', chosen.name);
      const inTenant = location.hash.match(/^#\/t\/[^/]+\/([^/]+)/);
      const page = inTenant && allowed(TENANT_PAGES.find((p) => p.path === inTenant[1]), chosen) ? inTenant[1]
        : TENANT_PAGES.find((p) => allowed(p, chosen))?.path ?? 'tokens';
      location.hash = `#/t/${encodeURIComponent(chosen.name)}/${page}`;
    },
  },
  h('label', { for: 'tenant-picker' }, 'Switch tenant'),
  h('div', { class: 'picker-row' },
    h('select', { id: 'tenant-picker', name: 'tenant' }, state.tenants.map((t) => h('option', { value: t.id, selected: tenant && t.id === tenant.id }, t.name))),
    h('button', { type: 'submit' }, 'Go'))) : null;
  fill(nav,
    h('h2', { class: 'nav-heading' }, 'Roster'),
    h('ul', {}, PAGES.filter((p) => allowed(p)).map((p) => link(`#/${p.path}`, p.title))),
    tenant && tenantPages.length ? [
      h('h2', { class: 'nav-heading' }, 'Tenant ', h('span', { class: 'tenant-name' }, tenant.name)),
      picker,
      h('ul', {}, tenantPages.map((p) => link(`#/t/${encodeURIComponent(tenant.name)}/${p.path}`, p.title))),
    ] : null);
  nav.hidden = false;
}

function findRoute(hash) {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 't' && parts.length >= 3) {
    const page = TENANT_PAGES.find((p) => p.path === parts[2]);
    return page && { page, tenant: tenantNamed(parts[1]), params: parts.slice(3) };
  }
  const page = PAGES.find((p) => p.path === parts[0]);
  return page && { page, tenant: null, params: parts.slice(1) };
}

function firstAllowedHash() {
  const page = PAGES.find((p) => p.scope && allowed(p));
  if (page) return `#/${page.path}`;
  const tenant = currentTenant();
  const tenantPage = tenant && TENANT_PAGES.find((p) => allowed(p, tenant));
  return tenantPage ? `#/t/${encodeURIComponent(tenant.name)}/${tenantPage.path}` : '#/health';
}

async function route() {
  if (!state.rights) return;
  if (!location.hash.startsWith('#/')) { location.replace(firstAllowedHash()); return; }
  const ticket = ++state.rendering;
  for (const leave of state.leaving.splice(0)) leave();
  renderNav();
  const area = pageArea();
  const found = findRoute(location.hash);
  if (!found) {
    area.replaceChildren(h('h1', { tabindex: '-1', id: 'page-title' }, 'No such page'), h('p', {}, h('a', { href: firstAllowedHash() }, 'Go to the first page')));
    document.getElementById('page-title').focus();
    return;
  }
  const { page, tenant, params } = found;
  if (tenant) sessionStorage.setItem('roster.console.tenant', tenant.name);
  document.title = `${page.title}${tenant ? ` · ${tenant.name}` : ''} — Roster console`;
  if (!allowed(page, tenant)) {
    area.replaceChildren(h('h1', { tabindex: '-1', id: 'page-title' }, page.title),
      h('p', {}, `Your credential does not hold the ${page.scope} scope${tenant ? ` on ${tenant.name}` : ''}, so this page is not offered.`));
    document.getElementById('page-title').focus();
    return;
  }
  const container = h('div', { class: 'page', 'data-page': page.path });
  area.replaceChildren(container);
  const context = {
    api: session.api, rights: state.rights, session, tenant, params, main: container,
    onLeave: (leave) => state.leaving.push(leave),
    stillHere: () => ticket === state.rendering,
    reloadTenants: async () => { await loadTenants(); renderNav(); },
    tenants: () => state.tenants,
  };
  try {
    const module = await import(`./${page.module}`);
    if (ticket !== state.rendering) return;
    await module.default(context);
  } catch (error) {
    if (ticket === state.rendering) container.append(errorBox(error));
  }
  if (ticket === state.rendering) {
    container.dataset.ready = 'true';
    const heading = container.querySelector('h1');
    if (heading && !container.contains(document.activeElement)) heading.focus();
  }
}

async function start() {
  try {
    state.rights = new Rights(await session.api.get('/api/v1/auth/me'));
    await loadTenants();
  } catch (error) {
    session.forget();
    state.rights = null;
    showSignIn(describe(error));
    return;
  }
  renderAccount();
  await route();
}

async function signOut() {
  for (const leave of state.leaving.splice(0)) leave();
  await session.signOut();
  state.rights = null;
  showSignIn('You are signed out.');
}

function showSignIn(message) {
  state.rights = null;
  state.rendering++;
  for (const leave of state.leaving.splice(0)) leave();
  renderAccount();
  document.getElementById('nav').hidden = true;
  document.title = 'Sign in — Roster console';
  const email = field({ label: 'Email', name: 'email', required: true, attributes: { autocomplete: 'username', inputmode: 'email', spellcheck: 'false' } });
  const password = field({ label: 'Password', name: 'password', type: 'password', required: true, attributes: { autocomplete: 'current-password' } });
  const key = field({
    label: 'Admin key', name: 'key', type: 'password', required: true,
    hint: 'radm_… or the bootstrap key. Kept in this tab only until you close it or choose “Forget key”.',
    attributes: { spellcheck: 'false' },
  });
  pageArea().replaceChildren(h('div', { class: 'page sign-in', 'data-page': 'sign-in', 'data-ready': 'true' },
    h('h1', { tabindex: '-1', id: 'page-title' }, 'Sign in to Roster'),
    message ? h('p', { class: 'notice', role: 'status' }, message) : null,
    h('div', { class: 'columns' },
      h('section', { 'aria-labelledby': 'sign-in-password' },
        h('h2', { id: 'sign-in-password' }, 'With your email and password'),
        form({
          label: 'Sign in with email and password', fields: [email, password], submit: 'Sign in',
          action: async (values) => { await session.signIn(values.email, values.password); await start(); },
        })),
      h('section', { 'aria-labelledby': 'sign-in-key' },
        h('h2', { id: 'sign-in-key' }, 'With an admin key'),
        form({
          label: 'Use an admin key', fields: [key], submit: 'Use this key',
          action: async (values) => { await session.useKey(values.key); await start(); },
        })))));
  document.getElementById('page-title').focus();
}

document.querySelector('.skip-link').addEventListener('click', (event) => {
  // The router owns the fragment: move focus without changing it.
  event.preventDefault();
  document.getElementById('main').focus();
});
window.addEventListener('hashchange', () => { if (location.hash.startsWith('#/')) route(); });

if (await session.restore()) await start();
else showSignIn();
