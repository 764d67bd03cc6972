#!/usr/bin/env node
// A minimal Server::Starter worker using only node:http. It serves on every socket that
// start_server lists in SERVER_STARTER_PORT and drains gracefully on SIGTERM.
import fs from "node:fs"
import http from "node:http"
import net from "node:net"

const generation = process.env.SERVER_STARTER_GENERATION ?? "?"
const spec = process.env.SERVER_STARTER_PORT
if (spec === undefined) {
  console.error("no environment variable SERVER_STARTER_PORT. Did you start the process using start_server?")
  process.exit(1)
}

let draining = false
const handler = (_req, res) => {
  // While draining, tell keep-alive clients to reconnect (to the next generation).
  if (draining) res.setHeader("connection", "close")
  res.setHeader("content-type", "text/plain")
  res.end(`hello from generation ${generation}, pid ${process.pid}\n`)
}

// Entries are KEY=FD. Pass the backlog: listen() without one would reset it to 511.
const fds = spec === "" ? [] : spec.split(";").map((entry) => Number(entry.slice(entry.lastIndexOf("=") + 1)))
const servers = fds.map((fd) => {
  const server = http.createServer(handler)
  server.keepAliveTimeout = 2000
  server.listen({ fd }, 4096)
  return server
})
console.error(`[worker ${process.pid} gen ${generation}] serving SERVER_STARTER_PORT=${spec}`)

// Under `start_server --ready=notify-fd`, say so once listening: the restart need not wait
// for --interval, and the old generation is retired as soon as this one can serve.
const notifyFd = process.env.STARTER_NOTIFY_FD
if (notifyFd !== undefined) fs.writeSync(Number(notifyFd), "READY=1\n")

process.on("SIGTERM", () => {
  draining = true
  // net.Server#close stops accepting without http.Server#close's closeIdleConnections(),
  // which would reset connections that were accepted but whose request is not parsed yet.
  let open = servers.length
  const done = () => --open <= 0 && process.exit(0)
  for (const server of servers) net.Server.prototype.close.call(server, done)
  if (open === 0) process.exit(0)
  setTimeout(() => process.exit(0), 10_000).unref()
})
