// The one way the console and the setup portal talk to Roster: the documented API, same origin, JSON.
// Failures become ApiError carrying the API's own message ({"error": {"status", "code", "message"}}).

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function errorFrom(response) {
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  const error = body?.error;
  if (error && typeof error.message === 'string') return new ApiError(response.status, error.code ?? '', error.message);
  if (body?.detail) return new ApiError(response.status, body.scimType ?? '', body.detail); // a SCIM error body
  return new ApiError(response.status, '', `Roster answered ${response.status} ${response.statusText || ''}`.trim() + '.');
}

/**
 * A client that sends `credential()`'s headers with every request. When an answer is 401 and `renew()` can get a
 * fresh credential (a session's quiet refresh), the request is sent once more.
 */
export class Api {
  constructor({ credential = () => ({}), renew = async () => false } = {}) {
    this.credential = credential;
    this.renew = renew;
  }

  /** Sends one request; answers {status, data, headers}. Throws ApiError for any status of 400 or more. */
  async request(method, path, { query, body, headers = {}, retry = true } = {}) {
    const url = new URL(path, location.origin);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, String(value));
    }
    const init = {
      method,
      headers: { Accept: 'application/json', ...this.credential(), ...headers },
      cache: 'no-store',
      credentials: 'omit',
    };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch {
      throw new ApiError(0, 'network', 'Roster could not be reached. Check the connection and try again.');
    }
    if (response.status === 401 && retry && (await this.renew())) {
      return this.request(method, path, { query, body, headers, retry: false });
    }
    if (!response.ok) throw await errorFrom(response);
    const text = await response.text();
    return { status: response.status, data: text ? JSON.parse(text) : null, headers: response.headers };
  }

  async get(path, query) { return (await this.request('GET', path, { query })).data; }
  async post(path, body = {}) { return (await this.request('POST', path, { body })).data; }
  async patch(path, body) { return (await this.request('PATCH', path, { body })).data; }
  async put(path, body) { return (await this.request('PUT', path, { body })).data; }
  async delete(path) { return (await this.request('DELETE', path)).data; }
}

/** Escapes one path segment (a tenant's name, an id). */
export const segment = (value) => encodeURIComponent(value);
