// The console's building blocks. Everything is built as DOM nodes with text: no data ever goes through innerHTML.

/** An element: h('p', {class: 'note'}, 'text', child, …). Attributes `on…` add listeners; null and false are left out. */
export function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value == null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else if (name === 'class') node.className = value;
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name === 'value' && 'value' in node) node.value = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** A link to another site (an IdP's documentation): only http(s), opened apart from the console. */
export function externalLink(url, text) {
  let safe = null;
  try {
    const parsed = new URL(url);
    if (parsed.protocol === 'https:' || parsed.protocol === 'http:') safe = parsed.href;
  } catch { /* not a URL: shown as text */ }
  return safe ? h('a', { href: safe, rel: 'noopener noreferrer', target: '_blank' }, text, h('span', { class: 'visually-hidden' }, ' (opens in a new tab)')) : h('span', {}, text);
}

/** A time as the reader's locale writes it, in a <time> element that keeps the exact value. */
export function when(value) {
  if (!value) return h('span', { class: 'muted' }, '—');
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return h('span', {}, value);
  return h('time', { datetime: value, title: value }, date.toLocaleString());
}

let nextId = 0;
export const uniqueId = (prefix) => `${prefix}-${++nextId}`;

/** Says something to screen readers (and shows it) in the page's polite status region. */
export function announce(message) {
  const region = document.getElementById('status');
  if (!region) return;
  region.textContent = '';
  clearTimeout(announce.timer);
  // A fresh text node, a tick later, so the same message twice is read twice; gone after a while.
  setTimeout(() => { region.textContent = message; }, 50);
  announce.timer = setTimeout(() => { region.textContent = ''; }, 8000);
}

/** An error box, read at once by screen readers; shows the API's own message. */
export function errorBox(error) {
  const message = error?.message ?? String(error);
  return h('div', { class: 'error-box', role: 'alert' }, message);
}

/** The admin API's message when `error` is an ApiError, else the error's own text. */
export const describe = (error) => error?.message ?? String(error);

/** A labelled form field. `hint` and errors are tied to the input with aria-describedby. */
export function field({ label, name, type = 'text', value = '', required = false, hint, options, multiple, attributes = {} }) {
  const id = uniqueId(name);
  const hintId = hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  let input;
  if (options) {
    input = h('select', { id, name, required, multiple, ...attributes },
      options.map((option) => {
        const [optionValue, text] = Array.isArray(option) ? option : [option, option];
        const selected = multiple ? (value ?? []).includes(optionValue) : optionValue === value;
        return h('option', { value: optionValue, selected }, text);
      }));
  } else if (type === 'textarea') {
    input = h('textarea', { id, name, required, rows: 3, ...attributes });
    input.value = value ?? '';
  } else {
    input = h('input', { id, name, type, required, ...attributes });
    if (type === 'checkbox') input.checked = Boolean(value);
    else input.value = value ?? '';
  }
  input.setAttribute('aria-describedby', [hintId, errorId].filter(Boolean).join(' '));
  const error = h('p', { id: errorId, class: 'field-error', hidden: true });
  const wrapper = type === 'checkbox'
    ? h('div', { class: 'field checkbox' }, input, h('label', { for: id }, label), hint && h('p', { id: hintId, class: 'hint' }, hint), error)
    : h('div', { class: 'field' }, h('label', { for: id }, label, required ? h('span', { class: 'required' }, ' (required)') : null), hint && h('p', { id: hintId, class: 'hint' }, hint), input, error);
  wrapper.input = input;
  wrapper.name = name;
  wrapper.showError = (message) => {
    error.textContent = message ?? '';
    error.hidden = !message;
    if (message) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  };
  wrapper.read = () => (type === 'checkbox' ? input.checked
    : multiple ? [...input.selectedOptions].map((o) => o.value) : input.value.trim());
  wrapper.check = () => (required && type !== 'checkbox' && !String(input.value).trim() ? `${label} is required.` : null);
  wrapper.clear = () => { if (!options && type !== 'checkbox') input.value = value ?? ''; }; // back to where it started
  return wrapper;
}

/** A group of checkboxes under a legend (e.g. scopes); read() answers the checked values. */
export function checkboxes({ legend, name, choices, checked = [], hint, required = false }) {
  const errorId = uniqueId(`${name}-error`);
  const error = h('p', { id: errorId, class: 'field-error', hidden: true });
  const boxes = choices.map(([value, text]) => {
    const id = uniqueId(`${name}-choice`);
    return h('div', { class: 'checkbox' },
      h('input', { type: 'checkbox', id, name, value, checked: checked.includes(value) }), h('label', { for: id }, text));
  });
  const group = h('fieldset', { class: 'field choices', 'aria-describedby': errorId },
    h('legend', {}, legend, required ? h('span', { class: 'required' }, ' (required)') : null), hint && h('p', { class: 'hint' }, hint),
    h('div', { class: 'choice-list' }, boxes), error);
  group.name = name;
  group.input = group.querySelector('input');
  group.read = () => [...group.querySelectorAll('input:checked')].map((box) => box.value);
  group.check = () => (required && !group.read().length ? `Choose at least one: ${legend}.` : null);
  group.showError = (message) => { error.textContent = message ?? ''; error.hidden = !message; };
  group.clear = () => group.querySelectorAll('input').forEach((box) => { box.checked = false; });
  return group;
}

/**
 * A form whose submit runs `action(values, form)`; while it runs the button is busy; an API error is shown in the
 * form's alert, and a field left empty gets its own message. `fields` are made by field() or checkboxes().
 */
export function form({ label, fields, submit, action, extra = [], danger = false }) {
  const problem = h('div', { class: 'form-error', role: 'alert' });
  const button = h('button', { type: 'submit', class: danger ? 'danger' : 'primary' }, submit);
  const node = h('form', { class: 'form', 'aria-label': label, novalidate: true }, fields, extra, problem, h('div', { class: 'actions' }, button));
  node.addEventListener('submit', async (event) => {
    event.preventDefault();
    problem.textContent = '';
    let firstInvalid = null;
    for (const item of fields) {
      const message = item.check();
      item.showError(message);
      if (message && !firstInvalid) firstInvalid = item.input;
    }
    if (firstInvalid) { firstInvalid.focus(); return; }
    const values = Object.fromEntries(fields.map((item) => [item.name, item.read()]));
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      await action(values, node);
    } catch (error) {
      problem.textContent = describe(error);
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  });
  node.reset = () => fields.forEach((item) => item.clear());
  return node;
}

/** A button that copies `text()` to the clipboard and says so. */
export function copyButton(text, what = 'value') {
  return h('button', {
    type: 'button', class: 'copy',
    onclick: async (event) => {
      const value = typeof text === 'function' ? text() : text;
      try {
        await navigator.clipboard.writeText(value);
        announce(`Copied the ${what}.`);
      } catch {
        // No clipboard permission: select the text so the reader can copy it by hand.
        const code = event.currentTarget.parentElement.querySelector('code');
        if (code) window.getSelection().selectAllChildren(code);
        announce(`Select and copy the ${what} by hand (Ctrl+C).`);
      }
    },
  }, 'Copy', h('span', { class: 'visually-hidden' }, ` ${what}`));
}

/**
 * A secret shown once: the value, a copy button, and the warning that it will not be shown again.
 * The node is dropped from the page when its page is left; nothing keeps the secret.
 */
export function secretOnce({ title, secret, what = 'secret', details = [] }) {
  const heading = h('h3', { tabindex: '-1' }, title);
  const node = h('section', { class: 'secret-once', 'aria-label': title },
    heading,
    h('p', {}, h('strong', {}, 'Copy it now: '), `this is the only time Roster shows this ${what}. `,
      'After you leave or reload this page it is gone; if it is lost, create a new one and revoke this one.'),
    h('div', { class: 'secret-value' }, h('code', { 'data-secret': '' }, secret), copyButton(secret, what)),
    details.length ? h('dl', { class: 'facts' }, details.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)])) : null,
    h('button', { type: 'button', onclick: () => node.remove() }, `I have copied the ${what}`));
  queueMicrotask(() => heading.focus());
  return node;
}

