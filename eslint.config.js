// ESLint flat config: typescript-eslint's type-checked recommended rules over the TypeScript, ESLint's recommended over the JS configs.
// Layout is Prettier's job (.prettierrc); nothing here is about formatting.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // Generated or not ours (the same list as .prettierignore).
  { ignores: ['node_modules/', '.data/', 'artifacts/', 'coverage/', 'dist/', 'migrations/committed/', 'schema.graphql'] },
  js.configs.recommended,
  { languageOptions: { globals: globals.node } },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Query rows (pg), GraphQL responses and PostGraphile plugin hooks are untyped `any` by design; typing each read is a rewrite.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      // The same untyped data is declared `any` where it enters (test response helpers, plugin hooks).
      '@typescript-eslint/no-explicit-any': 'off',
      // The code writes `x[i]!` as if noUncheckedIndexedAccess were on; those `!` are deliberate, not noise.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // An underscore marks a binding kept on purpose (destructuring to omit a key).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
);
