import { readFileSync } from 'node:fs'
import { defineConfig } from 'tsup'

// Each build knows its own version and format, so two copies of core loaded in one app can
// name themselves (src/single-copy.ts).
const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'))

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
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