/** Asks before a destructive action; resolves true only when the reader confirms. Focus returns where it was. */
export function confirmAction({ title, message, confirm = 'Confirm', danger = true }) {
  return new Promise((resolve) => {
    const returnTo = document.activeElement;
    const titleId = uniqueId('dialog-title');
    const messageId = uniqueId('dialog-message');
    const cancelButton = h('button', { type: 'button', value: 'cancel' }, 'Cancel');
    const confirmButton = h('button', { type: 'button', class: danger ? 'danger' : 'primary', value: 'confirm' }, confirm);
    const dialog = h('dialog', { 'aria-labelledby': titleId, 'aria-describedby': messageId, class: 'confirm' },
      h('h2', { id: titleId }, title), h('p', { id: messageId }, message), h('div', { class: 'actions' }, cancelButton, confirmButton));
    let answer = false;
    const close = (value) => { answer = value; dialog.close(); };
    cancelButton.addEventListener('click', () => close(false));
    confirmButton.addEventListener('click', () => close(true));
    // A modal dialog keeps Tab inside it (the rest of the page is inert); Escape cancels.
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (returnTo && document.contains(returnTo)) returnTo.focus();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancelButton.focus();
  });
}

/** A table in its own scrolling container (focusable, so keyboard users can scroll it). */
export function table({ caption, columns, rows, empty = 'Nothing here yet.' }) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption },
    h('table', {},
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', {}, h('tr', {}, columns.map((column) => h('th', { scope: 'col' }, column.label)))),
      h('tbody', {}, rows.map((row) => h('tr', {}, columns.map((column, index) => {
        const value = column.value(row);
        return index === 0 ? h('th', { scope: 'row' }, value) : h('td', {}, value);
      }))))));
}

/** A page's heading, focused when the page opens so screen readers start there. */
export function pageHeading(text, intro) {
  return [h('h1', { tabindex: '-1', id: 'page-title' }, text), intro ? h('p', { class: 'intro' }, intro) : null].filter(Boolean);
}

/** Puts the children in `node` in place of what it held; null, false and nested arrays are taken care of. */
export function fill(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter((child) => child != null && child !== false));
  return node;
}

export const code = (text) => h('code', {}, text);
export const muted = (text) => h('span', { class: 'muted' }, text);
export const badge = (text, kind = '') => h('span', { class: `badge ${kind}` }, text);
