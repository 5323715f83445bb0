#!/usr/bin/env node
// The CLI entry: runs the compiled TypeScript from dist/ (built by `npm run build`).
import '../dist/cli/main.js';
