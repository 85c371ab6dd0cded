import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

/** Where an app keeps its Prisma files; overridable in package.json under `acme.prisma`. */
export interface PrismaPaths {
  /** The app's own schema: a .prisma file or a folder. Never written by acme. */
  input: string
  /** The merged schema acme writes: a .prisma file or a folder. */
  output: string
  /** Prisma's migrations folder. */
  migrations: string
}

export const DEFAULT_PATHS: PrismaPaths = {
  input: 'prisma/app',
  output: 'prisma/schema.prisma',
  migrations: 'prisma/migrations',
}

/** Reads `acme.prisma` from the app's package.json, falling back to the defaults. */
export function resolvePaths(cwd: string, overrides: Partial<PrismaPaths> = {}): PrismaPaths {
  const packageJson = join(cwd, 'package.json')
  let configured: Partial<PrismaPaths> = {}
  if (existsSync(packageJson)) {
    const manifest = JSON.parse(readFileSync(packageJson, 'utf8')) as {
      acme?: { prisma?: Partial<PrismaPaths> }
    }
    configured = manifest.acme?.prisma ?? {}
  }
  const pick = (key: keyof PrismaPaths) =>
    resolve(cwd, overrides[key] ?? configured[key] ?? DEFAULT_PATHS[key])
  return { input: pick('input'), output: pick('output'), migrations: pick('migrations') }
}

/** The manifest `acme prisma merge` writes beside a single-file or folder schema. */
export function manifestPathFor(schema: string): string {
  return schema.endsWith('.prisma')
    ? schema.replace(/\.prisma$/, '.manifest.json')
    : join(schema, 'manifest.json')
}
