#!/bin/sh
# The quick-start demo: start_server supervising examples/http-worker.mjs on 127.0.0.1:8080.
cd "$(dirname "$0")/.." || exit 1
mkdir -p tmp
cat >&2 <<'TXT'
start_server is supervising examples/http-worker.mjs on http://127.0.0.1:8080/
  curl http://127.0.0.1:8080/                 # served by the worker
  kill -HUP $(cat tmp/demo.pid)               # zero-downtime restart: a new generation
  cat tmp/demo.status                         # generation:pid of the live workers
  Ctrl-C (or kill -TERM $(cat tmp/demo.pid))  # stop
TXT
exec ./node_modules/.bin/start_server --port=127.0.0.1:8080 --pid-file=tmp/demo.pid --status-file=tmp/demo.status \
  -- node examples/http-worker.mjs
