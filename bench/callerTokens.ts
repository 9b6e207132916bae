/**
 * Caller tokens made to measure: the claims of a token the emulator's Entra issued to a caller,
 * with another calling app, object ID, token ID and lifetime, signed with the tenant's key (so the
 * broker verifies them as it would Entra's).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { RunningEmulator } from '../dev/emulator/index';

export type CallerClaims = Record<string, unknown>;

/** The claims of a token the emulator issues to its first caller for the broker's API. */
export async function callerTokenTemplate(emulator: RunningEmulator): Promise<CallerClaims> {
  const token = await emulator.callerToken(emulator.callers[0]!);
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as CallerClaims;
}

/** A new, distinct, valid caller token for `appId`. */
export function signCallerToken(
  emulator: RunningEmulator,
  template: CallerClaims,
  options: { appId: string; lifetimeSeconds: number },
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const objectId = randomUUID();
  return emulator.signJwt({
    ...template,
    azp: options.appId,
    appid: options.appId,
    oid: objectId,
    sub: objectId,
    uti: randomBytes(16).toString('base64url'),
    iat: now,
    nbf: now,
    exp: now + options.lifetimeSeconds,
  });
}
