import { realpathSync } from 'node:fs'
import { isAbsolute, relative, resolve, sep } from 'node:path'

/** Paths in messages, markers and `files` keys use `/` so output is the same on every OS. */
export function toPosix(path: string): string {
  return path.split(sep).join('/')
}

export function displayPath(cwd: string, absolutePath: string): string {
  const relativePath = relative(cwd, absolutePath)
  return toPosix(relativePath === '' ? '.' : relativePath)
}

export function isSameOrInside(candidate: string, container: string): boolean {
  const relativePath = relative(container, candidate)
  return relativePath === '' || (!relativePath.startsWith('..') && !isAbsolute(relativePath))
}

/** Symlinks (pnpm's node_modules) must not hide that two paths are the same file. */
export function realPathOrSelf(path: string): string {
  try {
    return realpathSync(path)
  } catch {
    // Not there yet (an output about to be created): resolve its closest existing parent.
    const parent = resolve(path, '..')
    if (parent === path) return path
    return resolve(realPathOrSelf(parent), relative(parent, path))
  }
}
