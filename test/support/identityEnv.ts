/**
 * Points `ManagedIdentityCredential` (App Service protocol: IDENTITY_ENDPOINT / IDENTITY_HEADER) at an
 * emulator and puts the previous values back afterwards, so one test file does not leak its emulator's
 * endpoint into the environment.
 */
import type { RunningEmulator } from '../../dev/emulator';

const IDENTITY_VARIABLES = ['IDENTITY_ENDPOINT', 'IDENTITY_HEADER'] as const;

/** Sets IDENTITY_ENDPOINT/IDENTITY_HEADER for the emulator (e.g. in beforeAll); returns the restore function. */
export function useIdentityEnv(emulator: RunningEmulator): () => void {
  const saved = IDENTITY_VARIABLES.map((name) => [name, process.env[name]] as const);
  process.env.IDENTITY_ENDPOINT = emulator.identityEndpoint;
  process.env.IDENTITY_HEADER = emulator.identityHeader;
  return () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/** Runs `work` with IDENTITY_ENDPOINT/IDENTITY_HEADER pointing at the emulator, then restores them. */
export async function withIdentityEnv<T>(emulator: RunningEmulator, work: () => Promise<T>): Promise<T> {
  const restore = useIdentityEnv(emulator);
  try {
    return await work();
  } finally {
    restore();
  }
}
