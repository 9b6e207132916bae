import { readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');
const doc = readFileSync(path.join(root, 'docs', 'clients.md'), 'utf8');

/** The code blocks docs/clients.md says are a file of the repository: `<!-- file: PATH -->` then a fence. */
function fileBlocks(): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const match of doc.matchAll(/<!-- file: (\S+) -->\n```\w*\n([\s\S]*?)```\n/g)) {
    blocks.set(match[1]!, match[2]!);
  }
  return blocks;
}

describe('docs/clients.md', () => {
  it('shows each example exactly as the file that npm run examples runs', () => {
    const blocks = fileBlocks();
    expect([...blocks.keys()].sort()).toEqual([
      'client/examples/bash/broker-token.sh',
      'client/examples/dotnet/Program.cs',
      'client/examples/powershell/Get-BrokerToken.ps1',
      'client/examples/python/broker_token.py',
    ]);
    for (const [file, shown] of blocks) {
      expect({ file, text: shown }).toEqual({ file, text: readFileSync(path.join(root, file), 'utf8') });
    }
  });
});
