import { buildServer } from './spawned-server.js'

/**
 * Global setup of the contract project: compiles src/ to dist/ once per run, as `npm run build`
 * does. Every contract test runs that one build (startContractServer), never one of its own.
 */
export default function setup(): void {
  buildServer()
}
