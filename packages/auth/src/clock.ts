/** Injected everywhere time matters, so expiry and lifetimes are tested without sleeping. */
export type Clock = () => Date

export const systemClock: Clock = () => new Date()
