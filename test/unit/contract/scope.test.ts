import { describeScopeProblem, MAX_SCOPE_LENGTH, scopeKey } from '../../../src/contract/scope';

describe('scope validation', () => {
  it.each([
    'api://qualys-api/.default',
    'https://graph.microsoft.com/.default',
    '00000003-0000-0000-c000-000000000000/.default',
  ])('accepts the client-credentials scope %s', (scope) => {
    expect(describeScopeProblem(scope)).toBeUndefined();
  });

  it.each([
    ['', 'is empty'],
    ['/.default', 'must be a client-credentials scope'],
    ['api://qualys-api/read', 'must be a client-credentials scope'],
    ['api://qualys-api/.default openid', 'contains spaces'],
    ['api://qualys-api/.default\n', 'contains spaces'],
    ['api://qualys\u0000/.default', 'contains spaces'],
    ['api://qualys-äpi/.default', 'contains spaces'],
    ['api://"quoted"/.default', 'contains spaces'],
    [`api://${'a'.repeat(MAX_SCOPE_LENGTH)}/.default`, 'longer than 512'],
  ])('refuses %j', (scope, problem) => {
    expect(describeScopeProblem(scope)).toContain(problem);
  });

  it('keys scopes case-insensitively', () => {
    expect(scopeKey('API://Qualys-API/.default')).toBe(scopeKey('api://qualys-api/.default'));
  });
});
