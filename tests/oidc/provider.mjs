// A real OpenID Connect provider for the console tests: the certified `oidc-provider` package
// (installed into .oidc/ by scripts/install-test-deps), on 127.0.0.1, with one client and a
// minimal login page. Prints `issuer <URL>` once it listens.
//
// Environment:
//   OIDC_MODULES        the node_modules directory holding oidc-provider (required)
//   PORT                port to listen on (0 or unset: a free one)
//   CLIENT_ID, CLIENT_SECRET, REDIRECT_URI   the one client
//   KID                 key id of the signing keys (default: random) — reuse one with a new
//                       key set to sign with "another key" under a known id
//   ID_TOKEN_ALG        RS256 (default) or ES256
//   EMAIL_IN_USERINFO_ONLY=1   email claims only from the userinfo endpoint
//
// Accounts: any email signs in (no password check); its ID token carries `email` and
// `email_verified: true`, except for emails starting with `unverified` (`false`).

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// Node 18 (Debian 12's) has WebCrypto but not as a global, which `jose` expects.
if (!globalThis.crypto) globalThis.crypto = (await import('node:crypto')).webcrypto;

const env = (k, d) => process.env[k] || d;
const modules = env('OIDC_MODULES');
if (!modules) throw new Error('OIDC_MODULES is not set');
const pkgDir = join(modules, 'oidc-provider');
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const { default: Provider } = await import(pathToFileURL(join(pkgDir, pkg.main || 'lib/index.js')).href);

const kid = env('KID', `k-${randomBytes(6).toString('hex')}`);
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
const keys = [
  { ...rsa, kid: `${kid}-rs`, alg: 'RS256', use: 'sig' },
  { ...ec, kid: `${kid}-es`, alg: 'ES256', use: 'sig' },
];

const server = createServer();
await new Promise((resolve) => server.listen(Number(env('PORT', '0')), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const provider = new Provider(issuer, {
  clients: [{
    client_id: env('CLIENT_ID', 'tokend'),
    client_secret: env('CLIENT_SECRET', 'tokend-secret'),
    redirect_uris: [env('REDIRECT_URI', 'http://127.0.0.1/login/oidc/callback')],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    id_token_signed_response_alg: env('ID_TOKEN_ALG', 'RS256'),
  }],
  jwks: { keys },
  cookies: { keys: [randomBytes(16).toString('hex')] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  pkce: { required: () => true },
  // Scope claims (email, email_verified) in the ID token, as Keycloak, Authentik and Google
  // do; with EMAIL_IN_USERINFO_ONLY=1 only in the userinfo answer (as Okta does).
  conformIdTokenClaims: env('EMAIL_IN_USERINFO_ONLY', '') === '1',
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: id, email_verified: !id.startsWith('unverified'), name: `Test ${id}` };
      },
    };
  },
});

// A grant for everything the client asked for (no consent screen).
async function grantAll(details, accountId) {
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(String(details.params.scope || 'openid'));
  grant.addOIDCClaims(['email', 'email_verified', 'name']);
  return grant.save();
}

// The minimal interaction: a labelled login form; consent is given at once.
provider.use(async (ctx, next) => {
  const m = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (!m) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.prompt.name === 'consent') {
    const grantId = await grantAll(details, details.session.accountId);
    return provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  if (ctx.method === 'POST') {
    const body = await new Promise((resolve) => {
      let data = '';
      ctx.req.on('data', (c) => { data += c; });
      ctx.req.on('end', () => resolve(new URLSearchParams(data)));
    });
    const email = (body.get('email') || '').trim();
    const grantId = await grantAll(details, email);
    return provider.interactionFinished(ctx.req, ctx.res,
      { login: { accountId: email }, consent: { grantId } }, { mergeWithLastSubmission: false });
  }
  ctx.type = 'html';
  ctx.body = `<!doctype html><html><head><title>Test provider sign-in</title></head><body>
<h1>Test provider</h1>
<form method="post" action="/interaction/${escape(m[1])}">
<label for="email">Provider email</label> <input id="email" name="email" type="email" required>
<button type="submit">Continue</button>
</form></body></html>`;
  return undefined;
});

server.on('request', provider.callback());
console.log(`issuer ${issuer}`);
