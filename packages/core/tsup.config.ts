import { readFileSync } from 'node:fs'
import { defineConfig } from 'tsup'

// Each build knows its own version and format, so two copies of core loaded in one app can
// name themselves (src/single-copy.ts).
const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'))

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  // `pnpm start` builds without declarations (ACME_BUILD_TYPES=skip): the app runs the JS, and
  // the declarations are most of a build's time. Every other build writes them.
  dts: process.env.ACME_BUILD_TYPES !== 'skip',
  clean: true,
  target: 'node20',
  tsconfig: 'tsconfig.build.json',
  // __filename in the ESM build too: src/single-copy.ts records where this copy was loaded from.
  shims: true,
  esbuildOptions(options, { format }) {
    options.define = {
      ...options.define,
      __ACME_CORE_VERSION__: JSON.stringify(version),
      __ACME_CORE_FORMAT__: JSON.stringify(format),
    }
  },
})
