/** `resource:action`, lower case: what routes declare and roles grant. */
const PERMISSION_NAME = /^[a-z][a-z0-9-]*:[a-z][a-z0-9-]*$/

export interface PermissionInfo {
  name: string
  description: string
  /** The package (or `app`) that declared it. */
  owner: string
}

/**
 * `app.permissions`: every permission the app's routes and services use, declared by the package
 * that uses it. Plugins declare theirs whether or not an authorization plugin is installed; one
 * that is (e.g. @acme/rbac) refuses roles and route guards naming anything not declared here.
 */
export class PermissionCatalog {
  readonly #entries = new Map<string, PermissionInfo>()

  declare(owner: string, permissions: ReadonlyArray<{ name: string; description: string }>): void {
    for (const { name, description } of permissions) {
      if (!PERMISSION_NAME.test(name)) {
        throw new TypeError(`${owner}: permission "${name}" must look like resource:action`)
      }
      const existing = this.#entries.get(name)
      if (existing && existing.owner !== owner) {
        throw new TypeError(
          `${owner}: permission "${name}" is already declared by ${existing.owner}`,
        )
      }
      this.#entries.set(name, { name, description, owner })
    }
  }

  has(name: string): boolean {
    return this.#entries.has(name)
  }

  /** Sorted by name. */
  list(): PermissionInfo[] {
    return [...this.#entries.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    )
  }
}
