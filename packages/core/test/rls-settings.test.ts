import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { TENANT_SETTING } from '@acme/cli'
import { describe, expect, it } from 'vitest'
import { RLS_SETTINGS } from '../src/index.js'

const packagesDir = fileURLToPath(new URL('../..', import.meta.url))
const known = new Set<string>(Object.values(RLS_SETTINGS))

function sqlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : sqlFiles(path)
    return name.endsWith('.sql') ? [path] : []
  })
}

describe('row-level security settings have one home', () => {
  it("is where the CLI's generated policies read the tenant from", () => {
    expect(TENANT_SETTING).toBe(RLS_SETTINGS.tenantId)
  })

  it("names every setting the plugins' SQL policies read", () => {
    const files = readdirSync(packagesDir).flatMap((name) => {
      const prisma = join(packagesDir, name, 'prisma')
      try {
        return statSync(prisma).isDirectory() ? sqlFiles(prisma) : []
      } catch {
        return []
      }
    })
    expect(files.length).toBeGreaterThan(0)
    const read = new Set<string>()
    for (const file of files) {
      for (const match of readFileSync(file, 'utf8').matchAll(/current_setting\('([^']+)'/g)) {
        read.add(match[1] ?? '')
      }
    }
    expect(read.size).toBeGreaterThan(0)
    expect([...read].filter((name) => !known.has(name))).toEqual([])
  })
})
