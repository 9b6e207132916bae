import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';
import { normalizeCertificateSecret } from '../../../src/credentials/certificatePem';

interface Issued {
  certPem: string;
  keyPem: string;
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
}

function issue(commonName: string, notAfter: Date, issuer?: Issued): Issued {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const key = forge.pki.privateKeyFromPem(keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = '0' + Math.floor(Math.random() * 1e9).toString(16);
  cert.validity.notBefore = new Date(Date.UTC(2026, 0, 1));
  cert.validity.notAfter = notAfter;
  cert.setSubject([{ name: 'commonName', value: commonName }]);
  cert.setIssuer([{ name: 'commonName', value: issuer ? issuer.cert.subject.getField('CN').value : commonName }]);
  cert.sign(issuer ? issuer.key : key, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem, cert, key };
}

function pkcs12Base64(leaf: Issued, chain: Issued[] = []): string {
  const p12 = forge.pkcs12.toPkcs12Asn1(leaf.key, [leaf.cert, ...chain.map((c) => c.cert)], '', { algorithm: '3des' });
  return forge.util.encode64(forge.asn1.toDer(p12).getBytes());
}

const NOT_AFTER = new Date(Date.UTC(2027, 5, 30, 12, 0, 0));
const ca = issue('Test CA', new Date(Date.UTC(2030, 0, 1)));
const leaf = issue('entra-token-broker', NOT_AFTER, ca);

function expectUsable(pem: string): void {
  // What ClientCertificateCredential does with it: find the first CERTIFICATE block (its regex wants
  // a newline after BEGIN) and sign with the private key in the same text.
  expect(pem).toMatch(
    /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/\n]+=*\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\n/,
  );
  const certificate = new X509Certificate(pem);
  expect(certificate.checkPrivateKey(createPrivateKey(pem))).toBe(true);
}

describe('normalizeCertificateSecret', () => {
  it('PEM as Key Vault stores it (key first, then the chain) → leaf + PKCS#8 key, notAfter from the cert', () => {
    const value = `${leaf.keyPem}${leaf.certPem}${ca.certPem}`;
    const normalized = normalizeCertificateSecret(value, 'application/x-pem-file');
    expectUsable(normalized.pem);
    expect(new X509Certificate(normalized.pem).subject).toContain('entra-token-broker');
    expect(normalized.notAfterMs).toBe(NOT_AFTER.getTime());
    expect(normalized.notBeforeMs).toBe(Date.UTC(2026, 0, 1));
    expect(normalized.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(normalized.thumbprintSha256).toMatch(/^[0-9A-F]{64}$/);
  });

  it('picks the certificate matching the key even when the CA comes first', () => {
    const normalized = normalizeCertificateSecret(
      `${ca.certPem}${leaf.certPem}${leaf.keyPem}`,
      'application/x-pem-file',
    );
    expect(new X509Certificate(normalized.pem).subject).toContain('entra-token-broker');
  });

  it('base64 PKCS#12 with the empty password (application/x-pkcs12) → same PEM shape', () => {
    const normalized = normalizeCertificateSecret(pkcs12Base64(leaf, [ca]), 'application/x-pkcs12');
    expectUsable(normalized.pem);
    expect(new X509Certificate(normalized.pem).subject).toContain('entra-token-broker');
    expect(normalized.notAfterMs).toBe(NOT_AFTER.getTime());
  });

  it('sniffs the format when the content type is missing', () => {
    expect(normalizeCertificateSecret(`${leaf.keyPem}${leaf.certPem}`, undefined).notAfterMs).toBe(NOT_AFTER.getTime());
    expect(normalizeCertificateSecret(pkcs12Base64(leaf), undefined).notAfterMs).toBe(NOT_AFTER.getTime());
  });

  it('reads an EC private key and refuses it cleanly when it does not match the certificate', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() =>
      normalizeCertificateSecret(
        `${privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()}${leaf.certPem}`,
        'application/x-pem-file',
      ),
    ).toThrow(expect.objectContaining({ code: 'credential_invalid' }));
  });

  it.each([
    ['a key that matches no certificate', () => `${ca.keyPem}${leaf.certPem}`, 'application/x-pem-file'],
    ['no key', () => leaf.certPem, 'application/x-pem-file'],
    ['no certificate', () => leaf.keyPem, 'application/x-pem-file'],
    [
      'a broken certificate block',
      () => `${leaf.keyPem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`,
      'application/x-pem-file',
    ],
    ['garbage PKCS#12', () => 'bm90IGEgcGtjczEy', 'application/x-pkcs12'],
  ])('refuses %s with credential_invalid, without quoting the value', (_what, value, contentType) => {
    let thrown: unknown;
    try {
      normalizeCertificateSecret(value(), contentType);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ name: 'BrokerError', code: 'credential_invalid' });
    const message = (thrown as Error).message;
    expect(message).not.toContain('BEGIN');
    expect(message).not.toContain('bm90IGEgcGtjczEy');
  });
});
