// The "connect your identity provider" guides (idp-guides.json), rendered with Roster's values filled in. Guide text
// is plain text: `backticks` mark code, {{scim_base_url}}, {{token}} and {{tenant_name}} are placeholders. It is
// only ever put in the page as text nodes.

import { h, code, copyButton, externalLink, table, uniqueId } from './ui.js';

const PLACEHOLDER = /\{\{\s*(scim_base_url|token|tenant_name)\s*\}\}/g;
const MISSING = { token: '‹the token: create it in the step below›', scim_base_url: '‹the SCIM base URL›', tenant_name: '‹the tenant›' };

export async function loadGuides() {
  const response = await fetch('/console/idp-guides.json', { cache: 'no-cache', credentials: 'omit' });
  if (!response.ok) throw new Error(`The identity-provider guides could not be loaded (${response.status}).`);
  return (await response.json()).guides ?? [];
}

const fill = (text, values) => String(text ?? '').replace(PLACEHOLDER, (_, name) => values[name] ?? MISSING[name]);
const complete = (text, values) => [...String(text ?? '').matchAll(PLACEHOLDER)].every(([, name]) => values[name]);

/** Text with `code` spans, placeholders filled. */
export function rich(text, values) {
  return String(text ?? '').split('`').map((part, index) => (index % 2 ? code(fill(part, values)) : fill(part, values)));
}

/** A radio group of the guides; calls onChoose(guide) when the reader picks one. */
export function guidePicker(guides, onChoose, chosen) {
  const name = uniqueId('idp');
  return h('fieldset', { class: 'idp-picker' },
    h('legend', {}, 'Your identity provider'),
    h('div', { class: 'idp-choices' }, guides.map((guide) => {
      const id = uniqueId('idp-choice');
      return h('div', { class: 'idp-choice' },
        h('input', { type: 'radio', name, id, value: guide.id, checked: guide.id === chosen, onchange: () => onChoose(guide) }),
        h('label', { for: id }, guide.name));
    })));
}

/** One guide: summary, steps with their values (each with a copy button), mappings, what to leave off, notes, sources. */
export function renderGuide(guide, values) {
  const section = h('section', { class: 'guide', 'aria-labelledby': `guide-${guide.id}`, 'data-guide': guide.id },
    h('h2', { id: `guide-${guide.id}` }, `Connect ${guide.name}`),
    guide.summary ? h('p', {}, rich(guide.summary, values)) : null);
  if (guide.steps?.length) {
    section.append(h('ol', { class: 'steps' }, guide.steps.map((step) => h('li', {},
      h('h3', {}, rich(step.title, values)),
      step.text ? h('p', {}, rich(step.text, values)) : null,
      step.values?.length ? h('dl', { class: 'values' }, step.values.flatMap((item) => {
        const ready = complete(item.value, values);
        const filled = fill(item.value, values);
        return [h('dt', {}, item.label),
          h('dd', {}, h('code', { 'data-value': item.label }, filled), ready ? copyButton(filled, item.label) : null)];
      })) : null))));
  }
  if (guide.mappings?.length) {
    section.append(h('h3', {}, 'Attribute mappings Roster expects'),
      table({ caption: `Attribute mappings for ${guide.name}`, rows: guide.mappings, columns: [
        { label: `${guide.name} attribute`, value: (m) => rich(m.idp, values) },
        { label: 'SCIM attribute', value: (m) => code(m.scim) },
        { label: 'Note', value: (m) => rich(m.note, values) },
      ] }));
  }
  if (guide.leave_off?.length) {
    section.append(h('h3', {}, 'Leave these off'), h('ul', {}, guide.leave_off.map((item) => h('li', {}, rich(item, values)))));
  }
  if (guide.notes?.length) {
    section.append(h('h3', {}, 'Good to know'), h('ul', {}, guide.notes.map((item) => h('li', {}, rich(item, values)))));
  }
  if (guide.sources?.length) {
    section.append(h('h3', {}, `${guide.name}'s own documentation`),
      h('ul', { class: 'sources' }, guide.sources.map((source) => h('li', {}, externalLink(source.url, source.title)))));
  }
  return section;
}

/** The SCIM base URL as Roster publishes it: the discovery document's own location, less its last segment. */
export async function scimBaseURL() {
  const response = await fetch('/scim/v2/ServiceProviderConfig', { cache: 'no-cache', credentials: 'omit', headers: { Accept: 'application/scim+json' } });
  const location = (await response.json())?.meta?.location ?? `${window.location.origin}/scim/v2/ServiceProviderConfig`;
  return location.replace(/\/ServiceProviderConfig$/, '');
}

/**
 * The whole guide flow: pick the identity provider, read its steps with the values filled in, create the token on
 * the spot (shown once, then filled into the steps). createToken(name) answers the API's ScimTokenCreated.
 */
export function connectFlow({ guides, values, createToken, canCreate = true, secretOnce }) {
  let chosen = guides.length === 1 ? guides[0] : null;
  let token = null;
  const guideSlot = h('div', { class: 'guide-slot' });
  const tokenSlot = h('div', { class: 'token-slot' });
  const problem = h('div', { role: 'alert', class: 'form-error' });
  const button = h('button', { type: 'button', class: 'primary', disabled: !chosen }, 'Create the SCIM token');
  const show = () => {
    guideSlot.replaceChildren(chosen ? renderGuide(chosen, { ...values, token: token?.token }) : h('p', { class: 'hint' }, 'Choose your identity provider to see its steps.'));
    button.disabled = !chosen || Boolean(token);
  };
  button.addEventListener('click', async () => {
    problem.textContent = '';
    button.disabled = true;
    try {
      token = await createToken(chosen.name);
      values.scim_base_url = token.scim_base_url ?? values.scim_base_url;
      tokenSlot.replaceChildren(secretOnce({
        title: `SCIM token for ${chosen.name}`, secret: token.token, what: 'token',
        details: [['SCIM base URL', code(values.scim_base_url)]],
      }));
      show();
    } catch (error) {
      problem.textContent = error.message;
      button.disabled = false;
    }
  });
  show();
  return h('div', { class: 'connect' },
    guidePicker(guides, (guide) => { chosen = guide; show(); }, chosen?.id),
    canCreate ? h('section', { class: 'token-step', 'aria-labelledby': 'token-step' },
      h('h2', { id: 'token-step' }, 'The SCIM token'),
      h('p', {}, 'Roster makes a token for this connection now and shows it once; the steps fill it in for you. Paste it into your identity provider before you leave this page.'),
      button, problem, tokenSlot) : null,
    guideSlot);
}
