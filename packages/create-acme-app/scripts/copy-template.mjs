// Builds template/ from examples/saas-starter: the files a new project starts from, with the
// workspace's `workspace:*` ranges turned into the published versions and the starter's own
// test tooling left out. Run by `build`, so the template can never drift from the starter.
// project/ adds what only a created project has: its first-run `setup` script.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..', '..')
const starter = join(root, 'examples', 'saas-starter')
const template = join(here, '..', 'template')
const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'))

rmSync(template, { recursive: true, force: true })
mkdirSync(template, { recursive: true })
for (const entry of ['.env.example', 'README.md', 'prisma', 'src']) {
  cpSync(join(starter, entry), join(template, entry), {
    recursive: true,
    filter: (source) => !source.includes(`${join('src', 'generated')}`),
  })
}

cpSync(join(here, '..', 'project'), template, { recursive: true })

const versionOf = (name) =>
  readJson(join(root, 'packages', name.replace('@acme/', ''), 'package.json')).version
const TEST_ONLY = [
  '@acme/test-support',
  '@seriousme/openapi-schema-validator',
  'fast-check',
  'vitest',
]
const pkg = readJson(join(starter, 'package.json'))
const ranges = (deps) =>
  Object.fromEntries(
    Object.entries(deps)
      .filter(([name]) => !TEST_ONLY.includes(name))
      .map(([name, range]) => [
        name,
        range.startsWith('workspace:') ? `^${versionOf(name)}` : range,
      ]),
  )
const { test: _test, ...starterScripts } = pkg.scripts
const scripts = {
  ...starterScripts,
  // Applies the migrations and creates the first operator account (project/src/setup.ts).
  setup: 'acme prisma generate && tsx src/setup.ts',
}
writeFileSync(
  join(template, 'package.json'),
  `${JSON.stringify(
    {
      name: 'acme-app',
      version: '0.1.0',
      private: true,
      type: 'module',
      engines: pkg.engines,
      scripts,
      dependencies: ranges(pkg.dependencies),
      devDependencies: ranges(pkg.devDependencies),
    },
    null,
    2,
  )}\n`,
)

const base = readJson(join(root, 'tsconfig.base.json'))
writeFileSync(
  join(template, 'tsconfig.json'),
  `${JSON.stringify(
    {
      compilerOptions: { ...base.compilerOptions, noEmit: true, declaration: false },
      include: ['src'],
    },
    null,
    2,
  )}\n`,
)
// npm leaves .gitignore files out of tarballs: shipped under another name, renamed on creation.
writeFileSync(
  join(template, '_gitignore'),
  'node_modules/\n.env\n.data/\nsrc/generated/\n*.tsbuildinfo\n',
)
if (!existsSync(join(template, 'src', 'server.ts')))
  throw new Error('template: the starter has no src/server.ts')
