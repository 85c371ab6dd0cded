export { type CreatedProject, type CreateOptions, createProject } from './create.js'
export { checkDatabaseUrl } from './database-check.js'
export { CreateAppError } from './errors.js'
export { isTier, TIERS, type Tier } from './tiers.js'
