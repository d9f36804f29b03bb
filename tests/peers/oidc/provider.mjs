// A real OpenID Provider for the tests: npm `oidc-provider` (pinned in package-lock.json),
// configured here and nothing of the protocol written here. Manual: tests/peers/README.md.
//
//     node tests/peers/oidc/provider.mjs --config JSON [--tls-dir DIR] [--log FILE]
//
// Binds 127.0.0.1 on a free port, prints one line {"port": N, "issuer": "...", "control":
// "http://127.0.0.1:M"} on stdout when ready, and exits when its stdin reaches EOF.
// `--tls-dir DIR`: serve HTTPS with DIR/server.pem and DIR/server-key.pem (tests/peers/certs.py
// writes them beside ca.pem); the test-only /fake/ endpoints are then also on plain HTTP at
// `control` (without TLS, `control` is the issuer).

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

// stdout carries the ready line alone; oidc-provider's notices go to stderr.
console.log = console.error;
console.info = console.error;

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

const { values: args } = parseArgs({
  options: {
    config: { type: 'string', default: '{}' },
    'tls-dir': { type: 'string' },
    log: { type: 'string' },
  },
});
const config = JSON.parse(args.config);
const accounts = config.accounts ?? [];
// Seconds; POST /fake/config changes them while the provider runs.
const ttl = {
  IdToken: 3600, AccessToken: 3600, RefreshToken: 86400, AuthorizationCode: 60,
  DeviceCode: 600, Interaction: 600, Session: 3600, Grant: 86400, ...config.ttl,
};
let wrongJwks = false;

// The tokens and grants, in one store so a test can revoke what a client or account holds.
// (oidc-provider's own memory adapter keeps its store private.)
const store = new Map();

class TestAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  static live(key) {
    const entry = store.get(key);
    if (entry && entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry?.payload;
  }

  findBy(field, value) {
    for (const [key, entry] of store) {
      if (key.startsWith(`${this.model}:`) && entry.payload[field] === value) {
        return TestAdapter.live(key);
      }
    }
    return undefined;
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : undefined;
    store.set(this.key(id), { payload, expiresAt });
  }

  async find(id) { return TestAdapter.live(this.key(id)); }

  async findByUid(uid) { return this.findBy('uid', uid); }

  async findByUserCode(userCode) { return this.findBy('userCode', userCode); }

