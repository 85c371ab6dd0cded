import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface WorkspacePackage {
  name: string
  dir: string
}

/** The packages of `packages/` that are published: every one not marked private. */
export function publishedPackages(root: string): WorkspacePackage[] {
  const parent = join(root, 'packages')
  return readdirSync(parent, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => {
      const dir = join(parent, entry.name)
      let manifest: { name?: string; private?: boolean }
      try {
        manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
      } catch {
        return []
      }
      return manifest.name && !manifest.private ? [{ name: manifest.name, dir }] : []
    })
    .sort((a, b) => a.name.localeCompare(b.name))
}

/**
 * Packs each package with `pnpm pack` in its own folder, so `files`, `publishConfig` and the
 * rewriting of `workspace:` ranges apply exactly as on publish. Answers name to tarball path.
 */
export async function packPackages(
  packages: WorkspacePackage[],
  destination: string,
): Promise<Map<string, string>> {
  const packed = await Promise.all(
    packages.map(async ({ name, dir }) => {
      const { stdout } = await run('pnpm', ['pack', '--json', '--pack-destination', destination], {
        cwd: dir,
        maxBuffer: 16 * 1024 * 1024,
      })
      const { filename } = JSON.parse(stdout) as { filename: string }
      return [name, filename] as const
    }),
  )
  return new Map(packed)
}
