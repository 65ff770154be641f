#!/usr/bin/env node
// Validates Kubernetes objects against the JSON schemas compiled into the npm packages kubernetes-models
// (the core API) and @kubernetes-models/prometheus-operator (ServiceMonitor), and reports unknown fields,
// which those validators accept (the OpenAPI schemas do not say additionalProperties: false). A field is
// unknown when the validator never read it: each compiled validator reads every property its schema
// defines (and iterates maps), so an object is wrapped in a Proxy that records reads, and every own key left
// unread after a passing validation is a field Kubernetes would drop (or, with kubectl's strict field
// validation, refuse).
//
//   node k8s_validate.js INPUT.json   INPUT: [{"id": "...", "object": {...}, "kind": optional override}]
// Prints one JSON array: [{"id", "errors": [...], "unknown": ["/spec/..."]}]. Exit 0 even when objects are
// invalid (the caller asserts); exit 2 on bad input.
"use strict";
const fs = require("fs");
const path = require("path");

const schemaDirs = {
  core: path.join(__dirname, "node_modules", "kubernetes-models", "_schemas"),
  promop: path.join(__dirname, "node_modules", "@kubernetes-models", "prometheus-operator", "_schemas"),
};
// apiVersion/kind -> compiled schema. "Container" (no apiVersion) checks one container spec, as the
// Prometheus charts take them in their values.
const schemas = {
  "v1/ConfigMap": ["core", "IoK8sApiCoreV1ConfigMap"],
  "v1/Service": ["core", "IoK8sApiCoreV1Service"],
  "v1/ServiceAccount": ["core", "IoK8sApiCoreV1ServiceAccount"],
  "v1/PersistentVolumeClaim": ["core", "IoK8sApiCoreV1PersistentVolumeClaim"],
  "apps/v1/Deployment": ["core", "IoK8sApiAppsV1Deployment"],
  "apps/v1/StatefulSet": ["core", "IoK8sApiAppsV1StatefulSet"],
  "policy/v1/PodDisruptionBudget": ["core", "IoK8sApiPolicyV1PodDisruptionBudget"],
  "networking.k8s.io/v1/NetworkPolicy": ["core", "IoK8sApiNetworkingV1NetworkPolicy"],
  "monitoring.coreos.com/v1/ServiceMonitor": ["promop", "MonitoringCoreosComV1ServiceMonitor"],
  "Container": ["core", "IoK8sApiCoreV1Container"],
  "Volume": ["core", "IoK8sApiCoreV1Volume"],
};

function loadValidator(key) {
  const entry = schemas[key];
  if (!entry) return null;
  return require(path.join(schemaDirs[entry[0]], entry[1] + ".js")).validate;
}

// Wraps obj so that every property read is recorded per JSON pointer; returns the proxy and the record.
function tracked(obj) {
  const seen = new Map();  // pointer -> {obj, read: Set}
  const proxies = new WeakMap();
  function wrap(o, pointer) {
    if (o === null || typeof o !== "object") return o;
    if (proxies.has(o)) return proxies.get(o);
    const read = new Set();
    seen.set(pointer, {obj: o, read});
    const p = new Proxy(o, {
      get(target, key, receiver) {
        const v = Reflect.get(target, key, receiver);
        if (typeof key !== "string") return v;
        read.add(key);
        const child = pointer + "/" + key.replace(/~/g, "~0").replace(/\//g, "~1");
        return v !== null && typeof v === "object" ? wrap(v, child) : v;
      },
    });
    proxies.set(o, p);
    return p;
  }
  return {proxy: wrap(obj, ""), seen};
}

function check(item) {
  const o = item.object || {};
  const key = item.kind || `${o.apiVersion}/${o.kind}`;
  const validate = loadValidator(key);
  if (!validate) return {id: item.id, errors: [`no schema for ${key}`], unknown: []};
  const {proxy, seen} = tracked(o);
  const ok = validate(proxy);
  const errors = ok ? [] : (validate.errors || []).map((e) => `${e.instancePath || "/"} ${e.message}`);
  const unknown = [];
  if (ok) {
    for (const [pointer, {obj, read}] of seen) {
      for (const k of Object.keys(obj)) {
        if (!read.has(k)) unknown.push(`${pointer}/${k}`);
      }
    }
  }
  return {id: item.id, errors, unknown};
}

function main() {
  if (process.argv.length !== 3) {
    process.stderr.write("usage: node k8s_validate.js INPUT.json\n");
    process.exit(2);
  }
  let items;
  try {
    items = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  } catch (e) {
    process.stderr.write(`k8s_validate: ${e.message}\n`);
    process.exit(2);
  }
  process.stdout.write(JSON.stringify(items.map(check)) + "\n");
}

main();
