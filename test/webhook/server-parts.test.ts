/**
 * The webhook's parts on their own, without Temporal or real keys: which merchant a path serves, the refusals the
 * notification routes decide before verification, the fallback answers, and the deadline. The whole server over real
 * HTTP is covered by hardening.test.ts and notifications.test.ts.
 */
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { request } from 'undici';
import { webhookConfigSchema } from '../../src/webhook/config';
import { withinDeadline, type RouteDeadline } from '../../src/webhook/deadline';
import { frameworkRefusal, registerFallbackHandlers } from '../../src/webhook/fallback-handlers';
import { createHttpApp } from '../../src/webhook/http-app';
import type { MerchantVerifier } from '../../src/webhook/merchant-verifier';
import { createWebhookMetrics } from '../../src/webhook/metrics';
import type { NotificationHandlerDeps, Outcome } from '../../src/webhook/notification-handler';
import { registerNotificationRoutes, type NotificationRoutesContext } from '../../src/webhook/notification-routes';
import { createRegistry } from '../../src/merchants/registry';
import {
  MerchantCredentialError,
  type MerchantEntry,
  type MerchantGateways,
  type MerchantRegistry,
  type RegistryChange,
} from '../../src/merchants/types';
import { fixedDirectory } from '../../src/webhook/merchant-directory';
import { registryDirectory } from '../../src/webhook/registry-verifiers';

const V2_ONLY: MerchantVerifier = { mchid: '1900000109', decodeV2: async () => Promise.reject(new Error('unused')) };
const OTHER: MerchantVerifier = { mchid: '1900000110' };
const silent = new Writable({ write: (_chunk, _enc, done) => done() });

describe('fixedDirectory', () => {
  const defaultOf = (...args: Parameters<typeof fixedDirectory>) => fixedDirectory(...args).current().defaultMchid;

  it('serves the only merchant on the paths without /:mchid, none when there are several', () => {
    expect(defaultOf([V2_ONLY], undefined)).toBe('1900000109');
    expect(defaultOf([V2_ONLY, OTHER], undefined)).toBeUndefined();
    expect(defaultOf([V2_ONLY, OTHER], '1900000110')).toBe('1900000110');
  });

  it('takes the merchant marked default (the simulator manifest’s first direct one) unless configured otherwise', () => {
    const marked = { ...OTHER, isDefault: true };
    expect(defaultOf([V2_ONLY, marked], undefined)).toBe('1900000110');
    expect(defaultOf([V2_ONLY, marked], '1900000109')).toBe('1900000109');
  });

  it('refuses a default that names no merchant', () => {
    expect(() => fixedDirectory([V2_ONLY], '42')).toThrow(
      'webhook.defaultMchid 42 is not one of the merchants (1900000109)',
    );
  });
});

/** A v2 merchant of a hand-made registry: its API key, or the error reading it throws. */
function v2Entry(mchid: string, fingerprint: string, key: string | Error, isDefault = false): MerchantEntry {
  return {
    mchid,
    apiVersion: 'v2',
    mode: 'direct',
    isDefault,
    budget: { createsPerSecond: 1, queriesPerSecond: 1 },
    fingerprint,
    resolveEvents: () => undefined,
    gatewayConfig() {
      if (key instanceof Error) throw key;
      return {
        apiVersion: 'v2',
        v2: { mchid, appid: 'wx0', apiKey: key, clientCertificate: '', clientPrivateKey: '' },
      };
    },
  };
}

/** Just the part of the gateway pool the webhook's directory uses (v2 merchants have no keyring). */
function poolOf(initial: MerchantRegistry) {
  let current = initial;
  const listeners: Array<(c: RegistryChange, r: MerchantRegistry) => void> = [];
  const pool = {
    registry: () => current,
    keyringOf: () => undefined,
    onChange(listener: (c: RegistryChange, r: MerchantRegistry) => void) {
      listeners.push(listener);
      return () => undefined;
    },
    replaceRegistry(next: MerchantRegistry, change: RegistryChange) {
      current = next;
      for (const l of listeners) l(change, next);
      return change;
    },
  };
  return pool as unknown as MerchantGateways & {
    replaceRegistry(n: MerchantRegistry, c: RegistryChange): RegistryChange;
  };
}

