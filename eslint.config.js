// Lint: typescript-eslint's recommended rules; formatting is prettier's job.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  {
    ignores: ['dist/', 'node_modules/', '.venv/', '.venv-llamacpp/', 'trainer/', '.refusenik/', 'coverage/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        performance: 'readonly',
        setTimeout: 'readonly',
        fetch: 'readonly',
      },
    },
  },
  {
    // The HTML report's in-page script and the chart builder it shares with the static pages: browser code,
    // bundled (esbuild) into one classic <script>. Its type-only imports of the report data bring Node's types
    // into its program, so Node globals are refused here; and data goes into the page as text, never parsed
    // as HTML.
    files: ['src/report/browser/**/*.ts', 'src/report/chart/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              // Values only from the page script's own modules and the shared chart builder; types from anywhere.
              regex: '^(?!\\./[^/]+$|\\.\\./chart/[^/]+$)',
              allowTypeImports: true,
              message:
                'Browser code: values only from src/report/browser and src/report/chart; types from anywhere.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...['process', 'Buffer', 'require', 'module', 'exports', '__dirname', '__filename', 'global'].map(
          (name) => ({ name, message: 'Browser code: no Node globals.' }),
        ),
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: 'MemberExpression[property.name=/^(innerHTML|outerHTML)$/]',
          message: 'Put data in with textContent or setAttribute.',
        },
        {
          selector:
            'CallExpression[callee.property.name=/^(insertAdjacentHTML|createContextualFragment|write|writeln)$/]',
          message: 'Put data in with textContent or setAttribute.',
        },
      ],
    },
  },
);
