await import("@modelcontextprotocol/sdk/client/stdio.js");
globalThis.gc?.();
process.stdout.write(String(process.memoryUsage().rss));
