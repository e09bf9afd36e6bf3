/**
 * The codec server: Temporal's remote codec protocol over HTTP, so the Web UI and the `temporal` CLI show decoded
 * payloads while the Temporal server stores only ciphertext (docs/encryption.md).
 *
 * POST /decode and POST /encode take `{ "payloads": [ { "metadata": { k: base64 }, "data": base64 } ] }` (proto3 JSON,
 * payload-json.ts) and answer the same shape, run through EncryptionCodec. GET /healthz answers 200 (no payload, no
 * key). Every payload route requires, in this order:
 *
 * 1. CORS: a request that carries an Origin header must come from one of `allowedOrigins` (the Web UI's), else 403
 *    without CORS headers. Allowed origins get `Access-Control-Allow-Origin: <origin>` with credentials allowed, and
 *    their preflight (OPTIONS) is answered 204 with `Access-Control-Allow-Headers: Content-Type, X-Namespace,
 *    Authorization`. A request without Origin (the `temporal` CLI, curl) gets no CORS headers.
 * 2. A caller: `Authorization: Bearer <key>` whose SHA-256 is one of `apiKeys` (KeyVerifier, src/api/auth.ts: the
 *    API's keys, or the codec server's own) → else 401. A wrong key is always 401, never anonymous.
 *    OR, only when `allowOriginWithoutKey` is set AND the server listens on a loopback address: no Authorization
 *    header, an Origin in `allowedOrigins`, a loopback Host header and a loopback peer. This exists for the dev
 *    server's Web UI, which sends no token (it has no login to take one from). Why it is safe there and nowhere else:
 *    a loopback socket is reachable only from this machine; a web page in the developer's browser cannot forge its
 *    Origin, so another site gets 403 (and a DNS-rebinding page is refused twice: its Origin, and its Host); what is
 *    left is a program on this machine sending a forged Origin, which could as well read the dev key file in `.data/`
 *    of the same user. On any other interface anyone on the network could send that forged Origin header, so
 *    start-up refuses the combination.
 * 3. `X-Namespace`: present (else 400) and one of `namespaces` (else 403). Empty means `default`: the `temporal` CLI
 *    sends it empty when it runs without --namespace, in Temporal's default namespace.
 * 4. A valid body (400 naming the field; 413 above `bodyLimitBytes`; 415 unless application/json).
 *
 * A payload that does not decrypt (key not configured, tampered) fails the whole request with 422, naming its index
 * and key id. Logs: method, path, status, caller name, namespace and payload count; never a body, a payload, the
 * Authorization header or a key.
 */
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { KeyVerifier } from '../api/auth';
import type { ApiKeyConfig } from '../api/config';
import { ConfigError } from '../config/config-error';
import { describeZodError } from '../domain/zod-errors';
import { EncryptionCodec, PayloadDecryptionError } from './encryption-codec';
import { codecRequestSchema, fromJsonPayload, toJsonPayload } from './payload-json';
import type { PayloadKeyRing } from './payload-keys';
import { DEFAULT_CODEC_BODY_LIMIT_BYTES, isLoopbackHost } from './server-policy';

export { DEFAULT_CODEC_BODY_LIMIT_BYTES, isLoopbackHost };

const ALLOWED_HEADERS = 'Content-Type, X-Namespace, Authorization';
const PAYLOAD_ROUTES = ['/encode', '/decode'] as const;
const DEFAULT_NAMESPACE = 'default';

export interface CodecServerOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  keys: PayloadKeyRing;
  /** Web UI origins (`scheme://host[:port]`) whose browsers may call; others get 403. */
  allowedOrigins: readonly string[];
  /** Namespaces whose payloads this server encodes and decodes (X-Namespace). */
  namespaces: readonly string[];
  /** SHA-256 hashes of the keys accepted as `Authorization: Bearer <key>`. */
  apiKeys: readonly ApiKeyConfig[];
  /** Dev only: an allowed Web UI origin may call without a key. Refused unless `host` is a loopback address. */
  allowOriginWithoutKey?: boolean;
  bodyLimitBytes?: number;
  logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** Where pino writes (default stdout); tests pass a stream to read the log lines. */
  logStream?: NodeJS.WritableStream;
}

