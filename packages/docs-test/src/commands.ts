/**
 * The commands of a shell block: one per line, `\` continuations joined, blank lines and
 * comment-only lines left out (a trailing `# comment` stays: the shell ignores it).
 */
export function shellCommands(block: string): string[] {
  const commands: string[] = []
  let pending = ''
  for (const raw of block.split('\n')) {
    const text = pending ? raw.trim() : raw.trimEnd()
    if (text.endsWith('\\')) {
      pending += `${text.slice(0, -1).trimEnd()} `
      continue
    }
    const command = `${pending}${text}`.trim()
    pending = ''
    if (command === '' || command.startsWith('#')) continue
    commands.push(command)
  }
  if (pending.trim() !== '') commands.push(pending.trim())
  return commands
}

const NPM_INSTALL = /^npm\s+(install|i|add)(\s|$)/

/**
 * An `npm install` line with each workspace package it names replaced by that package's packed
 * tarball, so npm installs what would be published, never a registry package of the same name.
 * Other commands, and third-party names, are left as they are. A name in a workspace scope
 * that was not packed is an error: the page installs something that is not published.
 */
export function withTarballs(
  command: string,
  tarballs: ReadonlyMap<string, string>,
  scope = '@acme/',
): string {
  if (!NPM_INSTALL.test(command)) return command
  return command
    .split(/(\s+)/)
    .map((word) => {
      const at = word.indexOf('@', 1)
      const name = at > 0 ? word.slice(0, at) : word
      const tarball = tarballs.get(name)
      if (tarball) return shellQuote(tarball)
      if (name.startsWith(scope)) throw new Error(`${command}: ${name} is not a published package`)
      return word
    })
    .join('')
}

function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`
}
