// Who the console acts as. Either a signed-in session (the access token lives only in memory, the refresh token in
// sessionStorage so a reload stays signed in, and both are renewed quietly before the access token expires) or a
// pasted admin key (kept in sessionStorage: this tab only, gone when it closes).

import { Api, ApiError } from './api.js';

const REFRESH = 'roster.console.refresh';
const ADMIN_KEY = 'roster.console.adminKey';

export class Session {
  constructor(onEnded) {
    this.onEnded = onEnded; // called when the session ends by itself (a refresh refused)
    this.access = null;
    this.refreshing = null;
    this.timer = null;
    this.api = new Api({ credential: () => this.headers(), renew: () => this.renew() });
    this.bare = new Api(); // for the auth routes, which take no credential
  }

  get adminKey() { return sessionStorage.getItem(ADMIN_KEY); }
  get signedIn() { return Boolean(this.adminKey || this.access); }

  headers() {
    const key = this.adminKey;
    if (key) return { 'X-Admin-API-Key': key };
    return this.access ? { Authorization: `Bearer ${this.access}` } : {};
  }

  async signIn(email, password) {
    this.keep(await this.bare.post('/api/v1/auth/token', { email, password }));
  }

  /** A pasted key is checked (GET /api/v1/auth/me) before it is kept. */
  async useKey(key) {
    const probe = new Api({ credential: () => ({ 'X-Admin-API-Key': key }) });
    const me = await probe.get('/api/v1/auth/me');
    sessionStorage.setItem(ADMIN_KEY, key);
    return me;
  }

  /** After a reload: the pasted key as it was, or a new access token from the kept refresh token. */
  async restore() {
    if (this.adminKey) return true;
    if (!sessionStorage.getItem(REFRESH)) return false;
    return this.renew();
  }

  keep(session) {
    this.access = session.access_token;
    sessionStorage.setItem(REFRESH, session.refresh_token);
    clearTimeout(this.timer);
    // Renew a minute before the access token expires (a refresh token works once: one renewal at a time).
    const delay = Math.max(5, (session.expires_in ?? 300) - 60) * 1000;
    this.timer = setTimeout(() => this.renew(), delay);
  }

  /** Exchanges the refresh token for new tokens; false (and the session is over) when Roster refuses it. */
  renew() {
    const token = sessionStorage.getItem(REFRESH);
    if (!token || this.adminKey) return Promise.resolve(false);
    this.refreshing ??= this.bare.post('/api/v1/auth/refresh', { refresh_token: token })
      .then((session) => { this.keep(session); return true; })
      .catch((error) => {
        if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
          this.forget();
          this.onEnded?.('Your session has ended. Sign in again.');
        }
        return false;
      })
      .finally(() => { this.refreshing = null; });
    return this.refreshing;
  }

  /** Sign-out: the session is revoked at Roster (its refresh tokens stop at once), then forgotten here. */
  async signOut() {
    const token = sessionStorage.getItem(REFRESH);
    this.forget();
    if (token) {
      try { await this.bare.post('/api/v1/auth/revoke', { refresh_token: token }); } catch { /* forgotten here anyway */ }
    }
  }

  forget() {
    clearTimeout(this.timer);
    this.access = null;
    sessionStorage.removeItem(REFRESH);
    sessionStorage.removeItem(ADMIN_KEY);
  }
}

/** What the credential may do, as GET /api/v1/auth/me says: a scope held globally holds on every tenant; `*` is all. */
export class Rights {
  constructor(me) {
    this.me = me;
    this.global = new Set(me.global_scopes ?? []);
    this.tenants = new Map((me.tenant_scopes ?? []).map((entry) => [entry.tenant_id, new Set(entry.scopes)]));
  }

  isGlobal(scope) { return this.global.has('*') || this.global.has(scope); }

  /** Holds `scope` on the tenant (by id), globally or there. */
  can(scope, tenantId) {
    if (this.isGlobal(scope)) return true;
    const held = this.tenants.get(tenantId);
    return Boolean(held && (held.has('*') || held.has(scope)));
  }

  /** Holds `scope` anywhere: on some tenant or globally. */
  canAnywhere(scope) {
    if (this.isGlobal(scope)) return true;
    return [...this.tenants.values()].some((held) => held.has('*') || held.has(scope));
  }

  get identity() { return this.me.identity ?? {}; }
}

/** Every admin scope, with what it lets a credential do (the admin API document names the same). */
export const SCOPES = [
  ['*', 'everything (owner)'],
  ['tenants', 'tenants'],
  ['scim-tokens', 'SCIM tokens and setup links'],
  ['admin-keys', 'admin keys'],
  ['metrics', 'metrics'],
  ['directory:read', 'directory questions'],
  ['feed:read', 'the change feed'],
  ['webhooks', 'webhooks'],
  ['audit:read', 'the audit log'],
  ['admin-users', 'admin users, roles and grants'],
  ['config', 'runtime settings and rate limits'],
  ['provisioning:read', 'the provisioning log'],
];
