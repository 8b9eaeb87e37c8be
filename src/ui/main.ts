/**
 * The dashboard's pages, one bundle, routed by the URL fragment (#/domains, #/domain/NAME, #/report/ID,
 * #/quarantine, #/quarantine/ID, #/alerts) so that /ui/ is one static file set any proxy can serve. Data comes from /api/v1/.
 */
import './style.css';
import { api, ApiError, currentUser, setLoginHandler } from './api.js';
import { h } from './dom.js';
import { domainPage } from './pages/domainPage.js';
import { domainsPage } from './pages/domainsPage.js';
import { alertsPage, messagePage, quarantinePage, reportPage } from './pages/otherPages.js';

const main = document.getElementById('main')!;
const who = document.getElementById('who')!;

function showUser(): void {
  const me = currentUser();
  who.replaceChildren(
    ...(me
      ? [
          `${me.username} (${me.role}) `,
          h(
            'button',
            {
              type: 'button',
              id: 'logout',
              onclick: async () => {
                await api.logout();
                showLogin();
              },
            },
            'log out',
          ),
        ]
      : []),
  );
}

function showLogin(message = ''): void {
  showUser();
  const error = h('p', { class: 'error', role: 'alert' }, message);
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  main.replaceChildren(
    h(
      'form',
      {
        class: 'login',
        onsubmit: async (e: Event) => {
          e.preventDefault();
          try {
            await api.login(username.value, password.value);
            showUser();
            await route();
          } catch (err) {
            error.textContent = err instanceof ApiError ? err.message : String(err);
          }
        },
      },
      h('h1', {}, 'Log in'),
      h('label', {}, 'User name', username),
      h('label', {}, 'Password', password),
      h('button', { type: 'submit' }, 'log in'),
      error,
      h('p', { class: 'muted' }, 'Users are made with: tlsrpt user add NAME --role read|admin'),
    ),
  );
}

async function route(): Promise<void> {
  if (!currentUser()) return showLogin();
  const [path = '', query = ''] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  const parts = path.split('/').filter(Boolean);
  document
    .querySelectorAll('nav a')
    .forEach((a) =>
      a.classList.toggle('active', a.getAttribute('data-nav') === (parts[0] === 'domain' ? 'domains' : (parts[0] ?? 'domains'))),
    );
  main.setAttribute('aria-busy', 'true');
  try {
    switch (parts[0]) {
      case 'domain':
        await domainPage(main, decodeURIComponent(parts[1] ?? ''), params);
        break;
      case 'report':
        await reportPage(main, parts[1] ?? '');
        break;
      case 'quarantine':
        if (parts[1]) await messagePage(main, parts[1]);
        else await quarantinePage(main, params);
        break;
      case 'alerts':
        await alertsPage(main);
        break;
      default:
        await domainsPage(main, params);
    }
    document.title = `${main.querySelector('h1')?.textContent ?? 'Dashboard'} – TLS reports`;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    main.replaceChildren(h('h1', {}, 'Something went wrong'), h('p', { class: 'error' }, err instanceof Error ? err.message : String(err)));
  } finally {
    main.removeAttribute('aria-busy');
  }
}

setLoginHandler(() => showLogin('Your session has ended: log in again.'));
window.addEventListener('hashchange', () => void route());
void (async () => {
  await api.whoAmI();
  showUser();
  await route();
})();
