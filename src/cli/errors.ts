// The CLI's own error, in a module of its own so that the entry point can recognise it without loading the rest.

/** A CLI usage or connection problem: printed as is, with how to fix it. */
export class CliError extends Error {}
