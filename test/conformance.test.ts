import { runConformanceSuite } from '../src/testing/index.js'
import { backends } from './backends.js'

for (const target of backends()) runConformanceSuite(target)
