#!/usr/bin/env node
// The start_server binary. It loads the bundled program into this very process (no child
// process): the pid of this process is the supervisor's. It exists before the build runs,
// so package managers can link it on a fresh install.
import "../bundle/bin.js"
