// Lint: typescript-eslint's recommended rules, and Nx module boundaries so that services reach
// each other only through Kafka and the shared libraries' public index (a deep import is an error).
import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const boundaries = (extraForTests) => [
  'error',
  {
    enforceBuildableLibDependency: false,
    allow: [],
    depConstraints: [
      { sourceTag: 'type:service', onlyDependOnLibsWithTags: ['type:lib', ...extraForTests] },
      { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib', ...extraForTests] },
      { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib', 'type:tool'] },
      { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared', ...(extraForTests.length ? ['scope:tools'] : [])] },
    ],
  },
];

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '.local/**', '.nx/**', 'docs/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': boundaries([]),
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': ['error', { patterns: [{ group: ['@parley/*/src/*', '@parley/*/src'], message: 'Import a library through its public index (@parley/<lib>).' }] }],
    },
  },
  {
    // Tests (and their helpers) may start the Meta simulator and the local stack (tools) to play
    // Meta and the infrastructure. Production code may not.
    files: ['**/*.test.ts', '**/test-support/**/*.ts', '**/test-harness.ts', '**/test-fixtures.ts'],
    rules: { '@nx/enforce-module-boundaries': boundaries(['type:tool']) },
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', require: 'readonly', module: 'writable', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