describe('registryDirectory', () => {
  const KEY_A = 'a'.repeat(32);
  const KEY_B = 'b'.repeat(32);

  it('builds each verifier once; a reload gives new requests the new ones, earlier views keep theirs', () => {
    const pool = poolOf(createRegistry('r1', [v2Entry('1900000109', 'a1', KEY_A, true)]));
    const directory = registryDirectory(pool);
    const before = directory.current();
    const first = before.lookup('1900000109');
    expect(first.kind).toBe('ready');
    expect(before.lookup('1900000109')).toEqual(first);
    expect(before.lookup('1900000110')).toEqual({ kind: 'unknown' });

    pool.replaceRegistry(
      createRegistry('r2', [v2Entry('1900000109', 'a2', KEY_B), v2Entry('1900000110', 'c1', KEY_A, true)]),
      { added: ['1900000110'], removed: [], changed: ['1900000109'] },
    );
    const after = directory.current();
    expect(after.defaultMchid).toBe('1900000110');
    expect(after.lookup('1900000110').kind).toBe('ready');
    const rebuilt = after.lookup('1900000109');
    expect(rebuilt.kind === 'ready' && first.kind === 'ready' && rebuilt.verifier !== first.verifier).toBe(true);
    // A request that arrived before the reload goes on with the merchants and default it started with.
    expect(before.defaultMchid).toBe('1900000109');
    expect(before.mchids()).toEqual(['1900000109']);
  });

  it('one merchant’s unreadable or invalid key makes only that merchant unavailable, naming the setting', () => {
    const secret = 'not-32-characters';
    const missing = new MerchantCredentialError(
      '1900000111',
      'merchants[1900000111].v2.apiKey',
      'merchants[1900000111].v2.apiKey: cannot read /run/secrets/k: ENOENT',
    );
    const directory = registryDirectory(
      poolOf(
        createRegistry('r', [
          v2Entry('1900000109', 'a', KEY_A, true),
          v2Entry('1900000110', 'b', secret),
          v2Entry('1900000111', 'c', missing),
        ]),
      ),
    );
    const view = directory.current();
    expect(view.lookup('1900000109').kind).toBe('ready');
    const invalid = view.lookup('1900000110');
    expect(invalid).toEqual({
      kind: 'unavailable',
      setting: 'merchants[1900000110].v2.apiKey',
      message: 'merchants[1900000110].v2.apiKey: must be 32 printable ASCII characters',
    });
    expect(JSON.stringify(invalid)).not.toContain(secret);
    expect(view.lookup('1900000111')).toMatchObject({
      kind: 'unavailable',
      setting: 'merchants[1900000111].v2.apiKey',
    });
    expect([...view.others('1900000110')].map((v) => v.mchid)).toEqual(['1900000109']);
  });
});

