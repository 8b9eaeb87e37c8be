/**
 * The pages' access to /api/v1/: the session cookie goes with every request (same origin); actions carry
 * the CSRF token that GET /api/v1/session returns. A 401 sends the page to the login form.
 */
export interface Me {
  username: string;
  role: 'read' | 'admin';
  csrfToken: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let me: Me | null = null;
let onLoginNeeded: () => void = () => undefined;

export function setLoginHandler(fn: () => void): void {
  onLoginNeeded = fn;
}

export function currentUser(): Me | null {
  return me;
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && me) headers['x-csrf-token'] = me.csrfToken;
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (res.status === 204) return undefined as T;
  const data = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
  if (!res.ok) {
    if (res.status === 401 && path !== '/session') {
      me = null;
      onLoginNeeded();
    }
    throw new ApiError(res.status, data.error ?? 'error', data.message ?? `HTTP ${res.status}`);
  }
  return data as T;
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, body),
  async whoAmI(): Promise<Me | null> {
    try {
      me = await request<Me>('GET', '/session');
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) me = null;
      else throw err;
    }
    return me;
  },
  async login(username: string, password: string): Promise<Me> {
    me = await request<Me>('POST', '/session', { username, password });
    return me;
  },
  async logout(): Promise<void> {
    await request<void>('DELETE', '/session');
    me = null;
  },
};

/** A query string from the defined values. */
export function qs(params: Record<string, string | number | boolean | null | undefined>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}
