import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { packPackages, publishedPackages } from './pack.js'

/**
 * The published packages, packed once per test run for every test file that installs them
 * (getting-started, create-acme-app): packing them all takes tens of seconds. The first caller
 * packs into `dir` under a lock (an exclusive mkdir); the others wait for its manifest, or for
 * its failure. `dir` comes from the run's global setup, so each run packs what was just built.
 */
export async function sharedTarballs(
  root: string,
  dir: string,
  timeoutMs = 600_000,
): Promise<Map<string, string>> {
  const manifest = join(dir, 'tarballs.json')
  const failure = join(dir, 'failed.txt')
  try {
    mkdirSync(join(dir, 'packing'))
  } catch {
    return waitForManifest(manifest, failure, timeoutMs)
  }
  try {
    const tarballs = await packPackages(publishedPackages(root), dir)
    writeFileSync(`${manifest}.partial`, JSON.stringify(Object.fromEntries(tarballs)))
    renameSync(`${manifest}.partial`, manifest)
    return tarballs
  } catch (error) {
    writeFileSync(failure, error instanceof Error ? (error.stack ?? error.message) : String(error))
    throw error
  }
}

async function waitForManifest(
  manifest: string,
  failure: string,
  timeoutMs: number,
): Promise<Map<string, string>> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (existsSync(manifest)) {
      const entries = JSON.parse(readFileSync(manifest, 'utf8')) as Record<string, string>
      return new Map(Object.entries(entries))
    }
    if (existsSync(failure)) {
      throw new Error(`packing failed in another test file:\n${readFileSync(failure, 'utf8')}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  throw new Error(`the packages were not packed within ${timeoutMs} ms (another test file packs)`)
}
