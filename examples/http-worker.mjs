#!/usr/bin/env node
// A Server::Starter worker on node:http. With @starter/worker it serves on every TCP and
// unix socket start_server passed (keeping its backlog), says when it is ready (under
// `start_server --ready=notify-fd|ipc|sd-notify`; a no-op otherwise) and, on SIGTERM,
// drains: requests in flight finish, new ones go to the next generation.
import http from "node:http"
import { gracefulShutdown, listenAll, ready } from "@starter/worker"

const generation = process.env.SERVER_STARTER_GENERATION ?? "?"

const servers = await listenAll(() =>
  http.createServer((_req, res) => {
    res.setHeader("content-type", "text/plain")
    res.end(`hello from generation ${generation}, pid ${process.pid}\n`)
  })
)
gracefulShutdown(servers)
await ready()
console.error(
  `[worker ${process.pid} gen ${generation}] serving SERVER_STARTER_PORT=${process.env.SERVER_STARTER_PORT}`
)
