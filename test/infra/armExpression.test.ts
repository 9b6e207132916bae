import { evaluateExpression, evaluateValue, type EvaluationScope } from './armExpression';

const scope: EvaluationScope = {
  parameters: { kind: 'certificate', exists: false, name: 'kv1', list: ['a', 'b'], settings: { X: 'x' } },
  variables: {
    isCertificate: "[equals(parameters('kind'), 'certificate')]",
    roleId: "[if(variables('isCertificate'), 'cert-role', 'secret-role')]",
  },
};

describe('armExpression (test helper for the infra tests)', () => {
  test('evaluates logic over parameters and variables', () => {
    expect(evaluateExpression("and(variables('isCertificate'), not(parameters('exists')))", scope)).toBe(true);
    expect(evaluateExpression("or(equals(parameters('kind'), 'secret'), parameters('exists'))", scope)).toBe(false);
    expect(evaluateExpression("variables('roleId')", scope)).toBe('cert-role');
  });

  test('evaluates resource IDs, member access, indexing, escaped quotes and literal brackets', () => {
    expect(evaluateExpression("resourceId('Microsoft.KeyVault/vaults/secrets', parameters('name'), 's')", scope)).toBe(
      '/providers/Microsoft.KeyVault/vaults/kv1/secrets/s',
    );
    expect(evaluateExpression("parameters('settings').X", scope)).toBe('x');
    expect(evaluateExpression("parameters('list')[1]", scope)).toBe('b');
    expect(evaluateExpression("format('{0}''s {1}', 'vault', parameters('name'))", scope)).toBe("vault's kv1");
    expect(evaluateValue('[[not an expression]', scope)).toBe('[not an expression]');
    expect(evaluateExpression("join(createArray(string(parameters('list')), 'x'), '\n')", scope)).toBe('["a","b"]\nx');
  });

  test('refuses what it does not understand instead of guessing', () => {
    expect(() => evaluateExpression("reference('x')", scope)).toThrow(/unsupported function reference/);
    expect(() => evaluateExpression("parameters('missing')", scope)).toThrow(/unknown parameter/);
    expect(() => evaluateExpression("and('yes', true())", scope)).toThrow(/expected a boolean/);
  });
});

describe('armExpression: lambdas and copy loops (the alert rules are generated from the alert catalog)', () => {
  const catalog: EvaluationScope = {
    parameters: {},
    variables: {
      catalog: { events: { B: { severities: { error: 'x' } }, A: { severities: { warning: 'y', error: 'z' } } } },
      rows: "[items(variables('catalog').events)]",
    },
  };

  test('map, filter, items, contains, lambdaVariables and createObject', () => {
    expect(
      evaluateExpression(
        "map(filter(variables('rows'), lambda('e', contains(lambdaVariables('e').value.severities, 'warning'))), lambda('e', lambdaVariables('e').key))",
        catalog,
      ),
    ).toEqual(['A']);
    expect(
      evaluateExpression(
        "map(variables('rows'), lambda('e', createObject('name', lambdaVariables('e').key, 'n', length(lambdaVariables('e').value.severities))))",
        catalog,
      ),
    ).toEqual([
      { name: 'A', n: 2 },
      { name: 'B', n: 1 },
    ]);
    expect(
      evaluateExpression(
        "toObject(variables('rows'), lambda('e', lambdaVariables('e').key), lambda('e', 'fixed, (with) text'))",
        catalog,
      ),
    ).toEqual({ A: 'fixed, (with) text', B: 'fixed, (with) text' });
  });

  test('copyIndex() reads the loop position, and only inside a loop', () => {
    expect(evaluateExpression("createArray('a', 'b')[copyIndex()]", { ...catalog, copyIndex: 1 })).toBe('b');
    expect(() => evaluateExpression('copyIndex()', catalog)).toThrow(/outside a copy loop/);
    expect(() => evaluateExpression("lambdaVariables('e')", catalog)).toThrow(/unknown lambda variable/);
  });
});
