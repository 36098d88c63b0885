// Type-aware lint: the rules that catch real faults in async server code.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // examples/ holds plain-JS samples for users, test/fixtures/code-ts/ a plain-JS app the Node SDK deploys; tests run them.
  { ignores: ['dist/', 'node_modules/', 'bin/', 'scripts/', 'examples/', 'test/fixtures/code-ts/', 'eslint.config.js'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's describe/it return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'before', 'after'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // fastify plugins and port stubs are async by contract even when they do not await.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', '../../*/**', 'kysely', 'fastify', 'pg', 'pino'], message: 'src/domain is pure: no I/O, nothing outside src/domain.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/api/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/store/kysely/**', '**/store/dialects/**', '**/runtime/process/**'], message: 'Dialects talk to the control plane, not to adapters.' },
          ],
        },
      ],
    },
  },
  {
    // The web console runs in a browser: it talks to the server over HTTP only. It shares one pure module with the
    // CLI, the offers search language (so the console accepts exactly what `gantry search offers` accepts).
    files: ['web/src/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', '**/src/*/**', '**/src/cli/*', '!**/src/cli/search-args.js'], message: 'web/ runs in a browser: HTTP only, no server code.' },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
