import { defineConfig } from 'tsup'

export default defineConfig({
  // `receiver` is what the product's customers install in their own apps: no Fastify, no core.
  entry: { index: 'src/index.ts', receiver: 'src/receiver/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  target: 'node20',
  tsconfig: 'tsconfig.build.json',
})
