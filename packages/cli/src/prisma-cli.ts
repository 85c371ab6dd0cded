import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { join } from 'node:path'

/**
 * Runs the app's own Prisma CLI for the commands that need no native engine (generate,
 * validate, format): they run on bundled WebAssembly, and pointing the engine variable at an
 * existing file stops the download that fails on air-gapped machines (docs/prisma.md).
 */
export function runPrismaCli(cwd: string, args: string[]): number {
  const require = createRequire(join(cwd, 'package.json'))
  let cli: string
  try {
    cli = require.resolve('prisma/build/index.js')
  } catch {
    throw new Error('The "prisma" package is not installed in this app: pnpm add -D prisma')
  }
  const result = spawnSync(process.execPath, [cli, ...args], {
    cwd,
    stdio: 'inherit',
    env: {
      ...process.env,
      PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY || process.execPath,
    },
  })
  return result.status ?? 1
}
