/**
 * The alert catalog is the one list of alert events: the types derive from it (raising an event at
 * a severity it does not list does not compile), the deployed rules read it (test/infra/alerts.test.ts),
 * and docs/alerts.md must list every event with the same severities and a runbook.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Alert } from '../../../src/contract/alert';
import { ALERT_CATALOG, ALERT_PAGING, alertKindOf, type AlertKind } from '../../../src/contract/alertCatalog';

const repoRoot = path.resolve(__dirname, '../../..');
const SEVERITIES = ['info', 'warning', 'error'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

describe('alert catalog', () => {
  test('the types refuse an event at a severity the catalog does not list, or an unknown event', () => {
    const fields = { credentialName: 'c', message: 'm' };
    const allowed: Alert[] = [
      { ...fields, event: 'SecretExpired', severity: 'error' },
      { ...fields, event: 'KeyVaultAccessFailed', severity: 'warning' },
      { ...fields, event: 'KeyVaultAccessFailed', severity: 'error' },
      { ...fields, event: 'CredentialRotated', severity: 'info' },
    ];
    // @ts-expect-error SecretExpired is an error, never a warning.
    const wrongSeverity: Alert = { ...fields, event: 'SecretExpired', severity: 'warning' };
    // @ts-expect-error CredentialRotated is info: it must not be raised at error (it would page).
    const paged: AlertKind = { event: 'CredentialRotated', severity: 'error' };
    // @ts-expect-error not in the catalog.
    const unknown: AlertKind = { event: 'SomethingNew', severity: 'error' };
    expect(allowed).toHaveLength(4);
    expect([wrongSeverity, paged, unknown]).toHaveLength(3);
  });

  test('alertKindOf keeps only the event and the severity', () => {
    const described = { event: 'SecretDisabled', severity: 'error', message: 'x', aboutCredential: true } as const;
    expect(alertKindOf(described)).toEqual({ event: 'SecretDisabled', severity: 'error' });
  });

  test('every entry has a meaning, a runbook anchor and known severities; paging covers warning and error only', () => {
    for (const entry of ALERT_CATALOG) {
      expect(entry.meaning.length).toBeGreaterThan(20);
      expect(entry.runbook).toBe(entry.event.toLowerCase());
      const severities = Object.keys(entry.severities);
      expect(severities.length).toBeGreaterThan(0);
      for (const severity of severities) expect(SEVERITIES).toContain(severity);
    }
    expect(ALERT_PAGING.map((tier) => [tier.severity, tier.azureMonitorSeverity])).toEqual([
      ['error', 1],
      ['warning', 2],
    ]);
  });

  test('every catalog event is raised somewhere in src/ (no stale entries), and src/ raises no other', () => {
    const raised = new Set<string>();
    for (const file of sourceFiles(path.join(repoRoot, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/\bevent: '(\w+)',\s*(?:\/\/[^\n]*\n\s*)*severity:/g)) raised.add(match[1]!);
      for (const match of text.matchAll(/\{ event: '(\w+)', severity: '\w+' \}/g)) raised.add(match[1]!);
    }
    expect([...raised].sort()).toEqual(ALERT_CATALOG.map((entry) => entry.event).sort());
  });

  describe('docs/alerts.md', () => {
    const doc = readFileSync(path.join(repoRoot, 'docs/alerts.md'), 'utf8');

    test.each(ALERT_CATALOG.map((entry) => [entry.event, entry]))(
      '%s is in the alert table with its severities, and has a runbook section',
      (event, entry) => {
        const row = new RegExp(`^\\| \`${event}\` \\| ([^|]+) \\| ([^|]+) \\|`, 'm').exec(doc);
        expect(row).not.toBeNull();
        const listed = row![1]!.split(',').map((severity) => severity.trim());
        expect(listed.sort()).toEqual(Object.keys(entry.severities).sort());
        const paging = listed.map((severity) => {
          const tier = ALERT_PAGING.find((candidate) => candidate.severity === severity);
          return tier ? String(tier.azureMonitorSeverity) : 'not paged';
        });
        expect(row![2]!.trim()).toBe(paging.join(', '));
        // GitHub's anchor for "### SecretExpired" is #secretexpired.
        expect(doc).toMatch(new RegExp(`^### ${event}$`, 'm'));
        expect(doc).toContain(`](#${entry.runbook})`);
      },
    );
  });
});
