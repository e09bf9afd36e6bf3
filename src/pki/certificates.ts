/**
 * Test/simulator PKI: a self-signed CA and certificates it issues, with chosen serial numbers (WeChat identifies
 * merchant API certificates and platform certificates by their serial, 40 upper-case hex digits).
 * node-forge builds the certificates (node:crypto cannot issue them); keys come from node:crypto.
 */
import { randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { generateRsaKeyPair, RsaKeyPair } from './keys';
import { certificateSerial } from './x509';

export { certificateSerial, publicKeyFromCertificate, publicKeyPemFromCertificate, certificateValidity } from './x509';
export type { CertificateValidity } from './x509';

export interface CertificateAuthority extends RsaKeyPair {
  certPem: string;
}

export interface IssuedCertificate extends RsaKeyPair {
  certPem: string;
  /** Upper-case hex serial, exactly as certificateSerial(certPem) returns it. */
  serial: string;
}

export interface SubjectFields {
  commonName: string;
  organizationName?: string;
  organizationalUnitName?: string;
  countryName?: string;
  localityName?: string;
}

/** A random 40-hex-digit serial with the top bit clear (a positive DER INTEGER of 20 octets, like WeChat's). */
export function randomCertificateSerial(): string {
  const bytes = randomBytes(20);
  bytes[0] = 0x10 + (bytes[0] % 0x70); // 0x10-0x7F: positive, and 40 significant digits
  return bytes.toString('hex').toUpperCase();
}

function normaliseSerial(serial: string): string {
  const hex = serial.replace(/:/g, '').toUpperCase();
  if (!/^[0-9A-F]+$/.test(hex) || hex.length > 40) throw new TypeError(`certificate serial must be ≤40 hex digits`);
  return hex.replace(/^0+(?=.)/, '');
}

/** forge writes the hex verbatim into the DER INTEGER, so a set top bit would read back as a negative number. */
function derSerial(hex: string): string {
  const even = hex.length % 2 === 1 ? `0${hex}` : hex;
  return parseInt(even[0], 16) >= 8 ? `00${even}` : even;
}

function attrs(s: SubjectFields): forge.pki.CertificateField[] {
  const out: forge.pki.CertificateField[] = [{ name: 'commonName', value: s.commonName }];
  if (s.organizationName) out.push({ name: 'organizationName', value: s.organizationName });
  if (s.organizationalUnitName) out.push({ name: 'organizationalUnitName', value: s.organizationalUnitName });
  if (s.localityName) out.push({ name: 'localityName', value: s.localityName });
  if (s.countryName) out.push({ name: 'countryName', value: s.countryName });
  return out;
}

function validity(cert: forge.pki.Certificate, notBefore?: Date, notAfter?: Date): void {
  // Back-date a little so a freshly made certificate is valid on a machine whose clock is slightly behind.
  cert.validity.notBefore = notBefore ?? new Date(Date.now() - 60 * 60 * 1000);
  cert.validity.notAfter = notAfter ?? new Date(Date.now() + 5 * 365 * 24 * 60 * 60 * 1000);
}

export function createCertificateAuthority(
  options: { subject?: SubjectFields; keyPair?: RsaKeyPair; serial?: string; notBefore?: Date; notAfter?: Date } = {},
): CertificateAuthority {
  const keys = options.keyPair ?? generateRsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  cert.serialNumber = derSerial(normaliseSerial(options.serial ?? randomCertificateSerial()));
  validity(cert, options.notBefore, options.notAfter);
  const subject = attrs(options.subject ?? { commonName: 'Test Tenpay CA', organizationName: 'Test' });
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privateKeyPem), forge.md.sha256.create());
  return { ...keys, certPem: forge.pki.certificateToPem(cert) };
}

export interface IssueOptions {
  subject: SubjectFields;
  /** Hex serial (colons allowed); random 40-hex when absent. */
  serial?: string;
  keyPair?: RsaKeyPair;
  /** TLS server names: DNS names and IP addresses go into subjectAltName. */
  dnsNames?: string[];
  ipAddresses?: string[];
  /** extendedKeyUsage; none when absent (WeChat's API and platform certificates are not TLS certificates). */
  usage?: Array<'serverAuth' | 'clientAuth'>;
  notBefore?: Date;
  notAfter?: Date;
}

export function issueCertificate(ca: CertificateAuthority, options: IssueOptions): IssuedCertificate {
  const keys = options.keyPair ?? generateRsaKeyPair();
  const serial = normaliseSerial(options.serial ?? randomCertificateSerial());
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  cert.serialNumber = derSerial(serial);
  validity(cert, options.notBefore, options.notAfter);
  cert.setSubject(attrs(options.subject));
  cert.setIssuer(caCert.subject.attributes);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, dataEncipherment: true, critical: true },
  ];
  if (options.usage && options.usage.length > 0) {
    extensions.push({
      name: 'extKeyUsage',
      serverAuth: options.usage.includes('serverAuth'),
      clientAuth: options.usage.includes('clientAuth'),
    });
  }
  const altNames = [
    ...(options.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(options.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  if (altNames.length > 0) extensions.push({ name: 'subjectAltName', altNames });
  cert.setExtensions(extensions);
  cert.sign(forge.pki.privateKeyFromPem(ca.privateKeyPem), forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  return { ...keys, certPem, serial: certificateSerial(certPem) };
}
