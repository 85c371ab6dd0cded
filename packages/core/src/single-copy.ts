import { fileURLToPath } from 'node:url'
import { AcmeConfigError } from './errors.js'

/** Set by the build (tsup.config.ts) from package.json; absent when tests run the sources. */
declare const __ACME_CORE_VERSION__: string | undefined
/** Set by the build for each output: `esm` or `cjs`. */
declare const __ACME_CORE_FORMAT__: string | undefined

/** This copy's version, read from core's package.json when it was built. */
export const CORE_VERSION: string =
  typeof __ACME_CORE_VERSION__ === 'string' ? __ACME_CORE_VERSION__ : 'source'

const FORMAT: string = typeof __ACME_CORE_FORMAT__ === 'string' ? __ACME_CORE_FORMAT__ : 'source'

/** One loaded module instance of core. */
export interface LoadedCore {
  readonly version: string
  /** The file this instance was loaded from. */
  readonly path: string
  /** `esm` or `cjs`: the import and the require build of one install are two instances. */
  readonly format: string
}

/**
 * Every copy of core loaded in this process, whatever its version, under a key all versions
 * share. The shape (a Map of `${format}:${path}` to LoadedCore) is a contract between versions:
 * it only ever gains fields.
 */
const REGISTRY = Symbol.for('acme.core.loadedCopies')

type Registry = Map<string, LoadedCore>

function registry(): Registry {
  const holder = globalThis as { [REGISTRY]?: Registry }
  holder[REGISTRY] ??= new Map()
  return holder[REGISTRY]
}

function thisFile(): string {
  // Both builds have __filename (tsup's shims give the ESM one); the sources know their URL.
  return typeof __filename === 'string' ? __filename : fileURLToPath(import.meta.url)
}

const self: LoadedCore = { version: CORE_VERSION, path: thisFile(), format: FORMAT }
// Keyed by file and format: a module evaluated again from the same file (a test runner resetting
// its module cache) replaces its entry rather than counting as a second copy.
registry().set(`${self.format}:${self.path}`, self)

/** The copies of core loaded so far in this process, this one first. */
export function loadedCores(): LoadedCore[] {
  const others = [...registry().values()].filter(
    (copy) => copy.path !== self.path || copy.format !== self.format,
  )
  return [self, ...others]
}

/**
 * Refuses to run next to another copy of core. Each copy has its own request context
 * (AsyncLocalStorage), so a plugin built on another copy than the app's reads an empty context,
 * and its hooks and decorators belong to a kernel that was never registered.
 */
export function assertSingleCore(): void {
  const copies = loadedCores()
  if (copies.length > 1) throw new AcmeDuplicateCoreError(copies)
}

const NUMBERS = ['zero', 'one', 'two', 'three', 'four', 'five']

class AcmeDuplicateCoreError extends AcmeConfigError {
  readonly copies: readonly LoadedCore[]

  constructor(copies: readonly LoadedCore[]) {
    super('@acme/core', [])
    this.copies = copies
    const count = NUMBERS[copies.length] ?? String(copies.length)
    const listed = copies.map((copy) => `${copy.version} (${copy.format}) from ${copy.path}`)
    const sameInstall = copies.some((copy) =>
      copies.some(
        (other) =>
          other !== copy &&
          other.format !== copy.format &&
          packageDir(other.path) === packageDir(copy.path),
      ),
    )
    this.message =
      `@acme/core: ${count} copies of @acme/core are loaded: ${joinList(listed)}. ` +
      'Each copy has its own request context and error classes, so plugins on different copies ' +
      'do not work together. Make every plugin resolve one core (it is a peer dependency of ' +
      'the plugins): `pnpm why @acme/core` (or `npm ls @acme/core`) shows who brings each one.' +
      (sameInstall
        ? ' The ESM and CommonJS builds of one install are two copies too: load @acme/core ' +
          'and every plugin the same way (all import, or all require).'
        : '')
    // The stack was captured with the constructor's message; capture it again with this one.
    Error.captureStackTrace(this, AcmeDuplicateCoreError)
  }
}

function joinList(items: string[]): string {
  if (items.length < 2) return items.join('')
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`
}

function packageDir(file: string): string {
  return file.replace(/[\\/](dist|src)[\\/][^\\/]+$/, '')
}
