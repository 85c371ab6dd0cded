import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where this run's packed packages go (src/shared-pack.ts), packed when first needed. */
    packDir: string
  }
}

/** One folder of packed packages per run, shared by the files that install them. */
export default function setup(project: TestProject): () => void {
  const packDir = mkdtempSync(join(tmpdir(), 'acme-docs-test-packs-'))
  project.provide('packDir', packDir)
  return () => rmSync(packDir, { recursive: true, force: true })
}
