import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { jwtVerify } from 'jose';
import { KEY_VAULT_APP_ID, KEY_VAULT_RESOURCE } from './directory';
import { v1Issuer, v2Issuer } from './entra';
import type { FaultInjector } from './faults';
import { bearerToken, sendJson } from './http';
import type { SigningKeys } from './signingKeys';
import type { IssuedCertificate } from './tls';

export interface SecretVersion {
  version: string;
  value: string;
  contentType?: string;
  enabled: boolean;
  expMs?: number;
  nbfMs?: number;
  createdMs: number;
  updatedMs: number;
  /** Set for the secret that backs a certificate (Key Vault marks it managed). */
  managed?: boolean;
}

export interface CertificateVersion {
  version: string;
  certificate: IssuedCertificate;
  enabled: boolean;
  createdMs: number;
  updatedMs: number;
}

export interface KeyVaultOptions {
  url: string;
  authorityHost: string;
  tenantId: string;
  keys: SigningKeys;
  faults: FaultInjector;
  now: () => number;
  /** Object IDs (`oid`) allowed to read secrets and certificates (the broker's managed identity). */
  readers: Set<string>;
  onRead(name: string): void;
}

/**
 * How listings are paged. Azure fidelity: "Key Vault lists in pages" (docs/azure-fidelity.md):
 * at most 25 items a page (`maxresults` may ask for fewer), a `nextLink` with `$skiptoken`, and
 * sometimes pages with no items before the last.
 */
export interface KeyVaultPaging {
  /** Most items a page holds (1–25); default 25, Key Vault's own. */
  pageSize: number;
  /** Empty pages answered before the first item of each listing; default 0. */
  emptyPages: number;
}

export const KEY_VAULT_MAX_PAGE_SIZE = 25;

interface PageRequest {
  size: number;
  offset: number;
  emptyLeft: number;
  url: URL;
}

const RECOVERY = { recoveryLevel: 'Recoverable+Purgeable', recoverableDays: 90 };
const seconds = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : Math.floor(ms / 1000));

/** A Key Vault data plane for secrets and certificates, with challenge auth and RBAC on `oid`. */
export class KeyVault {
  readonly secrets = new Map<string, SecretVersion[]>();
  readonly certificates = new Map<string, CertificateVersion[]>();
  paging: KeyVaultPaging = { pageSize: KEY_VAULT_MAX_PAGE_SIZE, emptyPages: 0 };

  constructor(private readonly options: KeyVaultOptions) {}

  /** Drill: how listings are paged from now on. @throws Error for a page size outside 1–25. */
  setPaging(paging: Partial<KeyVaultPaging>): KeyVaultPaging {
    const next = { ...this.paging, ...paging };
    if (!Number.isInteger(next.pageSize) || next.pageSize < 1 || next.pageSize > KEY_VAULT_MAX_PAGE_SIZE) {
      throw new Error(`pageSize must be a whole number from 1 to ${KEY_VAULT_MAX_PAGE_SIZE}.`);
    }
    if (!Number.isInteger(next.emptyPages) || next.emptyPages < 0 || next.emptyPages > 10) {
      throw new Error('emptyPages must be a whole number from 0 to 10.');
    }
    this.paging = next;
    return { ...next };
  }

  static newVersion(): string {
    return randomBytes(16).toString('hex');
  }

  addSecretVersion(
    name: string,
    value: string,
    attributes: {
      expMs?: number;
      nbfMs?: number;
      enabled?: boolean;
      contentType?: string;
      managed?: boolean;
      version?: string;
    },
  ): SecretVersion {
    const now = this.options.now();
    const version: SecretVersion = {
      version: attributes.version ?? KeyVault.newVersion(),
      value,
      enabled: attributes.enabled ?? true,
      createdMs: now,
      updatedMs: now,
      ...(attributes.contentType !== undefined ? { contentType: attributes.contentType } : {}),
      ...(attributes.expMs !== undefined ? { expMs: attributes.expMs } : {}),
      ...(attributes.nbfMs !== undefined ? { nbfMs: attributes.nbfMs } : {}),
      ...(attributes.managed ? { managed: true } : {}),
    };
    const list = this.secrets.get(name.toLowerCase()) ?? [];
    list.push(version);
    this.secrets.set(name.toLowerCase(), list);
    return version;
  }

