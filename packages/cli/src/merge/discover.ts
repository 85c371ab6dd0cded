import { existsSync, readFileSync, statSync } from 'node:fs'
import { dirname, isAbsolute, join, relative, resolve } from 'node:path'
import { MergeError } from './errors.js'
import { displayPath, isSameOrInside, toPosix } from './paths.js'

/** A fragment file found on disk, before it is read and scanned. */
export interface FragmentFile {
  /** The package name, or for a loose fragment file its path relative to cwd. */
  source: string
  version: string | null
  absolutePath: string
  /** Path relative to cwd, for error messages the user can open. */
  displayPath: string
  /** Path written into the output's markers: inside the package, so it is machine-independent. */
  markerPath: string
  sqlPath: string | null
}

interface AcmePackageJson {
  name?: unknown
  version?: unknown
  dependencies?: Record<string, string>
  devDependencies?: Record<string, string>
  acme?: { prismaFragment?: unknown; prismaSql?: unknown }
}

function readPackageJson(path: string, cwd: string): AcmePackageJson {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as AcmePackageJson
  } catch (error) {
    throw new MergeError(
      'ACME_CLI_PACKAGE_JSON_INVALID',
      `${displayPath(cwd, path)}: cannot read package.json (${(error as Error).message})`,
    )
  }
}

/** Fragments of the app's dependencies (and devDependencies) whose package.json declares one. */
export function discoverFragments(cwd: string): FragmentFile[] {
  const appPackageJson = join(cwd, 'package.json')
  if (!existsSync(appPackageJson)) {
    throw new MergeError(
      'ACME_CLI_PACKAGE_JSON_INVALID',
      `no package.json in ${cwd}: fragment discovery reads the app's dependencies from it (pass discover: false to list fragments explicitly)`,
    )
  }
  const app = readPackageJson(appPackageJson, cwd)
  const names = [
    ...new Set([...Object.keys(app.dependencies ?? {}), ...Object.keys(app.devDependencies ?? {})]),
  ].sort()
  const fragments: FragmentFile[] = []
  for (const name of names) {
    const packageDir = findInstalledPackage(cwd, name)
    // A declared but uninstalled dependency is the package manager's problem, not the merge's.
    if (!packageDir) continue
    const fragment = fragmentOfPackage(packageDir, cwd)
    if (fragment) fragments.push(fragment)
  }
  return fragments
}

/** Node's lookup order (node_modules of cwd, then of each parent) without `exports` rules. */
function findInstalledPackage(cwd: string, name: string): string | null {
  let dir = resolve(cwd)
  for (;;) {
    const candidate = join(dir, 'node_modules', name)
    if (existsSync(join(candidate, 'package.json'))) return candidate
    const parent = dirname(dir)
    if (parent === dir) return null
    dir = parent
  }
}

/** The fragment a package declares in `acme.prismaFragment`, or null when it declares none. */
export function fragmentOfPackage(packageDir: string, cwd: string): FragmentFile | null {
  const packageJsonPath = join(packageDir, 'package.json')
  const manifest = readPackageJson(packageJsonPath, cwd)
  const declared = manifest.acme?.prismaFragment
  if (declared === undefined) return null
  const name = typeof manifest.name === 'string' ? manifest.name : displayPath(cwd, packageDir)
  const fragmentPath = resolveInsidePackage(packageDir, declared, 'prismaFragment', name, cwd)
  const sqlDeclared = manifest.acme?.prismaSql
  const sqlPath =
    sqlDeclared === undefined
      ? null
      : resolveInsidePackage(packageDir, sqlDeclared, 'prismaSql', name, cwd)
  return {
    source: name,
    version: typeof manifest.version === 'string' ? manifest.version : null,
    absolutePath: fragmentPath,
    displayPath: displayPath(cwd, fragmentPath),
    markerPath: toPosix(relative(packageDir, fragmentPath)),
    sqlPath,
  }
}

function resolveInsidePackage(
  packageDir: string,
  declared: unknown,
  field: string,
  packageName: string,
  cwd: string,
): string {
  const where = `${displayPath(cwd, join(packageDir, 'package.json'))} (${packageName})`
  if (typeof declared !== 'string' || declared === '' || isAbsolute(declared)) {
    throw new MergeError(
      'ACME_CLI_FRAGMENT_INVALID',
      `${where}: \`acme.${field}\` must be a path relative to the package`,
    )
  }
  const path = resolve(packageDir, declared)
  // A fragment outside its package would not be in the published tarball.
  if (!isSameOrInside(path, packageDir)) {
    throw new MergeError(
      'ACME_CLI_FRAGMENT_INVALID',
      `${where}: \`acme.${field}\` points outside the package: ${declared}`,
    )
  }
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new MergeError(
      'ACME_CLI_FRAGMENT_NOT_FOUND',
      `${where}: \`acme.${field}\` names ${declared}, which is not in the package`,
    )
  }
  return path
}

/**
 * An explicit fragment: a package folder (read like a discovered one) or a loose `.prisma`
 * file, whose raw SQL, if any, is the `.sql` file of the same name beside it.
 */
export function explicitFragment(path: string, cwd: string): FragmentFile {
  const absolutePath = resolve(cwd, path)
  if (!existsSync(absolutePath)) {
    throw new MergeError('ACME_CLI_FRAGMENT_NOT_FOUND', `fragment not found: ${path}`)
  }
  if (statSync(absolutePath).isDirectory()) {
    const fragment = existsSync(join(absolutePath, 'package.json'))
      ? fragmentOfPackage(absolutePath, cwd)
      : null
    if (!fragment) {
      throw new MergeError(
        'ACME_CLI_FRAGMENT_NOT_FOUND',
        `${path} is a folder without a package.json declaring \`acme.prismaFragment\``,
      )
    }
    return fragment
  }
  const sqlPath = absolutePath.replace(/\.prisma$/, '.sql')
  const shown = displayPath(cwd, absolutePath)
  return {
    source: shown,
    version: null,
    absolutePath,
    displayPath: shown,
    markerPath: shown,
    sqlPath: sqlPath !== absolutePath && isFile(sqlPath) ? sqlPath : null,
  }
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile()
}
