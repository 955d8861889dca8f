#!/usr/bin/env node
import { main } from './cli/main.js';

process.exitCode = await main(process.argv.slice(2));
// Idle keep-alive sockets to Docker must not hold the process after the command is done;
// the delay lets stdout drain into a pipe first.
setTimeout(() => process.exit(), 500).unref();