describe('notification routes and fallback answers on a bare app', () => {
  let app: FastifyInstance;
  let ctx: NotificationRoutesContext;
  let baseUrl: string;

  beforeAll(async () => {
    const config = webhookConfigSchema.parse({ port: 0 });
    ctx = {
      // Never reached: every request below is refused before verification.
      handlerDeps: {} as NotificationHandlerDeps,
      directory: fixedDirectory([V2_ONLY], undefined),
      metrics: createWebhookMetrics(),
      handlerTimeoutMs: config.handlerTimeoutMs,
    };
    app = createHttpApp(config, silent);
    registerNotificationRoutes(app, 'v3', ctx);
    registerNotificationRoutes(app, 'v2', ctx);
    registerFallbackHandlers(app, ctx);
    await app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => app.close());

  async function call(method: 'GET' | 'POST', path: string, contentType?: string, body?: string) {
    const res = await request(baseUrl + path, {
      method,
      headers: contentType ? { 'content-type': contentType } : {},
      body,
    });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  }

  it('a v3 JSON body for a merchant with only v2 keys → 404, counted as a refusal', async () => {
    const res = await call('POST', '/wechatpay/v3/refund-notify', 'application/json', '{}');
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text)).toEqual({ code: 'FAIL', message: 'API v3 is not configured for this merchant' });
    expect(res.headers['cache-control']).toBe('no-store');
    const rejections = await ctx.metrics.rejections.get();
    expect(rejections.values).toContainEqual(
      expect.objectContaining({ labels: { api_version: 'v3', reason: 'VERSION_NOT_CONFIGURED' }, value: 1 }),
    );
  });

  it('JSON on the v2 route → 415, answered in JSON; an unknown merchant → 404 in v2 XML', async () => {
    const json = await call('POST', '/wechatpay/v2/refund-notify', 'application/json', '{}');
    expect(json.status).toBe(415);
    expect(JSON.parse(json.text)).toEqual({ code: 'FAIL', message: 'unsupported content type' });
    const unknown = await call('POST', '/wechatpay/v2/refund-notify/42', 'text/xml', '<xml/>');
    expect(unknown.status).toBe(404);
    expect(unknown.text).toContain('<return_code><![CDATA[FAIL]]></return_code>');
    expect(unknown.text).toContain('unknown merchant');
  });

  it('an unknown path → 404 JSON; a body Fastify cannot take → answered in the route’s format', async () => {
    const missing = await call('GET', '/nope');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.text)).toEqual({ code: 'FAIL', message: 'not found' });
    const tooLarge = await call('POST', '/wechatpay/v2/refund-notify', 'text/xml', 'x'.repeat(128 * 1024));
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.text).toContain('<return_msg><![CDATA[body too large]]></return_msg>');
  });
});

describe('frameworkRefusal', () => {
  it('gives fixed texts: 4xx stay 4xx, anything else is a 500', () => {
    const err = (code: string, statusCode?: number) => Object.assign(new Error('detail'), { code, statusCode });
    expect(frameworkRefusal(err('FST_ERR_CTP_BODY_TOO_LARGE', 413))).toEqual({
      reason: 'BODY_TOO_LARGE',
      status: 413,
      message: 'body too large',
    });
    expect(frameworkRefusal(err('FST_ERR_X', 408))).toEqual({
      reason: 'BAD_REQUEST',
      status: 408,
      message: 'bad request',
    });
    expect(frameworkRefusal(err('FST_ERR_X'))).toEqual({ reason: 'INTERNAL', status: 500, message: 'internal error' });
  });
});

describe('withinDeadline', () => {
  const req = { log: { warn: jest.fn(), error: jest.fn() } } as unknown as FastifyRequest;

  it('answers 503 at the deadline and aborts the late work, which may then no longer commit to a signal', async () => {
    let deadline: RouteDeadline | undefined;
    const outcome = await withinDeadline(req, 20, (d) => {
      deadline = d;
      return new Promise(() => undefined);
    });
    expect(outcome).toMatchObject({ result: 'temporal_unavailable', reason: 'HANDLER_TIMEOUT' });
    expect(outcome.answer.httpStatus).toBe(503);
    expect(deadline?.signal.aborted).toBe(true);
    expect(deadline?.commit()).toBe(false);
  });

  it('never answers 503 over a signal under way: once committed, the signal’s own outcome is the answer', async () => {
    const accepted: Outcome = { result: 'accepted', answer: { httpStatus: 200, ok: true, message: 'OK' } };
    const outcome = await withinDeadline(req, 20, async (d) => {
      expect(d.commit()).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 80)); // the signal returns after the deadline
      return accepted;
    });
    expect(outcome).toBe(accepted);
  });

  it('counts the deadline from the request’s arrival, not from when the handler ran', async () => {
    const started = Date.now();
    const outcome = await withinDeadline(req, 1_000, () => new Promise(() => undefined), Date.now() - 950);
    expect(outcome.answer.httpStatus).toBe(503);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('turns an unexpected error into a 500 whose text says nothing about it', async () => {
    const outcome = await withinDeadline(req, 1_000, async () => Promise.reject(new Error('secret detail')));
    expect(outcome).toEqual({ result: 'error', answer: { httpStatus: 500, ok: false, message: 'internal error' } });
  });
});
