/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/client/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: 'tsconfig.jest.json' }],
  },
  // jose 6 is ESM-only; ts-jest turns it into CommonJS like our own sources.
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  // The Functions host injects this virtual module; outside the host we capture registrations.
  moduleNameMapper: {
    '^@azure/functions-core$': '<rootDir>/test/support/functionsCoreStub.ts',
  },
  testTimeout: 30000,
  // `npm run coverage` (and CI) measure the deployable sources only.
  collectCoverageFrom: ['src/**/*.ts'],
  coverageDirectory: 'coverage',
  // Tests start their own emulator on an ephemeral port; two workers fit the 2-core machine.
  maxWorkers: 2,
};
