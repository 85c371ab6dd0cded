import { existsSync, readdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { CreateAppError } from './errors.js'

const SCOPE = '@acme/'

/**
 * The project's `@acme/*` dependencies pointed at packed tarballs in `tarballDir` (`file:` paths)
 * instead of the registry: for an air-gapped install from a copy of the packages, or to try
 * packages not yet published. A tarball is found by the name `npm pack` and `pnpm pack` give it
 * (`acme-core-0.1.0.tgz` for `@acme/core`); a dependency with none, or with several, is refused.
 * Answers the rewritten entries only.
 */
export function localTarballs(
  dependencies: Record<string, string>,
  tarballDir: string,
): Record<string, string> {
  const dir = resolve(tarballDir)
  if (!existsSync(dir)) {
    throw new CreateAppError('ACME_CREATE_PACKAGES_MISSING', `--packages: ${dir} does not exist.`)
  }
  const files = readdirSync(dir).filter((file) => file.endsWith('.tgz'))
  const rewritten: Record<string, string> = {}
  for (const name of Object.keys(dependencies)) {
    if (!name.startsWith(SCOPE)) continue
    const stem = name.slice(1).replace('/', '-')
    // The version starts with a digit: `acme-core-extra-1.0.0.tgz` is not `@acme/core`'s.
    const matches = files.filter(
      (file) => file.startsWith(`${stem}-`) && /^\d/.test(file.slice(stem.length + 1)),
    )
    const [only] = matches
    if (matches.length !== 1 || only === undefined) {
      throw new CreateAppError(
        'ACME_CREATE_PACKAGES_MISSING',
        matches.length === 0
          ? `--packages: ${dir} has no tarball of ${name} (${stem}-<version>.tgz).`
          : `--packages: ${dir} has several tarballs of ${name}: ${matches.join(', ')}; keep one.`,
      )
    }
    rewritten[name] = `file:${join(dir, only)}`
  }
  return rewritten
}