  /** Imports a certificate version; its PEM (private key + certificate) becomes the backing secret. */
  addCertificateVersion(name: string, certificate: IssuedCertificate, enabled = true): CertificateVersion {
    const now = this.options.now();
    const version: CertificateVersion = {
      version: KeyVault.newVersion(),
      certificate,
      enabled,
      createdMs: now,
      updatedMs: now,
    };
    const list = this.certificates.get(name.toLowerCase()) ?? [];
    list.push(version);
    this.certificates.set(name.toLowerCase(), list);
    const pem = certificate.keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() + certificate.certPem;
    this.addSecretVersion(name, pem, {
      version: version.version,
      contentType: 'application/x-pem-file',
      enabled,
      expMs: certificate.notAfter.getTime(),
      nbfMs: certificate.notBefore.getTime(),
      managed: true,
    });
    return version;
  }

  /** Enables or disables a version (of a secret, and of a certificate with that version). */
  setEnabled(version: string, enabled: boolean): boolean {
    let found = false;
    for (const list of [...this.secrets.values(), ...this.certificates.values()]) {
      for (const item of list) {
        if (item.version === version) {
          item.enabled = enabled;
          item.updatedMs = this.options.now();
          found = true;
        }
      }
    }
    return found;
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const match = /^\/(secrets|certificates)(?:\/([^/]+))?(?:\/([^/]+))?\/?$/.exec(url.pathname);
    if (!match) return false;
    const collection = match[1] as 'secrets' | 'certificates';
    const name = match[2] ? decodeURIComponent(match[2]) : undefined;
    const version = match[3] ? decodeURIComponent(match[3]) : undefined;
    const isValueRead = req.method === 'GET' && name !== undefined && version !== 'versions' && version !== 'policy';
    const token = bearerToken(req);
    if (isValueRead && token !== undefined) this.options.onRead(name);
    if (this.options.faults.apply('keyvault', res)) return true;
    if (!url.searchParams.get('api-version')) {
      sendJson(res, 400, { error: { code: 'BadParameter', message: "The 'api-version' query parameter is missing." } });
      return true;
    }
    if (token === undefined) {
      this.challenge(res, 'AKV10000: Request is missing a Bearer or PoP token.');
      return true;
    }
    const caller = await this.authenticate(token);
    if (typeof caller === 'string') {
      this.challenge(res, caller);
      return true;
    }
    const action = `Microsoft.KeyVault/vaults/${collection}/${collection === 'secrets' ? 'getSecret' : 'read'}/action`;
    if (!this.options.readers.has(caller.oid)) {
      sendJson(res, 403, {
        error: {
          code: 'Forbidden',
          message: `Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid=${caller.appid};oid=${caller.oid};iss=${caller.iss}\r\nAction: '${action}'\r\nResource: '/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg-emulator/providers/microsoft.keyvault/vaults/kv-emulator/${collection}/${name ?? ''}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\nVault: kv-emulator;location=westeurope\r\n`,
          innererror: { code: 'ForbiddenByRbac' },
        },
      });
      return true;
    }
    if (req.method !== 'GET') {
      sendJson(res, 405, {
        error: { code: 'MethodNotAllowed', message: 'The emulated vault is read-only over HTTP.' },
      });
      return true;
    }
    const page = this.pageRequest(url);
    if (typeof page === 'string') {
      sendJson(res, 400, { error: { code: 'BadParameter', message: page } });
      return true;
    }
    if (collection === 'secrets') this.getSecret(res, name, version, page);
    else this.getCertificate(res, name, version, page);
    return true;
  }

