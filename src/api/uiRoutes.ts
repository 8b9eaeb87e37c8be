/**
 * The dashboard's pages at /ui/: the files Vite built from src/ui/ into dist-ui/ (README "Dashboard"),
 * served by this server so the pages work offline. Only for clients in UI_ALLOW, like the API; the pages
 * hold no data themselves (they ask the API, which needs a login).
 */
import { existsSync } from 'node:fs';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import { allowedAddresses } from '../http/allowedAddresses.js';
import { HttpRefusal } from '../http/httpReplies.js';
import { projectPath } from '../util/projectPath.js';

export const UI_PREFIX = '/ui/';

export interface UiRoutesOptions {
  allow: readonly string[] | null;
  /** The built pages (default: dist-ui/ of the project). */
  root?: string;
}

export const uiRoutes: FastifyPluginAsync<UiRoutesOptions> = async (app, o) => {
  const root = o.root ?? projectPath('dist-ui');
  const mayUse = allowedAddresses(o.allow);
  app.addHook('onRequest', async (request) => {
    if (!mayUse(request.ip)) throw new HttpRefusal('ui-forbidden', `The dashboard is not open to ${request.ip}: add it to UI_ALLOW.`);
  });
  app.get('/ui', async (_request, reply) => reply.redirect(UI_PREFIX));
  if (!existsSync(root)) {
    app.get('/ui/*', async (_request, reply) =>
      reply.code(503).type('text/plain').send(`The dashboard is not built: run "npm run build" (${root} is missing).\n`),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: UI_PREFIX,
    // Built file names carry a content hash: they may be cached for long; index.html must not be.
    setHeaders: (res, path) => {
      res.header('cache-control', path.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable');
      res.header('x-content-type-options', 'nosniff');
      res.header('x-frame-options', 'DENY');
    },
    preCompressed: true,
  });
};
