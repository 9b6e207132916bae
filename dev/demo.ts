/**
 * `npm run demo`: walks the broker's flow against the running stack (`.local/stack.json`, or
 * BROKER_STATE_DIR), or against a stack it starts itself (on free ports, in a temporary state
 * directory) and stops afterwards. Exit status 0 only if every step behaved.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ManagedChild, spawnNode } from './childProcess';
import { demoContext, type DemoStep, runDemoSteps } from './demoSteps';
import { localFetch } from './localFetch';
import { readStackFile, repoRoot, type StackFile, stackFilePath, stateDir } from './stackFile';

const STACK_TIMEOUT_MS = 60_000;

function printStep(step: DemoStep, index: number): void {
  process.stdout.write(`\n${step.ok ? 'PASS' : 'FAIL'}  ${index}. ${step.title}\n`);
  for (const detail of step.details) process.stdout.write(`        ${detail}\n`);
}

async function startOwnStack(): Promise<{ stack: StackFile; stop(): Promise<void> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'broker-demo-'));
  process.stdout.write('No running stack: starting one for the demo (stopped afterwards)...\n');
  const output: string[] = [];
  const child: ManagedChild = spawnNode('stack', path.join(repoRoot(), 'dist', 'dev', 'start.js'), [], {
    env: { ...process.env, BROKER_STATE_DIR: dir, PORT: '0', EMULATOR_PORT: '0', EMULATOR_THIRD_PARTY_PORT: '0' },
    cwd: repoRoot(),
    onLine: (line) => output.push(line),
  });
  const stop = async (): Promise<void> => {
    await child.stop(10_000);
    rmSync(dir, { recursive: true, force: true });
  };
  const started = Date.now();
  while (Date.now() - started < STACK_TIMEOUT_MS) {
    if (child.hasExited()) break;
    const stack = readStackFile(stackFilePath(dir));
    if (stack) return { stack, stop };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await stop();
  process.stderr.write(`${output.slice(-30).join('\n')}\n`);
  throw new Error('the stack did not come up (its last output is above)');
}

async function answers(url: string): Promise<boolean> {
  try {
    await localFetch(url, { timeoutMs: 3000 });
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<number> {
  let stack = readStackFile(stackFilePath(stateDir()));
  let own: { stop(): Promise<void> } | undefined;
  if (stack && !(await answers(`${stack.broker.url}/api/health`))) {
    process.stdout.write(`${stackFilePath()} is stale: nothing answers at ${stack.broker.url}.\n`);
    stack = undefined;
  }
  if (!stack) {
    const started = await startOwnStack();
    stack = started.stack;
    own = started;
  }
  try {
    process.stdout.write(
      `Demo against the broker at ${stack.broker.url} (emulated Entra ${stack.entra.authorityHost})\n`,
    );
    let index = 0;
    const steps = await runDemoSteps(demoContext(stack), (step) => printStep(step, ++index));
    const failed = steps.filter((step) => !step.ok).length;
    const complete = steps.length >= 5;
    process.stdout.write(
      failed === 0 && complete
        ? `\nAll ${steps.length} steps behaved.\n`
        : `\n${failed} of ${steps.length} steps failed${complete ? '' : ' (the walk stopped early)'}.\n`,
    );
    return failed === 0 && complete ? 0 : 1;
  } finally {
    await own?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