  /** The page a listing request asks for (`maxresults`, `$skiptoken`), or what is wrong with it. */
  private pageRequest(url: URL): PageRequest | string {
    const max = url.searchParams.get('maxresults');
    let size = this.paging.pageSize;
    if (max !== null) {
      const asked = Number(max);
      if (!Number.isInteger(asked) || asked < 1 || asked > KEY_VAULT_MAX_PAGE_SIZE) {
        return `The value of parameter 'maxresults' must be between 1 and ${KEY_VAULT_MAX_PAGE_SIZE}.`;
      }
      size = Math.min(size, asked);
    }
    const token = url.searchParams.get('$skiptoken');
    if (token === null) return { size, offset: 0, emptyLeft: this.paging.emptyPages, url };
    const match = /^(\d+)\.(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
    if (!match) return 'The $skiptoken is not valid.';
    return { size, offset: Number(match[1]), emptyLeft: Number(match[2]), url };
  }

  /** One page of `items` and the link to the next, as Key Vault pages a listing. */
  private page<T>(items: readonly T[], page: PageRequest): { value: T[]; nextLink: string | null } {
    // Written out by hand: Key Vault's links spell `$skiptoken` literally (URLSearchParams would write %24).
    const link = (offset: number, emptyLeft: number): string => {
      const apiVersion = encodeURIComponent(page.url.searchParams.get('api-version') ?? '7.5');
      const token = Buffer.from(`${offset}.${emptyLeft}`).toString('base64url');
      return `${this.options.url}${page.url.pathname}?api-version=${apiVersion}&$skiptoken=${token}&maxresults=${page.size}`;
    };
    if (page.emptyLeft > 0) return { value: [], nextLink: link(page.offset, page.emptyLeft - 1) };
    const value = items.slice(page.offset, page.offset + page.size);
    const end = page.offset + value.length;
    return { value, nextLink: end < items.length ? link(end, 0) : null };
  }

  private challenge(res: ServerResponse, message: string): void {
    sendJson(
      res,
      401,
      { error: { code: 'Unauthorized', message } },
      {
        'WWW-Authenticate': `Bearer authorization="${this.options.authorityHost}/${this.options.tenantId}", resource="${KEY_VAULT_RESOURCE}"`,
      },
    );
  }

  private async authenticate(token: string): Promise<{ oid: string; appid: string; iss: string } | string> {
    try {
      const { payload } = await jwtVerify(token, this.options.keys.keyResolver(), {
        algorithms: ['RS256'],
        issuer: [v1Issuer(this.options.tenantId), v2Issuer(this.options.tenantId)],
        currentDate: new Date(this.options.now()),
      });
      const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
      const okAudience = audiences.some(
        (aud) => aud === KEY_VAULT_RESOURCE || aud === `${KEY_VAULT_RESOURCE}/` || aud === KEY_VAULT_APP_ID,
      );
      if (!okAudience)
        return `AKV10022: Invalid audience. Expected ${KEY_VAULT_RESOURCE}, found: ${String(payload.aud)}.`;
      const appid =
        typeof payload.appid === 'string' ? payload.appid : typeof payload.azp === 'string' ? payload.azp : '';
      return { oid: typeof payload.oid === 'string' ? payload.oid : '', appid, iss: payload.iss ?? '' };
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ERR_JWT_EXPIRED') return 'AKV10021: The access token has expired.';
      if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') return 'AKV10032: Invalid issuer.';
      return 'AKV10000: Request is missing a Bearer or PoP token, or its signature is invalid.';
    }
  }

  private attributes(item: { enabled: boolean; createdMs: number; updatedMs: number; expMs?: number; nbfMs?: number }) {
    return {
      enabled: item.enabled,
      ...(item.nbfMs !== undefined ? { nbf: seconds(item.nbfMs) } : {}),
      ...(item.expMs !== undefined ? { exp: seconds(item.expMs) } : {}),
      created: seconds(item.createdMs),
      updated: seconds(item.updatedMs),
      ...RECOVERY,
    };
  }

  private secretItem(name: string, item: SecretVersion): Record<string, unknown> {
    return {
      id: `${this.options.url}/secrets/${name}/${item.version}`,
      attributes: this.attributes(item),
      tags: {},
      ...(item.contentType !== undefined ? { contentType: item.contentType } : {}),
      ...(item.managed ? { managed: true, kid: `${this.options.url}/keys/${name}/${item.version}` } : {}),
    };
  }

  private getSecret(
    res: ServerResponse,
    name: string | undefined,
    version: string | undefined,
    page: PageRequest,
  ): void {
    if (name === undefined) {
      const value = [...this.secrets.entries()]
        .filter(([, list]) => list.length > 0)
        .map(([secretName, list]) => {
          const { id: _id, ...rest } = this.secretItem(secretName, list[list.length - 1]!);
          return { id: `${this.options.url}/secrets/${secretName}`, ...rest };
        });
      sendJson(res, 200, this.page(value, page));
      return;
    }
    const list = this.secrets.get(name.toLowerCase()) ?? [];
    if (version === 'versions') {
      const value = byVersionId(list).map((item) => this.secretItem(name, item));
      sendJson(res, 200, this.page(value, page));
      return;
    }
    const item =
      version === undefined ? list[list.length - 1] : list.find((candidate) => candidate.version === version);
    if (!item) {
      sendJson(res, 404, {
        error: {
          code: 'SecretNotFound',
          message: `A secret with (name/id) ${version === undefined ? name : `${name}/${version}`} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
        },
      });
      return;
    }
    if (!item.enabled) {
      // Key Vault's real shape: code Forbidden, the reason in innererror.code.
      sendJson(res, 403, {
        error: {
          code: 'Forbidden',
          message: 'Operation get is not allowed on a disabled secret.',
          innererror: { code: 'SecretDisabled' },
        },
      });
      return;
    }
    sendJson(res, 200, { value: item.value, ...this.secretItem(name, item) });
  }

  private certificateBody(name: string, item: CertificateVersion): Record<string, unknown> {
    const cert = item.certificate;
    return {
      id: `${this.options.url}/certificates/${name}/${item.version}`,
      kid: `${this.options.url}/keys/${name}/${item.version}`,
      sid: `${this.options.url}/secrets/${name}/${item.version}`,
      x5t: cert.sha1.toString('base64url'),
      cer: cert.der.toString('base64'),
      attributes: this.attributes({
        enabled: item.enabled,
        createdMs: item.createdMs,
        updatedMs: item.updatedMs,
        nbfMs: cert.notBefore.getTime(),
        expMs: cert.notAfter.getTime(),
      }),
      tags: {},
      policy: this.policy(name, item),
    };
  }

  private policy(name: string, item: CertificateVersion): Record<string, unknown> {
    const months = Math.max(
      1,
      Math.round(
        (item.certificate.notAfter.getTime() - item.certificate.notBefore.getTime()) / (30 * 24 * 3600 * 1000),
      ),
    );
    return {
      id: `${this.options.url}/certificates/${name}/policy`,
      key_props: { exportable: true, kty: 'RSA', key_size: 2048, reuse_key: false },
      secret_props: { contentType: 'application/x-pem-file' },
      x509_props: {
        subject: 'CN=entra-token-broker',
        sans: {},
        ekus: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'],
        key_usage: ['digitalSignature', 'keyEncipherment'],
        validity_months: months,
        basic_constraints: { ca: false },
      },
      lifetime_actions: [{ trigger: { lifetime_percentage: 80 }, action: { action_type: 'EmailContacts' } }],
      issuer: { name: 'Self', cert_transparency: false },
      attributes: { enabled: true, created: seconds(item.createdMs), updated: seconds(item.updatedMs) },
    };
  }

  private getCertificate(
    res: ServerResponse,
    name: string | undefined,
    version: string | undefined,
    page: PageRequest,
  ): void {
    if (name === undefined) {
      const value = [...this.certificates.entries()]
        .filter(([, list]) => list.length > 0)
        .map(([certName, list]) => {
          const latest = list[list.length - 1]!;
          const { policy: _policy, cer: _cer, kid: _kid, sid: _sid, ...rest } = this.certificateBody(certName, latest);
          return { ...rest, id: `${this.options.url}/certificates/${certName}` };
        });
      sendJson(res, 200, this.page(value, page));
      return;
    }
    const list = this.certificates.get(name.toLowerCase()) ?? [];
    if (version === 'versions') {
      const value = byVersionId(list).map((item) => {
        const { policy: _policy, cer: _cer, kid: _kid, sid: _sid, ...rest } = this.certificateBody(name, item);
        return rest;
      });
      sendJson(res, 200, this.page(value, page));
      return;
    }
    const latest = list[list.length - 1];
    if (version === 'policy' && latest) {
      sendJson(res, 200, this.policy(name, latest));
      return;
    }
    const item = version === undefined ? latest : list.find((candidate) => candidate.version === version);
    if (!item || version === 'policy') {
      sendJson(res, 404, {
        error: {
          code: 'CertificateNotFound',
          message: `A certificate with (name/id) ${version === undefined ? name : `${name}/${version}`} was not found in this key vault. If you recently deleted this certificate you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
        },
      });
      return;
    }
    // Key Vault returns a disabled certificate's metadata (only its secret is refused).
    sendJson(res, 200, this.certificateBody(name, item));
  }
}

/**
 * Azure fidelity: "Key Vault lists in pages" (docs/azure-fidelity.md). Key Vault promises no order for a version listing (and `created` has one-second resolution), so
 * the emulator lists versions by version id rather than by creation: a client that took the last
 * listed version for the newest would be caught here as it would be in Azure.
 */
function byVersionId<T extends { version: string }>(list: readonly T[]): T[] {
  return [...list].sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
}
