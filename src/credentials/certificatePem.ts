import { X509Certificate, createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import type forge from 'node-forge';
import { BrokerError } from '../contract/errors';
import { certificateSdk } from '../platform/lazyAzureSdk';

/** A Key Vault certificate's secret, turned into the PEM (certificate and private key) the token client reads. */
export interface NormalizedCertificate {
  /** The leaf certificate followed by its private key (PKCS#8), both PEM. */
  readonly pem: string;
  /** The private key alone (PKCS#8 PEM), to register with the SecretRegistry. */
  readonly privateKeyPem: string;
  readonly notAfterMs: number;
  readonly notBeforeMs: number;
  /** SHA-256 thumbprint of the leaf (upper-case hex), as Entra's `x5t#S256` carries it. */
  readonly thumbprintSha256: string;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/**
 * Normalises the secret behind a Key Vault certificate: `application/x-pem-file` (private key and
 * certificates as PEM) or `application/x-pkcs12` (base64 PKCS#12 with an empty password, the Key
 * Vault default). Without a content type the value is sniffed.
 *
 * @throws BrokerError `credential_invalid` when the value holds no usable certificate with its
 * matching private key (never quoting the value).
 */
export function normalizeCertificateSecret(value: string, contentType: string | undefined): NormalizedCertificate {
  const type = (contentType ?? '').toLowerCase();
  const isPem = type.includes('pem') || (!type.includes('pkcs12') && value.trimStart().startsWith('-----BEGIN'));
  const { certificates, key } = isPem ? readPem(value) : readPkcs12(value);
  const leaf = certificates.find((certificate) => certificate.checkPrivateKey(key));
  if (leaf === undefined) throw invalid('no certificate in it matches its private key');
  const notAfterMs = Date.parse(leaf.validTo);
  const notBeforeMs = Date.parse(leaf.validFrom);
  if (!Number.isFinite(notAfterMs) || !Number.isFinite(notBeforeMs)) throw invalid('its validity dates cannot be read');
  const privateKeyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  const certificatePem = leaf.toString().replace(/\r\n/g, '\n');
  return {
    pem: `${certificatePem.trimEnd()}\n${privateKeyPem.trimEnd()}\n`,
    privateKeyPem,
    notAfterMs,
    notBeforeMs,
    thumbprintSha256: createHash('sha256').update(leaf.raw).digest('hex').toUpperCase(),
  };
}

function readPem(value: string): { certificates: X509Certificate[]; key: KeyObject } {
  const certificates: X509Certificate[] = [];
  let key: KeyObject | undefined;
  for (const match of value.matchAll(PEM_BLOCK)) {
    const label = match[1] ?? '';
    try {
      if (label === 'CERTIFICATE') certificates.push(new X509Certificate(match[0]));
      else if (label.endsWith('PRIVATE KEY') && !label.includes('ENCRYPTED')) key ??= createPrivateKey(match[0]);
    } catch {
      throw invalid(`a ${label === 'CERTIFICATE' ? 'certificate' : 'private key'} block cannot be parsed`);
    }
  }
  if (certificates.length === 0) throw invalid('it holds no certificate');
  if (key === undefined) throw invalid('it holds no unencrypted private key');
  return { certificates, key };
}

function readPkcs12(value: string): { certificates: X509Certificate[]; key: KeyObject } {
  // node-forge (600 KB) is needed for PKCS#12 only; it is loaded on first use.
  const { forge } = certificateSdk();
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    const der = forge.util.decode64(value.replace(/\s+/g, ''));
    const asn1 = forge.asn1.fromDer(der);
    p12 = forge.pkcs12.pkcs12FromAsn1(asn1, '');
  } catch {
    throw invalid('it is not a PKCS#12 archive with an empty password');
  }
  const certificates: X509Certificate[] = [];
  let key: KeyObject | undefined;
  try {
    const certBag = forge.pki.oids.certBag as string;
    for (const bag of p12.getBags({ bagType: certBag })[certBag] ?? []) {
      if (bag.cert) certificates.push(new X509Certificate(forge.pki.certificateToPem(bag.cert)));
    }
    for (const bagType of [forge.pki.oids.pkcs8ShroudedKeyBag as string, forge.pki.oids.keyBag as string]) {
      for (const bag of p12.getBags({ bagType })[bagType] ?? []) {
        if (bag.key && key === undefined) key = createPrivateKey(forge.pki.privateKeyToPem(bag.key));
      }
    }
  } catch {
    throw invalid('its certificate or key cannot be read (only RSA keys are supported in PKCS#12)');
  }
  if (certificates.length === 0) throw invalid('it holds no certificate');
  if (key === undefined) throw invalid('it holds no private key');
  return { certificates, key };
}

function invalid(why: string): BrokerError {
  return new BrokerError('credential_invalid', `The client certificate from Key Vault is unusable: ${why}.`);
}
