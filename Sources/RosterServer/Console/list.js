// A list of the admin API read page by page: {"data": […], "next_cursor": "…"}; no next_cursor is the last page.
// Previous pages are remembered as the cursors that opened them, so the reader can go back.

import { h, table, errorBox, announce } from './ui.js';

export class CursorList {
  /**
   * fetchPage(cursor) answers the API's list object; columns are {label, value(row)}; caption names the table.
   * onPage(rows, firstPage) sees each page shown (the change feed follows new events with it).
   */
  constructor({ caption, columns, fetchPage, empty, onPage }) {
    Object.assign(this, { caption, columns, fetchPage, empty, onPage });
    this.cursors = [undefined]; // the cursor of each page seen; the last is the one shown
    this.next = undefined;
    this.body = h('div', { class: 'list-body' });
    this.previousButton = h('button', { type: 'button', onclick: () => this.previous() }, 'Previous page');
    this.nextButton = h('button', { type: 'button', onclick: () => this.forward() }, 'Next page');
    this.position = h('span', { class: 'muted page-number' });
    this.pager = h('nav', { class: 'pager', 'aria-label': `Pages of ${caption}` }, this.previousButton, this.position, this.nextButton);
    this.node = h('div', { class: 'cursor-list' }, this.body, this.pager);
  }

  get page() { return this.cursors.length; }

  async load() {
    this.body.setAttribute('aria-busy', 'true');
    try {
      const answer = await this.fetchPage(this.cursors[this.cursors.length - 1]);
      this.rows = answer?.data ?? [];
      this.next = answer?.next_cursor || undefined;
      this.body.replaceChildren(table({ caption: this.caption, columns: this.columns, rows: this.rows, empty: this.empty }));
      this.onPage?.(this.rows, this.page === 1);
    } catch (error) {
      this.body.replaceChildren(errorBox(error));
    } finally {
      this.body.removeAttribute('aria-busy');
      this.previousButton.disabled = this.page === 1;
      this.nextButton.disabled = !this.next;
      this.position.textContent = `Page ${this.page}`;
      this.pager.hidden = this.page === 1 && !this.next;
    }
    return this;
  }

  /** Back to the first page (after a change, or a new filter). */
  async reload() {
    this.cursors = [undefined];
    return this.load();
  }

  /** Reads the first page again, unless the reader is on another page or working inside the table. */
  async refreshIfIdle() {
    if (this.page !== 1 || this.body.contains(document.activeElement)) return false;
    await this.load();
    return true;
  }

  async forward() {
    if (!this.next) return;
    this.cursors.push(this.next);
    await this.load();
    announce(`Page ${this.page} of ${this.caption}.`);
  }

  async previous() {
    if (this.cursors.length === 1) return;
    this.cursors.pop();
    await this.load();
    announce(`Page ${this.page} of ${this.caption}.`);
  }
}
