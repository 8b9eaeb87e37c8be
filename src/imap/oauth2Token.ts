/**
 * XOAUTH2 access tokens for mailboxes whose IMAP_URL has no password (Gmail, Microsoft 365): either printed
 * by a command the administrator provides (IMAP_OAUTH2_TOKEN_COMMAND: gcloud, oauth2l, az, a script), or got
 * from the provider's token endpoint with a refresh token (RFC 6749 section 6, IMAP_OAUTH2_TOKEN_URL ...).
 * A token is kept until shortly before it expires, or until the server refuses it (invalidate()). A refresh
 * token the endpoint refuses is a ConfigError (exit status 2 for `--once`; the slow login backoff for the
 * service); an endpoint that cannot be reached or fails is an OAuth2TokenError, retried like an outage.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { OAuth2Config } from '../config/loadConfig.js';
import { ConfigError, TlsrptError, errorMessage } from '../errors.js';

const run = promisify(execFile);

/** A token from a command is reused this long (such commands usually print one valid for an hour). */
const COMMAND_TOKEN_MS = 30 * 60_000;
/** A token is renewed this long before the expiry the endpoint gave. */
const EXPIRY_MARGIN_MS = 60_000;

export class OAuth2TokenError extends TlsrptError {
  override readonly name = 'OAuth2TokenError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('imap-oauth2-token', message, options);
  }
}

export interface OAuth2TokenSource {
  token(): Promise<string>;
  /** The server refused the token: the next token() gets a new one. */
  invalidate(): void;
}

export function createOAuth2TokenSource(config: OAuth2Config, fetchImpl: typeof fetch = fetch): OAuth2TokenSource {
  let cached: { token: string; until: number } | null = null;
  const fresh = async (): Promise<{ token: string; until: number }> => {
    if (config.kind === 'command') {
      let stdout: string;
      try {
        ({ stdout } = await run('/bin/sh', ['-c', config.command], { timeout: 60_000, maxBuffer: 1 << 20 }));
      } catch (err) {
        throw new OAuth2TokenError(`IMAP_OAUTH2_TOKEN_COMMAND failed: ${errorMessage(err)}. Run it by hand to see why.`, { cause: err });
      }
      const token = stdout.trim().split('\n').pop()?.trim() ?? '';
      if (!token)
        throw new OAuth2TokenError('IMAP_OAUTH2_TOKEN_COMMAND printed no token: it should print the access token alone on its last line');
      return { token, until: Date.now() + COMMAND_TOKEN_MS };
    }
    const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: config.refreshToken, client_id: config.clientId });
    if (config.clientSecret) body.set('client_secret', config.clientSecret);
    if (config.scope) body.set('scope', config.scope);
    let res: Response;
    try {
      res = await fetchImpl(config.tokenUrl, { method: 'POST', body, signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      throw new OAuth2TokenError(`cannot reach IMAP_OAUTH2_TOKEN_URL ${config.tokenUrl}: ${errorMessage(err)}`, { cause: err });
    }
    const text = await res.text();
    let json: { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown } = {};
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      // Not JSON: the status and the start of the body below say what came back.
    }
    if (!res.ok || typeof json.access_token !== 'string') {
      const why =
        typeof json.error === 'string'
          ? `${json.error}${typeof json.error_description === 'string' ? `: ${json.error_description}` : ''}`
          : text.slice(0, 200);
      const message =
        `the token endpoint ${config.tokenUrl} refused the refresh token (HTTP ${res.status}: ${why}). ` +
        'Check IMAP_OAUTH2_CLIENT_ID, IMAP_OAUTH2_CLIENT_SECRET and IMAP_OAUTH2_REFRESH_TOKEN, or grant a new refresh token.';
      // 400/401 (RFC 6749 section 5.2: invalid_grant, invalid_client): the settings are wrong or revoked, and
      // retrying will not help; anything else (5xx, 429) may pass.
      if (res.status === 400 || res.status === 401) throw new ConfigError('IMAP_OAUTH2_REFRESH_TOKEN', message);
      throw new OAuth2TokenError(message);
    }
    const seconds = typeof json.expires_in === 'number' ? json.expires_in : 3600;
    return { token: json.access_token, until: Date.now() + Math.max(seconds * 1000 - EXPIRY_MARGIN_MS, 10_000) };
  };
  return {
    async token() {
      if (!cached || cached.until <= Date.now()) cached = await fresh();
      return cached.token;
    },
    invalidate() {
      cached = null;
    },
  };
}
