import { temporalTarget } from '../../../src/config/temporal-connection';

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
