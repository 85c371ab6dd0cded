#!/usr/bin/env node
// Runs the Prisma CLI without its schema-engine download, which fails on air-gapped machines:
// `generate`, `validate` and `format` run on bundled WebAssembly, and the variable only has to
// point at an existing file to stop the download. See docs/prisma.md in the acme repository.
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const cli = require.resolve('prisma/build/index.js')
const env = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY || process.execPath,
}
const result = spawnSync(process.execPath, [cli, ...process.argv.slice(2)], {
  stdio: 'inherit',
  env,
})
process.exit(result.status ?? 1)
