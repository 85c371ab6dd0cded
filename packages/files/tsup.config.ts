import { defineConfig } from 'tsup'

export default defineConfig({
  // The S3 driver is an entry of its own, so the AWS SDK loads only for apps that use it.
  entry: ['src/index.ts', 'src/s3.ts'],
  format: ['esm', 'cjs'],
  // `pnpm start` builds without declarations (ACME_BUILD_TYPES=skip): the app runs the JS, and
  // the declarations are most of a build's time. Every other build writes them.
  dts: process.env.ACME_BUILD_TYPES !== 'skip',
  clean: true,
  target: 'node20',
  tsconfig: 'tsconfig.build.json',
})
