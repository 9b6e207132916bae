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

  test('evaluates indexed lambdas, string and number helpers, tryGet, cidrSubnet, and only the branch if() takes', () => {
    const csv = "split(' a, ,b ', ',')";
    expect(
      evaluateExpression(
        `filter(map(${csv}, lambda('x', trim(lambdaVariables('x')))), lambda('x', not(empty(lambdaVariables('x')))))`,
        scope,
      ),
    ).toEqual(['a', 'b']);
    expect(
      evaluateExpression(
        "map(parameters('list'), lambda('v', 'i', format('{0}{1}', lambdaVariables('v'), add(10, lambdaVariables('i')))))",
        scope,
      ),
    ).toEqual(['a10', 'b11']);
    expect(evaluateExpression('objectKeys(json(\'{"k1":[],"k2":1}\'))', scope)).toEqual(['k1', 'k2']);
    expect(evaluateExpression("union(createObject('a', 1), createObject('b', 2))", scope)).toEqual({ a: 1, b: 2 });
    expect(evaluateExpression("parameters('list')[copyIndex()]", { ...scope, copyIndex: 1 })).toBe('b');
    expect(evaluateExpression("if(parameters('exists'), reference('x'), 'safe')", scope)).toBe('safe');
    expect(() => evaluateExpression("if(true(), reference('x'), 'safe')", scope)).toThrow(
      /unsupported function reference/,
    );
    expect(() => evaluateExpression('copyIndex()', scope)).toThrow(/outside a copy loop/);
    expect(
      evaluateExpression(
        "coalesce(tryGet(if(parameters('exists'), reference('m'), null()), 'outputs', 'x'), '')",
        scope,
      ),
    ).toBe('');
    expect(evaluateExpression("tryGet(parameters('settings'), 'X')", scope)).toBe('x');
    expect(evaluateExpression("cidrSubnet('10.40.0.0/22', 23, 0)", scope)).toBe('10.40.0.0/23');
    expect(evaluateExpression("cidrSubnet('10.40.0.0/22', 24, 2)", scope)).toBe('10.40.2.0/24');
    expect(() => evaluateExpression("cidrSubnet('10.40.0.0/22', 24, 4)", scope)).toThrow(/no subnet 4/);
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
