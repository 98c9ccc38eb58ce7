#!/usr/bin/env node
// The `conclave` command. The project runs its TypeScript sources directly through tsx,
// so there is no build step between a checkout and a running server.
import { register } from 'tsx/esm/api'

register()
await import('./main.ts')
