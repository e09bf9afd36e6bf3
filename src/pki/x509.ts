/** Reading certificates with node:crypto only (no node-forge), so verification paths stay light. */
import { KeyObject, X509Certificate } from 'node:crypto';

/** Upper-case hex serial without colons or leading zero octets (the form WeChat prints and sends). */
export function certificateSerial(certPem: string | Buffer): string {
  return new X509Certificate(certPem).serialNumber
    .replace(/:/g, '')
    .toUpperCase()
    .replace(/^(00)+(?=.)/, '');
}

export function publicKeyFromCertificate(certPem: string | Buffer): KeyObject {
  return new X509Certificate(certPem).publicKey;
}

export function publicKeyPemFromCertificate(certPem: string | Buffer): string {
  return publicKeyFromCertificate(certPem).export({ type: 'spki', format: 'pem' }).toString();
}

export interface CertificateValidity {
  notBefore: Date;
  notAfter: Date;
}

export function certificateValidity(certPem: string | Buffer): CertificateValidity {
  const x = new X509Certificate(certPem);
  return { notBefore: new Date(x.validFrom), notAfter: new Date(x.validTo) };
}
