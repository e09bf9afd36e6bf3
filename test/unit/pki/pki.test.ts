import { createPublicKey, createSign, createVerify, X509Certificate } from 'node:crypto';
import { createServer } from 'node:https';
import { AddressInfo } from 'node:net';
import { request } from 'undici';
import { Agent } from 'undici';
import {
  certificateSerial,
  certificateValidity,
  createCertificateAuthority,
  generateRsaKeyPair,
  issueCertificate,
  publicKeyFromCertificate,
  publicKeyPemFromCertificate,
  randomCertificateSerial,
} from '../../../src/pki';

describe('pki helpers', () => {
  const ca = createCertificateAuthority({ subject: { commonName: 'Test CA', organizationName: 'Test' } });

  it('generates RSA-2048 key pairs in PKCS#8 / SPKI PEM', () => {
    const pair = generateRsaKeyPair();
    expect(pair.privateKeyPem).toContain('-----BEGIN PRIVATE KEY-----');
    expect(pair.publicKeyPem).toContain('-----BEGIN PUBLIC KEY-----');
    expect(createPublicKey(pair.publicKeyPem).asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('issues a certificate with the requested serial, readable back in WeChat form (upper-case hex)', () => {
    for (const serial of [
      '5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
      'f157f09efdc096de15ebe81a47057a7232f1b8e1',
      '01AB',
    ]) {
      const cert = issueCertificate(ca, { subject: { commonName: 'merchant' }, serial });
      const expected = serial.toUpperCase(); // as openssl prints it: even length, no sign octet
      expect(cert.serial).toBe(expected);
      expect(certificateSerial(cert.certPem)).toBe(expected);
    }
  });

  it('random serials are 40 upper-case hex digits', () => {
    for (let i = 0; i < 20; i++) expect(randomCertificateSerial()).toMatch(/^[1-7][0-9A-F]{39}$/);
  });

  it('certificates chain to the CA and carry the subject key', () => {
    const cert = issueCertificate(ca, { subject: { commonName: '1900000109', organizationName: 'Merchant' } });
    const x = new X509Certificate(cert.certPem);
    expect(x.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(x.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(x.subject).toContain('CN=1900000109');
    const signature = createSign('sha256').update('hello').sign(cert.privateKeyPem, 'base64');
    expect(
      createVerify('sha256').update('hello').verify(publicKeyFromCertificate(cert.certPem), signature, 'base64'),
    ).toBe(true);
    expect(publicKeyPemFromCertificate(cert.certPem)).toBe(cert.publicKeyPem);
  });

  it('honours validity bounds', () => {
    const notBefore = new Date('2030-01-01T00:00:00Z');
    const notAfter = new Date('2031-01-01T00:00:00Z');
    const cert = issueCertificate(ca, { subject: { commonName: 'x' }, notBefore, notAfter });
    expect(certificateValidity(cert.certPem)).toEqual({ notBefore, notAfter });
  });

  it('issues TLS server and client certificates that work for mutual TLS', async () => {
    const server = issueCertificate(ca, {
      subject: { commonName: 'localhost' },
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      usage: ['serverAuth'],
    });
    const client = issueCertificate(ca, { subject: { commonName: 'client-1' }, usage: ['clientAuth'] });
    const https = createServer(
      {
        key: server.privateKeyPem,
        cert: server.certPem,
        ca: [ca.certPem],
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        res.end((req.socket as import('node:tls').TLSSocket).getPeerCertificate().subject.CN);
      },
    );
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
    const { port } = https.address() as AddressInfo;
    const agent = new Agent({ connect: { ca: ca.certPem, cert: client.certPem, key: client.privateKeyPem } });
    try {
      const res = await request(`https://127.0.0.1:${port}/`, { dispatcher: agent });
      expect(await res.body.text()).toBe('client-1');
    } finally {
      await agent.close();
      await new Promise<void>((r) => https.close(() => r()));
    }
  });
});
