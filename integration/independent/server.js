// An OAuth 2.0 server and resource server that is not finauth's: DPoP (RFC 9449) checked
// with panva's jose, HTTP message signatures (RFC 9421) with dhensby's
// http-message-signatures. finauth's tests (integration/independent_test.go) run finauth's
// clients against it. It asks for nonces, rotates them, revokes tokens, and remembers every
// proof's jti; what it refuses it counts by reason (GET /_stats).
'use strict';
const http = require('node:http');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { jwtVerify, EmbeddedJWK, calculateJwkThumbprint, decodeProtectedHeader } = require('jose');
const { httpbis, createVerifier } = require('http-message-signatures');

const port = Number(process.env.PORT || 0);
const clients = { [process.env.CLIENT_ID || 'independent-client']: process.env.CLIENT_SECRET || 'independent-secret' };
const sigKey = crypto.createPublicKey(fs.readFileSync(process.env.SIG_PUBLIC_KEY));
const sigKeyID = process.env.SIG_KEY_ID || 'sig-1';
const revokeEvery = Number(process.env.REVOKE_EVERY || 0);
const rotateEvery = Number(process.env.ROTATE_NONCE_EVERY || 0);

const stats = { tokens: 0, api_ok: 0, proofs_ok: 0, signatures_ok: 0, refusals: {} };
const tokens = new Map(); // access token -> { jkt, uses, revoked }
const jtis = new Set();
let nonce = crypto.randomBytes(12).toString('base64url');
let apiCalls = 0;

function refuse(res, status, reason, extra = {}) {
  stats.refusals[reason] = (stats.refusals[reason] || 0) + 1;
  res.writeHead(status, { 'content-type': 'application/json', ...extra });
  res.end(JSON.stringify({ error: reason.split(':')[0], error_description: reason }));
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const htuOf = (req) => `http://${req.headers.host}${new URL(req.url, 'http://x').pathname}`;

// checkProof verifies a DPoP proof as RFC 9449 section 4.3 says; it returns the key's
// thumbprint or a refusal reason.
async function checkProof(req, accessToken) {
  const proof = req.headers['dpop'];
  if (!proof || Array.isArray(proof)) return { reason: 'invalid_dpop_proof:missing' };
  let header, payload;
  try {
    header = decodeProtectedHeader(proof);
    ({ payload } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA'] }));
  } catch (e) {
    return { reason: 'invalid_dpop_proof:' + e.code };
  }
  if (header.jwk.d) return { reason: 'invalid_dpop_proof:private_jwk' };
  if (payload.htm !== req.method) return { reason: 'invalid_dpop_proof:htm' };
  if (payload.htu !== htuOf(req)) return { reason: 'invalid_dpop_proof:htu' };
  if (typeof payload.iat !== 'number' || Math.abs(Date.now() / 1000 - payload.iat) > 60) return { reason: 'invalid_dpop_proof:iat' };
  if (typeof payload.jti !== 'string' || !payload.jti) return { reason: 'invalid_dpop_proof:jti' };
  if (accessToken === undefined) {
    if (payload.ath !== undefined) return { reason: 'invalid_dpop_proof:ath' };
  } else if (payload.ath !== b64url(crypto.createHash('sha256').update(accessToken, 'ascii').digest())) {
    return { reason: 'invalid_dpop_proof:ath' };
  }
  if (payload.nonce !== nonce) return { nonce: true };
  if (jtis.has(payload.jti)) return { reason: 'invalid_dpop_proof:jti_replayed' };
  jtis.add(payload.jti);
  return { jkt: await calculateJwkThumbprint(header.jwk, 'sha256') };
}

async function token(req, res, body) {
  const form = new URLSearchParams(body.toString());
  const auth = req.headers['authorization'] || '';
  const [id, secret] = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString().split(':').map(decodeURIComponent);
  if (form.get('grant_type') !== 'client_credentials') return refuse(res, 400, 'unsupported_grant_type');
  if (!auth.startsWith('Basic ') || clients[id] !== secret) return refuse(res, 401, 'invalid_client');
  const p = await checkProof(req, undefined);
  if (p.nonce) return refuse(res, 400, 'use_dpop_nonce', { 'dpop-nonce': nonce });
  if (p.reason) return refuse(res, 400, p.reason);
  const value = crypto.randomBytes(24).toString('base64url');
  tokens.set(value, { jkt: p.jkt, uses: 0, revoked: false });
  stats.tokens++;
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ access_token: value, token_type: 'DPoP', expires_in: 3600 }));
}

async function api(req, res, body) {
  apiCalls++;
  if (rotateEvery && apiCalls % rotateEvery === 0) nonce = crypto.randomBytes(12).toString('base64url');
  const m = /^DPoP (.+)$/.exec(req.headers['authorization'] || '');
  const t = m && tokens.get(m[1]);
  if (!t || t.revoked) return refuse(res, 401, 'invalid_token', { 'www-authenticate': 'DPoP error="invalid_token"' });
  const p = await checkProof(req, m[1]);
  if (p.nonce) return refuse(res, 401, 'use_dpop_nonce', { 'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"', 'dpop-nonce': nonce });
  if (p.reason) return refuse(res, 401, p.reason, { 'www-authenticate': 'DPoP error="invalid_dpop_proof"' });
  if (p.jkt !== t.jkt) return refuse(res, 401, 'invalid_dpop_proof:key');
  stats.proofs_ok++;
  const required = ['@method', '@target-uri', 'authorization', 'dpop'];
  if (body.length > 0) required.push('content-digest');
  let ok = false;
  try {
    ok = await httpbis.verifyMessage({
      keyLookup: async (params) => (params.keyid === sigKeyID ? { id: sigKeyID, algs: ['ecdsa-p256-sha256'], verify: createVerifier(sigKey, 'ecdsa-p256-sha256') } : null),
      requiredFields: required, requiredParams: ['created', 'keyid', 'tag'], maxAge: 60, tolerance: 5,
    }, { method: req.method, url: `http://${req.headers.host}${req.url}`, headers: req.headers });
  } catch (e) {
    return refuse(res, 401, 'invalid_signature:' + (e.name || 'error'));
  }
  if (!ok) return refuse(res, 401, 'invalid_signature:bad_signature');
  if (!/tag="fapi-2-request"/.test(req.headers['signature-input'] || '')) return refuse(res, 401, 'invalid_signature:tag');
  if (body.length > 0) {
    const want = 'sha-256=:' + crypto.createHash('sha256').update(body).digest('base64') + ':';
    const got = (req.headers['content-digest'] || '').split(',').map((s) => s.trim());
    if (!got.includes(want)) return refuse(res, 400, 'invalid_signature:content_digest');
  }
  stats.signatures_ok++;
  t.uses++;
  if (revokeEvery && t.uses >= revokeEvery) t.revoked = true;
  stats.api_ok++;
  res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ok: true, path: req.url }));
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks);
    try {
      if (req.url === '/healthz') { res.end('ok'); return; }
      if (req.url === '/_stats') { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(stats)); return; }
      if (req.url === '/rotate-nonce') { nonce = crypto.randomBytes(12).toString('base64url'); res.end('ok'); return; }
      if (req.url === '/token') { await token(req, res, body); return; }
      await api(req, res, body);
    } catch (e) {
      refuse(res, 500, 'server_error:' + e.message);
    }
  });
});
server.listen(port, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
