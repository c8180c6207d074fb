// A small relying party for the end-to-end tests (issue 13): a web application that signs
// people in with Gatehouse through openid-client (a certified OpenID Connect client library,
// not ours). It discovers Gatehouse, sends the browser to authorize with PKCE, state and nonce,
// trades the code for tokens (the library verifies the ID token against the JWKS, the nonce,
// the state and the RFC 9207 `iss`), reads userinfo, and shows the person's name.
//
//   node rp/relying_party.mjs PORT ISSUER CLIENT_ID CLIENT_SECRET|- NAME [ALG]
//
// Pages: /  (heading NAME; "Sign in with Gatehouse" or "Signed in as …"), /login, /cb,
// /refresh (userinfo again: a name changed in Gatehouse shows; a revoked token signs out),
// /login-form (the same request as a form POST to authorize, OpenID Connect Core 3.1.2.1),
// /bye (where Gatehouse sends the browser after "Sign out of Gatehouse", a form POST to the
// end_session_endpoint with the ID token as hint, RP-Initiated Logout 1.0 §2).
import http from 'node:http';
import crypto from 'node:crypto';
import * as oidc from 'openid-client';

const [port, issuer, clientId, secret, name, alg = 'RS256'] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
const metadata = { id_token_signed_response_alg: alg };
const auth = secret === '-' ? oidc.None() : oidc.ClientSecretBasic(secret);
const config = await oidc.discovery(new URL(issuer), clientId, metadata, auth, {
  execute: [oidc.allowInsecureRequests],
});

/** Browser sessions of this application, by its own cookie. */
const sessions = new Map();

function escape(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(res, body, status = 200) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(name)}</title></head>` +
    `<body><main><h1>${escape(name)}</h1>${body}</main></body></html>`);
}

// Cookies are per host, not per port: each application's cookie has its own name.
const cookie = `rp${port}`;

function sessionOf(req, res) {
  const m = new RegExp(`(?:^|;\\s*)${cookie}=([a-f0-9]+)`).exec(req.headers.cookie ?? '');
  if (m && sessions.has(m[1])) return sessions.get(m[1]);
  const id = crypto.randomBytes(16).toString('hex');
  const s = {};
  sessions.set(id, s);
  res.setHeader('set-cookie', `${cookie}=${id}; Path=/; HttpOnly; SameSite=Lax`);
  return s;
}

function home(res, s) {
  if (!s.user) {
    return page(res, `${s.message ? `<p role="alert">${escape(s.message)}</p>` : ''}<p><a href="/login">Sign in with Gatehouse</a></p>` +
      `<p><a href="/login-form">Sign in with a form</a></p>`);
  }
  const who = `${s.user.given_name ?? ''} ${s.user.family_name ?? ''}`.trim();
  const end = config.serverMetadata().end_session_endpoint;
  page(res, `<p>Signed in as <strong>${escape(who)}</strong></p>` +
    (s.user.picture ? `<p><img alt="Your picture" src="${escape(s.user.picture)}" width="64" height="64"></p>` : '') +
    `<p><a href="/refresh">Refresh profile</a></p>` +
    `<form method="post" action="${escape(end)}">${hidden({
      id_token_hint: s.idToken, client_id: clientId, post_logout_redirect_uri: `${base}/bye`, state: 'rp-state',
    })}<button type="submit">Sign out of Gatehouse</button></form>`);
}

function hidden(fields) {
  return Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${escape(k)}" value="${escape(v)}">`)
    .join('');
}

/** A new authorization request of this browser session: its parameters. */
async function request(s) {
  s.verifier = oidc.randomPKCECodeVerifier();
  s.state = oidc.randomState();
  s.nonce = oidc.randomNonce();
  return {
    client_id: clientId,
    response_type: 'code',
    redirect_uri: `${base}/cb`,
    scope: 'openid profile email',
    code_challenge: await oidc.calculatePKCECodeChallenge(s.verifier),
    code_challenge_method: 'S256',
    state: s.state,
    nonce: s.nonce,
  };
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, base);
  const s = sessionOf(req, res);
  try {
    if (url.pathname === '/') return home(res, s);
    if (url.pathname === '/login') {
      const { client_id: _, response_type: __, ...params } = await request(s);
      const to = oidc.buildAuthorizationUrl(config, params);
      res.writeHead(302, { location: to.href });
      return res.end();
    }
    if (url.pathname === '/login-form') {
      const end = config.serverMetadata().authorization_endpoint;
      return page(res, `<form method="post" action="${escape(end)}">${hidden(await request(s))}` +
        `<button type="submit">Continue to Gatehouse</button></form>`);
    }
    if (url.pathname === '/bye') {
      const ok = url.searchParams.get('state') === 'rp-state';
      sessions.forEach((v, k) => { if (v === s) sessions.delete(k); });
      return page(res, `<p role="status">${ok ? 'You are signed out of Gatehouse' : 'Unexpected state'}</p>`);
    }
    if (url.pathname === '/cb') {
      if (url.searchParams.get('error')) {
        s.message = `Sign-in failed: ${url.searchParams.get('error')}`;
        res.writeHead(302, { location: '/' });
        return res.end();
      }
      const tokens = await oidc.authorizationCodeGrant(config, url, {
        pkceCodeVerifier: s.verifier,
        expectedState: s.state,
        expectedNonce: s.nonce,
      });
      const claims = tokens.claims();
      s.sub = claims.sub;
      s.access = tokens.access_token;
      s.idToken = tokens.id_token;
      s.user = await oidc.fetchUserInfo(config, s.access, s.sub);
      s.message = undefined;
      res.writeHead(302, { location: '/' });
      return res.end();
    }
    if (url.pathname === '/refresh') {
      try {
        s.user = await oidc.fetchUserInfo(config, s.access, s.sub);
      } catch {
        s.user = undefined;
        s.message = 'You are signed out';
      }
      res.writeHead(302, { location: '/' });
      return res.end();
    }
    page(res, '<p>Not found</p>', 404);
  } catch (e) {
    page(res, `<p role="alert">Sign-in failed: ${escape(e.message ?? e)}</p>`, 500);
  }
});
server.listen(Number(port), '127.0.0.1', () => console.log(`listening on ${base}`));
