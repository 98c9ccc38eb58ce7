// ESLint flat config. TypeScript files are linted with type information (typescript-eslint's
// project service reads tsconfig.json), so rules such as no-floating-promises and
// switch-exhaustiveness-check see the real types. Layout and punctuation are Prettier's job:
// no stylistic rules here.
import js from '@eslint/js'
import { defineConfig } from 'eslint/config'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default defineConfig(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'client/dist/',
      'test-artifacts/',
      '.artifacts/',
      '.scratch/',
      'data/',
    ],
  },

  {
    files: ['**/*.{js,mjs,cjs}'],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },

  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Promises: every one is awaited, handled, or explicitly `void` (fire-and-forget).
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // A switch over a union names every member, even when a `default` exists: adding a
      // message type, op or variant must make each dispatch site decide what to do with it.
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: false, allowDefaultCaseForExhaustiveSwitch: true },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // The server logs through pino; protocol/ and client/ are libraries and print nothing.
      'no-console': 'error',
      // A `let` read (by a closure) before its one assignment stays `let`: as a `const`
      // declared at the assignment, an earlier call of the closure would hit the TDZ.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],

      // Left out of recommendedTypeChecked, on purpose:
      // - no-unsafe-*: their findings here all come from `Array.isArray` narrowing a typed
      //   readonly array to `any[]` inside runtime validation of untrusted input.
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // - require-await: `async` without `await` is deliberate (fakes of async interfaces,
      //   throws that must become rejections).
      '@typescript-eslint/require-await': 'off',
      // - no-this-alias: `const server = this` feeds getters in host objects, which cannot be
      //   arrow functions.
      '@typescript-eslint/no-this-alias': 'off',
    },
  },

  {
    // The pure layers' compile-time fence declares these; tsconfig.json leaves the file out.
    files: ['server/pure-globals.d.ts'],
    languageOptions: {
      parserOptions: { projectService: false, project: './tsconfig.pure.json' },
    },
  },

  {
    // Consumer fixtures are compiled or bundled in scratch projects against the packed
    // packages, not in this one: linted without type information.
    files: ['test/consumer/fixtures/**'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      globals: { ...globals.browser, ...globals.node },
      parserOptions: { projectService: false },
    },
  },

  {
    // The pure layers (ZAB core, tree, sessions, watches, requests, member duties, the
    // protocol): their compile-time fence (tsconfig.pure.json) already rejects timers,
    // I/O, fetch, process and console; these are the nondeterministic parts of the
    // ECMAScript library itself, which no tsconfig can leave out. Time and randomness
    // come in as arguments.
    files: [
      'protocol/**/*.ts',
      'server/core/**/*.ts',
      'server/tree/**/*.ts',
      'server/sessions/**/*.ts',
      'server/watches/**/*.ts',
      'server/requests/**/*.ts',
      'server/member/**/*.ts',
    ],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'Date', message: 'pure code takes the time as an argument' },
        { name: 'performance', message: 'pure code takes the time as an argument' },
        { name: 'crypto', message: 'pure code takes randomness as an argument' },
        { name: 'WeakRef', message: 'garbage collection timing is not deterministic' },
        { name: 'FinalizationRegistry', message: 'garbage collection timing is not deterministic' },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Math',
          property: 'random',
          message: 'pure code takes randomness as an argument',
        },
        { object: 'globalThis', message: 'pure code reaches nothing global' },
      ],
    },
  },

  {
    // The CLI's user-facing output goes to the terminal on purpose.
    files: ['server/cli/**'],
    rules: { 'no-console': 'off' },
  },

  {
    // Tests, simulators and benchmarks report to the terminal, and tests destructure
    // module namespaces (`const { mkdtempSync } = await import('node:fs')`).
    files: ['test/**', 'bench/**'],
    rules: {
      'no-console': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
)