export interface CodecServer {
  /** e.g. http://127.0.0.1:18099: the Web UI's codec endpoint and the CLI's --codec-endpoint. */
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The Host header's host part (`127.0.0.1:18099` → `127.0.0.1`, `[::1]:80` → `::1`). */
function hostOfHostHeader(header: string | undefined): string {
  if (!header) return '';
  if (header.startsWith('[')) return header.slice(1, header.indexOf(']'));
  return header.replace(/:\d+$/, '');
}

function normaliseOrigin(origin: string): string {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new ConfigError(`codec server allowedOrigins: '${origin}' is not an origin (scheme://host[:port])`);
  }
  if (!/^https?:$/.test(url.protocol) || url.pathname !== '/' || url.search || url.hash || url.username) {
    throw new ConfigError(`codec server allowedOrigins: '${origin}' must be scheme://host[:port], nothing more`);
  }
  return url.origin;
}

export function createCodecApp(options: CodecServerOptions): FastifyInstance {
  const allowOriginWithoutKey = options.allowOriginWithoutKey ?? false;
  if (allowOriginWithoutKey && !isLoopbackHost(options.host)) {
    throw new ConfigError(
      `codec server: allowOriginWithoutKey is accepted only on a loopback host (127.0.0.1, ::1, localhost), ` +
        `not ${options.host}: elsewhere anyone on the network could send a forged Origin header`,
    );
  }
  if (options.apiKeys.length === 0 && !allowOriginWithoutKey) {
    throw new ConfigError('codec server: no API key hashes configured, so no caller could be let in');
  }
  if (options.namespaces.length === 0) throw new ConfigError('codec server: no namespaces configured');
  const origins = new Set(options.allowedOrigins.map(normaliseOrigin));
  const namespaces = new Set(options.namespaces);
  const verifier = options.apiKeys.length > 0 ? new KeyVerifier(options.apiKeys) : undefined;
  const codec = new EncryptionCodec(options.keys);

  const app = Fastify({
    logger: {
      level: options.logLevel ?? 'info',
      ...(options.logStream ? { stream: options.logStream } : {}),
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    },
    bodyLimit: options.bodyLimitBytes ?? DEFAULT_CODEC_BODY_LIMIT_BYTES,
    requestTimeout: 30_000,
    return503OnClosing: true,
  });
  // JSON only: a text/plain POST is a "simple" cross-origin request that skips the preflight; refuse it (415).
  app.removeContentTypeParser(['text/plain']);

  /** Step 1: CORS headers for an allowed origin; a refusal for any other. */
  const checkOrigin = (req: FastifyRequest, reply: FastifyReply): void => {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    if (!origins.has(origin)) throw new HttpRefusal(403, `origin ${origin} is not allowed to use this codec server`);
    reply.header('access-control-allow-origin', origin);
    reply.header('access-control-allow-credentials', 'true');
    reply.header('vary', 'Origin');
  };

  /** Step 2: the caller's name, for the log. */
  const authenticate = (req: FastifyRequest): string => {
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      const name = verifier?.verify(authorization);
      if (!name) throw new HttpRefusal(401, 'the Authorization header carries no valid key (Bearer <key>)');
      return name;
    }
    if (
      allowOriginWithoutKey &&
      req.headers.origin !== undefined && // already checked against the allowed origins
      isLoopbackHost(hostOfHostHeader(req.headers.host)) &&
      isLoopbackHost(req.socket.remoteAddress ?? '')
    ) {
      return 'web-ui (loopback)';
    }
    throw new HttpRefusal(401, 'a key is required: Authorization: Bearer <key>');
  };

  /** Step 3. */
  const namespaceOf = (req: FastifyRequest): string => {
    const header = req.headers['x-namespace'];
    if (typeof header !== 'string') throw new HttpRefusal(400, 'the X-Namespace header is required');
    // The `temporal` CLI (1.5) sends the header empty when no --namespace is given, and then works in Temporal's
    // default namespace, "default".
    const ns = header === '' ? DEFAULT_NAMESPACE : header;
    if (!namespaces.has(ns)) throw new HttpRefusal(403, `namespace ${ns} is not served by this codec server`);
    return ns;
  };

  app.addHook('onRequest', async (req, reply) => {
    reply.header('cache-control', 'no-store');
    if (req.url === '/healthz') return;
    checkOrigin(req, reply);
    if (req.method === 'OPTIONS') return;
    const caller = authenticate(req);
    const namespace = namespaceOf(req);
    (req as CodecRequestContext).codecCaller = { caller, namespace };
  });

  for (const url of PAYLOAD_ROUTES) {
    // Preflight: the browser asks before a JSON POST with X-Namespace. No credentials travel with it.
    app.options(url, async (req, reply) => {
      reply.header('access-control-allow-methods', 'POST, OPTIONS');
      reply.header('access-control-allow-headers', ALLOWED_HEADERS);
      reply.header('access-control-max-age', '600');
      // Chrome's Private Network Access: a public Web UI calling a codec server on a private address asks first.
      if (req.headers['access-control-request-private-network'] === 'true' && req.headers.origin !== undefined) {
        reply.header('access-control-allow-private-network', 'true');
      }
      return reply.code(204).send();
    });
  }

  app.post('/decode', async (req) => runCodec(req, 'decode'));
  app.post('/encode', async (req) => runCodec(req, 'encode'));
  app.get('/healthz', async () => ({ ok: true }));

  async function runCodec(req: FastifyRequest, direction: 'encode' | 'decode') {
    const parsed = codecRequestSchema.safeParse(req.body ?? {});
    if (!parsed.success) throw new HttpRefusal(400, describeZodError(parsed.error));
    const payloads = parsed.data.payloads.map(fromJsonPayload);
    const out: ReturnType<typeof toJsonPayload>[] = [];
    for (let i = 0; i < payloads.length; i++) {
      try {
        const [converted] =
          direction === 'encode' ? await codec.encode([payloads[i]]) : await codec.decode([payloads[i]]);
        out.push(toJsonPayload(converted));
      } catch (e) {
        if (e instanceof PayloadDecryptionError) throw new HttpRefusal(422, `payloads.${i}: ${e.message}`);
        throw e;
      }
    }
    const { caller, namespace } = (req as CodecRequestContext).codecCaller!;
    req.log.info({ caller, namespace, payloads: out.length }, direction);
    return { payloads: out };
  }

  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url}` }));

  app.setErrorHandler((err: FastifyError | HttpRefusal, req, reply) => {
    if (err instanceof HttpRefusal) {
      if (err.status === 401) reply.header('www-authenticate', 'Bearer realm="codec"');
      req.log.info({ status: err.status }, 'refused');
      return reply.code(err.status).send({ error: err.message });
    }
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status < 500) {
      // Fastify's own refusals (413, 415, bad JSON). A JSON parse error's message quotes the body: never echo it.
      const message =
        err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err.name === 'SyntaxError'
          ? 'the body is not valid JSON'
          : err.message;
      req.log.info({ status, code: err.code }, 'refused');
      return reply.code(status).send({ error: message });
    }
    req.log.error({ err: { name: err.name, code: err.code } }, 'codec server error');
    return reply.code(500).send({ error: 'internal error' });
  });

  return app;
}

interface CodecRequestContext extends FastifyRequest {
  codecCaller?: { caller: string; namespace: string };
}

/** Builds the app and listens on host:port; resolves once it accepts connections. */
export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const app = createCodecApp(options);
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { url: `http://${host}:${address.port}`, app, close: () => app.close() };
}