  async consume(id) {
    const payload = TestAdapter.live(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { store.delete(this.key(id)); }

  async revokeByGrantId(grantId) { revokeGrant(grantId); }
}

function revokeGrant(grantId) {
  for (const [key, entry] of store) {
    if (entry.payload.grantId === grantId || key === `Grant:${grantId}`) store.delete(key);
  }
}

// Every grant holding a live refresh token of `clientId` / `sub` (either may be absent).
function revokeRefreshGrants({ client_id: clientId, sub }) {
  const grants = new Set();
  for (const [key, entry] of store) {
    const p = entry.payload;
    if (key.startsWith('RefreshToken:') && TestAdapter.live(key)
      && (clientId === undefined || p.clientId === clientId)
      && (sub === undefined || p.accountId === sub)) {
      grants.add(p.grantId);
    }
  }
  grants.forEach(revokeGrant);
  return grants.size;
}

function clientMetadata(client) {
  const metadata = {
    grant_types: ['authorization_code', 'refresh_token', DEVICE_GRANT],
    response_types: ['code'],
    ...client,
  };
  if (!client.client_secret && !client.token_endpoint_auth_method) {
    metadata.token_endpoint_auth_method = 'none';
  }
  return metadata;
}

// The ID token signing key: RS256, new at each start.
const signingKey = () => ({
  ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  alg: 'RS256',
  use: 'sig',
  kid: randomBytes(8).toString('hex'),
});
const key = signingKey();
// What GET /jwks shows after POST /fake/config {"wrong_jwks": true}: a key that signed nothing.
const { d, p, q, dp, dq, qi, ...otherPublic } = signingKey();

const tlsDir = args['tls-dir'];
const server = tlsDir
  ? https.createServer({
    cert: readFileSync(join(tlsDir, 'server.pem')),
    key: readFileSync(join(tlsDir, 'server-key.pem')),
  })
  : http.createServer();
await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
const { port } = server.address();
const issuer = `${tlsDir ? 'https' : 'http'}://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: (config.clients ?? []).map(clientMetadata),
  async findAccount(_ctx, sub) {
    const account = accounts.find((a) => a.sub === sub);
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims() {
        const { password, ...claims } = account;
        return { email_verified: true, groups: [], ...claims };
      },
    };
  },
  // Okta's shape: `groups` with every ID token, `email` with the `email` scope.
  claims: config.claims ?? {
    openid: ['sub', 'groups'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  },
  conformIdTokenClaims: false,
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    revocation: { enabled: true },
  },
  pkce: { required: () => true },
  rotateRefreshToken: () => true,
  ttl: Object.fromEntries(Object.keys(ttl).map((name) => [name, () => ttl[name]])),
  jwks: { keys: [key] },
  cookies: { keys: [randomBytes(16).toString('hex')] },
  adapter: TestAdapter,
});
provider.proxy = false;

const requests = [];
function record(entry) {
  requests.push(entry);
  if (args.log) appendFileSync(args.log, `${JSON.stringify(entry)}\n`);
}

async function readJson(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body ? JSON.parse(body) : {};
}

// An error answered as an HTML page (a bad redirect URI) is known from its event only.
for (const name of ['authorization.error', 'grant.error', 'revocation.error', 'discovery.error',
  'jwks.error', 'userinfo.error', 'device_authorization.error', 'code_verification.error',
  'end_session.error', 'server_error']) {
  provider.on(name, (ctx, err) => { ctx.state.error ??= err.error ?? 'server_error'; });
}

// The request log: what was asked and answered, never a token, code, secret or verifier.
provider.use(async (ctx, next) => {
  if (ctx.path.startsWith('/fake/')) return next();
  await next();
  const entry = {
    time: Date.now() / 1000,
    method: ctx.method,
    // Interaction and resume paths end in a handle: left out.
    path: ctx.path.replace(/\/[\w-]{30,}/g, '/:uid'),
    op: ctx.state.op ?? ctx.oidc?.route ?? 'other',
    status: ctx.status,
  };
  const params = ctx.oidc?.params ?? {};
  if (entry.op === 'token' && params.grant_type) entry.grant = params.grant_type;
  if (ctx.oidc?.client) entry.client_id = ctx.oidc.client.clientId;
  if (entry.op === 'submit' && ctx.req.body?.prompt) entry.prompt = ctx.req.body.prompt;
  let error = ctx.state.error ?? (ctx.status >= 400 ? ctx.body?.error : undefined);
  const location = ctx.response.get('Location');
  if (!error && location) error = URL.parse(location, issuer)?.searchParams.get('error') ?? undefined;
  if (error) entry.error = error;
  record(entry);
  if (entry.op === 'jwks' && wrongJwks) ctx.body = { keys: [otherPublic] };
  return undefined;
});

// With TLS the test-only endpoints are on a plain HTTP port of their own too (`control`),
// which serves nothing else.
const control = tlsDir ? http.createServer() : server;
if (tlsDir) await new Promise((resolve) => { control.listen(0, '127.0.0.1', resolve); });
const controlUrl = `http://127.0.0.1:${control.address().port}`;

// The test-only endpoints, never logged.
provider.use(async (ctx, next) => {
  if (!ctx.path.startsWith('/fake/')) {
    if (tlsDir && ctx.req.socket.localPort === control.address().port) {
      ctx.status = 404;
      return undefined;
    }
    return next();
  }
  if (ctx.method === 'GET' && ctx.path === '/fake/requests') {
    ctx.body = requests;
  } else if (ctx.method === 'POST' && ctx.path === '/fake/revoke') {
    ctx.body = { revoked: revokeRefreshGrants(await readJson(ctx.req)) };
  } else if (ctx.method === 'POST' && ctx.path === '/fake/config') {
    const change = await readJson(ctx.req);
    Object.assign(ttl, change.ttl);
    if (change.wrong_jwks !== undefined) wrongJwks = change.wrong_jwks;
    ctx.body = { ttl, wrong_jwks: wrongJwks };
  } else {
    ctx.status = 404;
  }
  return undefined;
});

// The sign-in form: oidc-provider's development pages take any login as the account id
// (and fail later on an unknown one); here the login is an account's `sub` or `email`, and
// its `password` when it has one. A refused sign-in shows the form again.
provider.use(async (ctx, next) => {
  if (ctx.method !== 'POST' || !/^\/interaction\/[^/]+$/.test(ctx.path)
    || !ctx.is('application/x-www-form-urlencoded')) return next();
  let text = '';
  for await (const chunk of ctx.req) text += chunk;
  const form = Object.fromEntries(new URLSearchParams(text));
  if (form.prompt === 'login') {
    const account = accounts.find((a) => a.sub === form.login || a.email === form.login);
    if (!account || (account.password !== undefined && account.password !== form.password)) {
      ctx.req.body = { prompt: form.prompt };
      ctx.state.op = 'submit';
      ctx.state.error = 'login_refused';
      ctx.redirect(ctx.path);
      ctx.status = 303;
      return undefined;
    }
    form.login = account.sub;
  }
  ctx.req.body = form; // oidc-provider reads a body parsed before it
  return next();
});

// Like Okta, `offline_access` alone gets a refresh token; oidc-provider drops the scope
// from an authorization request without `prompt=consent` (the consent page shows anyway).
provider.use(async (ctx, next) => {
  if (ctx.path === '/auth' && ctx.method === 'GET' && !ctx.query.prompt
    && String(ctx.query.scope ?? '').split(' ').includes('offline_access')) {
    ctx.query = { ...ctx.query, prompt: 'consent' };
  }
  return next();
});

server.on('request', provider.callback());
if (tlsDir) control.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ port, issuer, control: controlUrl })}\n`);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
