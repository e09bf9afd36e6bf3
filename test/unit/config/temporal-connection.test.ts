import {
  connectClient,
  connectWorker,
  TemporalUnreachableError,
  temporalTarget,
} from '../../../src/config/temporal-connection';
import { freePort } from '../../../src/stack/free-port';

describe('Temporal connection from the environment (Temporal env-config conventions)', () => {
  it('defaults to the local dev server of temporal-dev.yml', () => {
    const t = temporalTarget({});
    expect(t.connectionOptions.address).toBe('127.0.0.1:7233');
    expect(t.namespace).toBe('default');
  });

  it('reads address, namespace and API key the way the Temporal CLI and Cloud docs name them', () => {
    const t = temporalTarget({
      TEMPORAL_ADDRESS: 'acme.a1b2c.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'acme.a1b2c',
      TEMPORAL_API_KEY: 'secret-key',
    });
    expect(t.connectionOptions.address).toBe('acme.a1b2c.tmprl.cloud:7233');
    expect(t.namespace).toBe('acme.a1b2c');
    expect(t.connectionOptions.apiKey).toBe('secret-key');
    // An API key implies TLS (Temporal Cloud).
    expect(t.connectionOptions.tls).toBeTruthy();
  });

  it('takes mTLS client certificates from the environment', () => {
    const t = temporalTarget({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_TLS_CLIENT_CERT_DATA: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
      TEMPORAL_TLS_CLIENT_KEY_DATA: '-----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----\n',
    });
    const tls = t.connectionOptions.tls;
    expect(typeof tls === 'object' && Buffer.from(tls?.clientCertPair?.crt ?? []).toString()).toContain(
      'BEGIN CERTIFICATE',
    );
  });
});

describe('Temporal unreachable', () => {
  let address: string;
  beforeAll(async () => {
    address = `127.0.0.1:${await freePort()}`; // nothing listens there
  });

  it('a client connection failure names the address, the namespace and the settings to check', async () => {
    const env = { TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: 'shop-prod' };
    const err: unknown = await connectClient(env, { connectTimeout: 300 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TemporalUnreachableError);
    const e = err as TemporalUnreachableError;
    expect(e.message).toContain(`cannot reach Temporal at ${address} (namespace shop-prod): `);
    expect(e.message).toContain('TEMPORAL_ADDRESS');
    expect(e.address).toBe(address);
    // The SDK's own error is kept, and its words are part of the message.
    expect(e.cause).toBeInstanceOf(Error);
    expect(e.message).toContain((e.cause as Error).message);
  });

  it('a worker (native) connection failure names the address too', async () => {
    const err: unknown = await connectWorker({ TEMPORAL_ADDRESS: address }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TemporalUnreachableError);
    expect((err as Error).message).toContain(`cannot reach Temporal at ${address} (namespace default): `);
    expect((err as Error).cause).toBeDefined();
  });
});
