import { WechatPayKeyring } from '../../../src/wechatpay/v3/keyring';
import { createCertificateAuthority, issueCertificate } from '../../../src/pki';
import { testKeys } from './helpers/wechat-keys';

describe('WechatPayKeyring', () => {
  const k = testKeys();

  it('holds platform certificates (by serial, case-insensitive) and public keys (by PUB_KEY_ID_) at once', () => {
    const ring = new WechatPayKeyring({
      platformCertificates: [k.platform.certPem],
      publicKeys: [{ id: k.publicKey.id, publicKey: k.publicKey.publicKeyPem }],
    });
    expect(ring.has(k.platform.serial)).toBe(true);
    expect(ring.has(k.platform.serial.toLowerCase())).toBe(true);
    expect(ring.has(k.publicKey.id)).toBe(true);
    expect(ring.has('PUB_KEY_ID_unknown')).toBe(false);
    expect(
      ring
        .list()
        .map((e) => e.kind)
        .sort(),
    ).toEqual(['platform-certificate', 'public-key']);
  });

  it('refuses a public key whose id does not start with PUB_KEY_ID_', () => {
    expect(() => new WechatPayKeyring().addPublicKey('KEY', k.publicKey.publicKeyPem)).toThrow(/PUB_KEY_ID_/);
  });

  it('refreshes once for concurrent misses, never for public-key ids, and rate-limits later misses', async () => {
    let t = 0;
    const refresher = jest.fn(async () => [{ serial: k.rotatedPlatform.serial, certPem: k.rotatedPlatform.certPem }]);
    const ring = new WechatPayKeyring({ refresher, now: () => t, minRefreshIntervalMs: 60_000 });
    const [a, b] = await Promise.all([ring.resolve(k.rotatedPlatform.serial), ring.resolve(k.rotatedPlatform.serial)]);
    expect(a).toBeDefined();
    expect(b).toBe(a);
    expect(refresher).toHaveBeenCalledTimes(1);
    expect(await ring.resolve('PUB_KEY_ID_0000')).toBeUndefined();
    expect(await ring.resolve('DEADBEEF')).toBeUndefined();
    expect(refresher).toHaveBeenCalledTimes(1); // within 60 s of the last refresh
    t = 61_000;
    expect(await ring.resolve('DEADBEEF')).toBeUndefined();
    expect(refresher).toHaveBeenCalledTimes(2);
  });

  it('a failing refresh makes the lookup miss instead of throwing', async () => {
    const ring = new WechatPayKeyring({ refresher: async () => Promise.reject(new Error('down')) });
    await expect(ring.resolve('ABCDEF')).resolves.toBeUndefined();
  });

  it('a refresh replaces downloaded certificates but keeps configured ones', async () => {
    const ring = new WechatPayKeyring({ platformCertificates: [k.platform.certPem] });
    ring.replaceDownloadedCertificates([{ serial: k.rotatedPlatform.serial, certPem: k.rotatedPlatform.certPem }]);
    ring.replaceDownloadedCertificates([]);
    expect(ring.has(k.platform.serial)).toBe(true);
    expect(ring.has(k.rotatedPlatform.serial)).toBe(false);
  });

  it('encrypts with the public key when there is one, else the valid certificate that expires last', () => {
    const ca = createCertificateAuthority();
    const now = Date.now();
    const expired = issueCertificate(ca, {
      subject: { commonName: 'old' },
      notBefore: new Date(now - 2e10),
      notAfter: new Date(now - 1e9),
    });
    const later = issueCertificate(ca, { subject: { commonName: 'later' }, notAfter: new Date(now + 9e10) });
    const sooner = issueCertificate(ca, { subject: { commonName: 'sooner' }, notAfter: new Date(now + 1e10) });
    const ring = new WechatPayKeyring({ platformCertificates: [expired.certPem, sooner.certPem, later.certPem] });
    expect(ring.encryptionKey()?.id).toBe(later.serial);
    ring.addPublicKey(k.publicKey.id, k.publicKey.publicKeyPem);
    expect(ring.encryptionKey()?.id).toBe(k.publicKey.id);
    expect(new WechatPayKeyring({ platformCertificates: [expired.certPem] }).encryptionKey()).toBeUndefined();
  });
});
