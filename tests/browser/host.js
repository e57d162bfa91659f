// The test host's side of the bridge: the real AppBridge and PostMessageTransport of
// @modelcontextprotocol/ext-apps (bundled by run-host.mjs), fed with a real show_scorecard result
// from the Python server. Every tools/call the view makes is recorded in window.hostLog and
// answered from the scenario's precomputed answers (also real server results).

import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";

// What a strict host allows the view: inline script and style only, no network of any kind.
const CSP = [
  "default-src 'none'",
  "script-src 'unsafe-inline'",
  "style-src 'unsafe-inline'",
  "img-src data:",
  "font-src 'none'",
  "connect-src 'none'",
  "frame-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

const hostLog = { initialized: false, calls: [], sizes: [], results: 0 };
window.hostLog = hostLog;

function canonical(value) {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, canonical(value[key])]),
    );
  }
  return value;
}

function sameCall(a, b) {
  return (
    a.name === b.name &&
    JSON.stringify(canonical(a.arguments)) === JSON.stringify(canonical(b.arguments))
  );
}

async function start() {
  const scenario = await (await fetch("/scenario.json")).json();
  const iframe = document.getElementById("frame");
  const html = scenario.html.replace(
    /<head>/i,
    () => `<head><meta http-equiv="Content-Security-Policy" content="${CSP}">`,
  );
  const bridge = new AppBridge(
    null,
    { name: "scorecard-test-host", version: "1.0.0" },
    { serverTools: {}, logging: {} },
    {
      hostContext: {
        theme: scenario.theme || "light",
        displayMode: "inline",
        availableDisplayModes: ["inline"],
        platform: "web",
        locale: "en-US",
        toolInfo: { tool: scenario.tool },
      },
    },
  );
  bridge.oninitialized = async () => {
    hostLog.initialized = true;
    await bridge.sendToolInput({ arguments: scenario.arguments });
    await bridge.sendToolResult(scenario.result);
    hostLog.results += 1;
  };
  bridge.onsizechange = ({ height }) => {
    if (height) {
      iframe.style.height = `${Math.ceil(height)}px`;
      hostLog.sizes.push(height);
    }
  };
  bridge.oncalltool = async (params) => {
    hostLog.calls.push(JSON.parse(JSON.stringify(params)));
    const answer = scenario.answers.find((item) => sameCall(item.request, params));
    if (answer) return answer.result;
    return { isError: true, content: [{ type: "text", text: "test host: unexpected tools/call" }] };
  };
  window.sendToolResult = async (result) => {
    await bridge.sendToolResult(result);
    hostLog.results += 1;
  };
  // Listen before the view loads, so its ui/initialize request is not missed.
  await bridge.connect(new PostMessageTransport(iframe.contentWindow, iframe.contentWindow));
  iframe.srcdoc = html;
}

start().catch((error) => {
  hostLog.error = String(error && error.stack ? error.stack : error);
});
