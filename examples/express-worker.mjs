#!/usr/bin/env node
// An Express 5 app (middleware, routes, JSON bodies, error handler) under start_server:
// @starter/worker serves it on the inherited socket, reports readiness and drains on SIGTERM.
import http from "node:http"
import { gracefulShutdown, listen, ready } from "@starter/worker"
import express from "express"

const generation = process.env.SERVER_STARTER_GENERATION ?? "?"

const app = express()
app.use((_req, res, next) => {
  res.set("x-generation", generation)
  next()
})
app.use(express.json())
app.get("/", (_req, res) => res.json({ hello: "world", generation: Number(generation), pid: process.pid }))
app.get("/greet", (req, res) => res.json({ greeting: `hello, ${req.query.name ?? "stranger"}` }))
app.post("/echo", (req, res) => res.json({ echo: req.body ?? {} }))
app.use((req, res) => res.status(404).json({ error: `no route for ${req.path}` }))
app.use((error, _req, res, _next) => res.status(error.status ?? 500).json({ error: error.message }))

// Not app.listen(): the server must be tracked before it accepts, and listen on the inherited socket.
const server = http.createServer(app)
gracefulShutdown(server)
// The one TCP or unix socket start_server passed; name it (e.g. "127.0.0.1:8080") if there are several.
await listen(server)
await ready()
