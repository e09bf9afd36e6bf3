/**
 * The codec server over real HTTP on a free loopback port: the remote codec protocol the Web UI and the `temporal` CLI
 * speak, its CORS, its X-Namespace and key checks, body validation, and what it never logs.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { request } from 'undici';
import { sha256Hex } from '../../../src/api/auth';
import { createCodecApp, startCodecServer, type CodecServer } from '../../../src/codec/codec-server';
import { EncryptionCodec } from '../../../src/codec/encryption-codec';
import { toJsonPayload, type JsonPayload } from '../../../src/codec/payload-json';
import { PayloadKeyRing } from '../../../src/codec/payload-keys';
import { ConfigError } from '../../../src/config/config-error';

const UI = 'http://127.0.0.1:8233';
const KEY = `wxr_test_${randomBytes(16).toString('hex')}`;
const keys = new PayloadKeyRing(new Map([['k1', randomBytes(32)]]), 'WXREFUND_PAYLOAD_KEYS');
const codec = new EncryptionCodec(keys);
const refund = { outTradeNo: 'T20261203000123', amountFen: 2_468, userReceivedAccount: '招商银行信用卡0403' };

const base = {
  host: '127.0.0.1',
  port: 0,
  keys,
  allowedOrigins: [UI, 'http://localhost:8233'],
  namespaces: ['default'],
  apiKeys: [{ name: 'ops-cli', sha256: sha256Hex(KEY) }],
};

let server: CodecServer;
let devServer: CodecServer;
const logs: string[] = [];

beforeAll(async () => {
  const logStream = new PassThrough();
  logStream.on('data', (chunk: Buffer) => logs.push(chunk.toString('utf8')));
  server = await startCodecServer({ ...base, logStream });
  devServer = await startCodecServer({ ...base, apiKeys: [], allowOriginWithoutKey: true, logStream });
});
afterAll(async () => {
  await server?.close();
  await devServer?.close();
});

async function call(
  target: CodecServer,
  path: string,
  {
    method = 'POST',
    headers = {},
    body,
  }: { method?: 'POST' | 'OPTIONS' | 'GET'; headers?: Record<string, string>; body?: unknown } = {},
) {
  const res = await request(`${target.url}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

const auth = { authorization: `Bearer ${KEY}`, 'x-namespace': 'default' };
const encrypted = async (value: unknown): Promise<JsonPayload> =>
  toJsonPayload((await codec.encode([defaultPayloadConverter.toPayload(value)!]))[0]);
const valueOf = (p: JsonPayload) =>
  defaultPayloadConverter.fromPayload({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data ?? '', 'base64'),
  } as Payload);

describe('codec server: the remote codec protocol', () => {
  it('/decode turns encrypted payloads back into the originals, and passes clear ones through', async () => {
    const clear = toJsonPayload(defaultPayloadConverter.toPayload('already clear')!);
    const res = await call(server, '/decode', { headers: auth, body: { payloads: [await encrypted(refund), clear] } });
    expect(res.status).toBe(200);
    expect(res.json.payloads).toHaveLength(2);
    expect(valueOf(res.json.payloads[0])).toEqual(refund);
    expect(res.json.payloads[1]).toEqual(clear);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('/encode encrypts under the current key (what the Web UI sends when an operator signals a workflow)', async () => {
    const plain = toJsonPayload(defaultPayloadConverter.toPayload(refund)!);
    const res = await call(server, '/encode', { headers: auth, body: { payloads: [plain] } });
    expect(res.status).toBe(200);
    const [out] = res.json.payloads as JsonPayload[];
    expect(Buffer.from(out.metadata!.encoding, 'base64').toString()).toBe('binary/encrypted');
    expect(Buffer.from(out.metadata!['encryption-key-id'], 'base64').toString()).toBe('k1');
    expect(Buffer.from(out.data!, 'base64').includes(Buffer.from('招商银行信用卡0403'))).toBe(false);
    const back = await call(server, '/decode', { headers: auth, body: { payloads: [out] } });
    expect(valueOf(back.json.payloads[0])).toEqual(refund);
  });

  it('accepts URL-safe base64 (proto3 JSON allows it) and an empty list', async () => {
    const p = await encrypted(refund);
    const urlSafe = { ...p, data: Buffer.from(p.data!, 'base64').toString('base64url') };
    const res = await call(server, '/decode', { headers: auth, body: { payloads: [urlSafe] } });
    expect(res.status).toBe(200);
    expect(valueOf(res.json.payloads[0])).toEqual(refund);
    expect((await call(server, '/decode', { headers: auth, body: { payloads: [] } })).json).toEqual({ payloads: [] });
  });

  it('a tampered payload fails the request with 422, naming its index and key id', async () => {
    const p = await encrypted(refund);
    const bytes = Buffer.from(p.data!, 'base64');
    bytes[20] ^= 1;
    const res = await call(server, '/decode', {
      headers: auth,
      body: { payloads: [await encrypted('fine'), { ...p, data: bytes.toString('base64') }] },
    });
    expect(res.status).toBe(422);
    expect(res.json.error).toMatch(/^payloads\.1: payload encrypted with key 'k1' failed authentication/);
  });
});

describe('codec server: CORS for the Web UI', () => {
  it('answers the preflight of an allowed origin with the headers the Web UI sends, credentials allowed', async () => {
    const res = await call(server, '/decode', {
      method: 'OPTIONS',
      headers: {
        origin: UI,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-namespace,authorization',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(UI);
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(res.headers['access-control-allow-methods']).toContain('POST');
    const allowed = String(res.headers['access-control-allow-headers']).toLowerCase();
    for (const h of ['content-type', 'x-namespace', 'authorization']) expect(allowed).toContain(h);
    expect(res.headers.vary).toContain('Origin');
  });

  it('refuses another origin: preflight and request get 403 and no CORS headers', async () => {
    const evil = 'https://evil.example';
    const pre = await call(server, '/decode', {
      method: 'OPTIONS',
      headers: { origin: evil, 'access-control-request-method': 'POST' },
    });
    expect(pre.status).toBe(403);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    // Even with a valid key: a page on another site must not use an operator's browser to decode.
    const res = await call(server, '/decode', { headers: { ...auth, origin: evil }, body: { payloads: [] } });
    expect(res.status).toBe(403);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('gives an allowed origin its CORS headers on refusals too, so the Web UI can show why', async () => {
    const res = await call(server, '/decode', {
      headers: { origin: UI, 'x-namespace': 'default' },
      body: { payloads: [] },
    });
    expect(res.status).toBe(401);
    expect(res.headers['access-control-allow-origin']).toBe(UI);
  });
});

describe('codec server: who may call', () => {
  it('requires X-Namespace (400) and serves only the configured namespaces (403)', async () => {
    const missing = await call(server, '/decode', {
      headers: { authorization: `Bearer ${KEY}` },
      body: { payloads: [] },
    });
    expect(missing.status).toBe(400);
    expect(missing.json.error).toMatch(/X-Namespace/);
    // The temporal CLI without --namespace sends it empty, and means Temporal's default namespace.
    const cliDefault = await call(server, '/decode', {
      headers: { ...auth, 'x-namespace': '' },
      body: { payloads: [] },
    });
    expect(cliDefault.status).toBe(200);
    const other = await call(server, '/decode', {
      headers: { ...auth, 'x-namespace': 'payments-prod' },
      body: { payloads: [] },
    });
    expect(other.status).toBe(403);
    expect(other.json.error).toMatch(/namespace payments-prod/);
  });

  it('refuses a wrong key or none with 401 and a Bearer challenge', async () => {
    for (const authorization of [`Bearer ${KEY}x`, `Bearer ${sha256Hex(KEY)}`, KEY, undefined]) {
      const headers: Record<string, string> = { 'x-namespace': 'default' };
      if (authorization !== undefined) headers.authorization = authorization;
      const res = await call(server, '/decode', { headers, body: { payloads: [await encrypted(refund)] } });
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(JSON.stringify(res.json)).not.toContain('T20261203000123');
    }
  });

  it('dev (loopback, allowOriginWithoutKey): the Web UI origin decodes without a key; nothing else does', async () => {
    const body = { payloads: [await encrypted(refund)] };
    const ui = await call(devServer, '/decode', { headers: { origin: UI, 'x-namespace': 'default' }, body });
    expect(ui.status).toBe(200);
    expect(valueOf(ui.json.payloads[0])).toEqual(refund);
    const noOrigin = await call(devServer, '/decode', { headers: { 'x-namespace': 'default' }, body });
    expect(noOrigin.status).toBe(401);
    const evil = await call(devServer, '/decode', {
      headers: { origin: 'http://localhost:9999', 'x-namespace': 'default' },
      body,
    });
    expect(evil.status).toBe(403);
    // A presented key must be valid even here: a wrong one is never treated as "no key".
    const wrongKey = await call(devServer, '/decode', {
      headers: { origin: UI, 'x-namespace': 'default', authorization: 'Bearer nope' },
      body,
    });
    expect(wrongKey.status).toBe(401);
  });

  it('dev: a request whose Host is not loopback (DNS rebinding) is refused even from an allowed origin', async () => {
    const res = await call(devServer, '/decode', {
      headers: { origin: UI, 'x-namespace': 'default', host: 'attacker.example:80' },
      body: { payloads: [] },
    });
    expect(res.status).toBe(401);
  });

  it('refuses at start-up to let origins in without a key on a non-loopback address', () => {
    expect(() => createCodecApp({ ...base, host: '0.0.0.0', allowOriginWithoutKey: true })).toThrow(ConfigError);
    expect(() => createCodecApp({ ...base, host: '0.0.0.0', allowOriginWithoutKey: true })).toThrow(/loopback/);
    expect(() => createCodecApp({ ...base, apiKeys: [] })).toThrow(/no API key hashes/);
    expect(() => createCodecApp({ ...base, allowedOrigins: ['http://ui.example/path'] })).toThrow(/scheme:\/\/host/);
  });
});

describe('codec server: bodies', () => {
  it.each([
    [{}, /^payloads: /],
    [{ payloads: 'x' }, /^payloads: /],
    [{ payloads: [{ data: 'not base64!' }] }, /^payloads\.0\.data: must be base64/],
    [{ payloads: [{ metadata: { encoding: 42 } }] }, /^payloads\.0\.metadata\.encoding: /],
    [{ payloads: [{ data: '', extra: 1 }] }, /extra/],
    [{ payloads: [], more: true }, /more/],
  ])('validates %j, naming the field', async (body, message) => {
    const res = await call(server, '/decode', { headers: auth, body });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatch(message);
  });

  it('refuses bodies that are not JSON (400, without echoing them), not application/json (415), or too large (413)', async () => {
    const bad = await call(server, '/decode', { headers: auth, body: '{"payloads": [招商银行信用卡0403' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).not.toContain('0403');
    const text = await request(`${server.url}/decode`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'text/plain' },
      body: '{"payloads":[]}',
    });
    expect(text.statusCode).toBe(415);
    await text.body.dump();
    const small = await startCodecServer({ ...base, bodyLimitBytes: 2048, logLevel: 'silent' });
    try {
      const big = await call(small, '/decode', { headers: auth, body: { payloads: [{ data: 'A'.repeat(4096) }] } });
      expect(big.status).toBe(413);
    } finally {
      await small.close();
    }
  });
});

describe('codec server: logs', () => {
  it('logs callers and counts, never payloads, plaintext, keys or the Authorization header', async () => {
    const before = logs.length;
    const p = await encrypted(refund);
    await call(server, '/decode', { headers: auth, body: { payloads: [p] } });
    await call(server, '/decode', {
      headers: { ...auth, authorization: 'Bearer wrong-key-123' },
      body: { payloads: [p] },
    });
    const lines = logs.slice(before).join('');
    expect(lines).toContain('ops-cli');
    for (const secret of [KEY, 'wrong-key-123', p.data!, '招商银行信用卡0403', 'T20261203000123', sha256Hex(KEY)]) {
      expect(lines).not.toContain(secret);
    }
  });

  it('answers /healthz without a key or a namespace', async () => {
    const res = await call(server, '/healthz', { method: 'GET' });
    expect(res.status).toBe(200);
  });
});
