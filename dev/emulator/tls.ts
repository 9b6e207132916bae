import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import forge from 'node-forge';

/** An RSA key pair; node:crypto generates it (fast), forge only builds and signs certificates. */
export interface RsaKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** PKCS#1 PEM ("RSA PRIVATE KEY"), which forge reads. */
  privateKeyPem: string;
  publicKeyPem: string;
}

export function generateRsaKeyPair(modulusLength = 2048): RsaKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength });
  return {
    privateKey,
    publicKey,
    privateKeyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export interface IssuedCertificate {
  certPem: string;
  der: Buffer;
  keys: RsaKeyPair;
  notBefore: Date;
  notAfter: Date;
  /** SHA-1 thumbprint of the DER (what Entra's `x5t` and Key Vault's `x5t` carry). */
  sha1: Buffer;
  sha256: Buffer;
}

export interface CertificateRequest {
  commonName: string;
  keys: RsaKeyPair;
  notBefore: Date;
  notAfter: Date;
  /** Signs with this certificate's key; self-signed when absent. */
  issuer?: IssuedCertificate;
  isCa?: boolean;
  /** Adds SAN DNS:localhost and IP:127.0.0.1 and the serverAuth usage. */
  tlsServer?: boolean;
}

export function issueCertificate(request: CertificateRequest): IssuedCertificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(request.keys.publicKeyPem);
  // A positive serial: a leading 0x01 byte keeps the DER integer's sign bit clear.
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  cert.validity.notBefore = request.notBefore;
  cert.validity.notAfter = request.notAfter;
  const subject = [{ name: 'commonName', value: request.commonName }];
  cert.setSubject(subject);
  cert.setIssuer(request.issuer ? forge.pki.certificateFromPem(request.issuer.certPem).subject.attributes : subject);
  const extensions: object[] = [];
  if (request.isCa) {
    extensions.push({ name: 'basicConstraints', cA: true, critical: true });
    extensions.push({ name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true });
  } else {
    extensions.push({ name: 'basicConstraints', cA: false });
    extensions.push({ name: 'keyUsage', digitalSignature: true, keyEncipherment: true });
  }
  if (request.tlsServer) {
    extensions.push({ name: 'extKeyUsage', serverAuth: true });
    extensions.push({
      name: 'subjectAltName',
      altNames: [
        { type: 2, value: 'localhost' },
        { type: 7, ip: '127.0.0.1' },
      ],
    });
  }
  extensions.push({ name: 'subjectKeyIdentifier' });
  cert.setExtensions(extensions);
  const signingKeyPem = (request.issuer ?? { keys: request.keys }).keys.privateKeyPem;
  cert.sign(forge.pki.privateKeyFromPem(signingKeyPem), forge.md.sha256.create());
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  return {
    certPem: forge.pki.certificateToPem(cert),
    der,
    keys: request.keys,
    notBefore: request.notBefore,
    notAfter: request.notAfter,
    sha1: createHash('sha1').update(der).digest(),
    sha256: createHash('sha256').update(der).digest(),
  };
}

export interface TlsMaterial {
  ca: IssuedCertificate;
  server: IssuedCertificate;
}

/** A throw-away CA and a server certificate for 127.0.0.1/localhost signed by it. */
export function createTlsMaterial(nowMs: number): TlsMaterial {
  const notBefore = new Date(nowMs - 60 * 60 * 1000);
  const notAfter = new Date(nowMs + 365 * 24 * 60 * 60 * 1000);
  const ca = issueCertificate({
    commonName: 'entra-token-broker local emulator CA',
    keys: generateRsaKeyPair(),
    notBefore,
    notAfter,
    isCa: true,
  });
  const server = issueCertificate({
    commonName: '127.0.0.1',
    keys: generateRsaKeyPair(),
    notBefore,
    notAfter,
    issuer: ca,
    tlsServer: true,
  });
  return { ca, server };
}
