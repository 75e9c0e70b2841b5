#!/usr/bin/env bash
# Checks deploy/ and dashboards/ without Docker or Kubernetes: linters, schema validators, promtool, and
# (optionally) a real Prometheus scraping a running Chorus under a little load.
#
# Usage:
#   scripts/check-deploy.sh                      static checks only
#   scripts/check-deploy.sh --scrape FILE        also require every metric name used to be in FILE
#                                                (a saved GET /metrics answer)
#   scripts/check-deploy.sh --live PORT          static checks, then the live checks against the Chorus
#                                                listening on 127.0.0.1:PORT
#   scripts/check-deploy.sh --chorus BINARY      start BINARY on a free loopback port, run the live checks
#                                                against it, then stop it with SIGTERM (it must exit 0)
#
# Installs what it lacks: Debian packages (prometheus, yamllint, python3-venv, curl) with apt-get, and
# the PyPI tools pinned in scripts/check-deploy.requirements.txt into .venv-deploy/ (git-ignored by a
# .gitignore the script writes inside it). Prints PASS/FAIL per check and exits non-zero on any failure.
# Everything it starts listens on 127.0.0.1 only, is bounded in time and is stopped on exit.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2
VENV="$ROOT/.venv-deploy"
REQUIREMENTS="$ROOT/scripts/check-deploy.requirements.txt"

LIVE_PORT=""
CHORUS_BIN=""
SCRAPE_FILE=""
while [ $# -gt 0 ]; do
    case "$1" in
    --live)
        LIVE_PORT="${2:?--live needs a port}"
        shift 2
        ;;
    --chorus)
        CHORUS_BIN="${2:?--chorus needs the path of a chorus binary}"
        shift 2
        ;;
    --scrape)
        SCRAPE_FILE="${2:?--scrape needs a file}"
        shift 2
        ;;
    -h | --help)
        sed -n '2,17p' "$0"
        exit 0
        ;;
    *)
        echo "unknown argument: $1 (see --help)" >&2
        exit 2
        ;;
    esac
done
if [ -n "$LIVE_PORT" ] && [ -n "$CHORUS_BIN" ]; then
    echo "--live and --chorus exclude each other" >&2
    exit 2
fi

# ------------------------------------------------------------------------------------------ plumbing
TMP="$(mktemp -d "${TMPDIR:-/tmp}/check-deploy.XXXXXX")"
BG_PIDS=()
cleanup() {
    local pid
    for pid in "${BG_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${BG_PIDS[@]}"; do
        # Bounded wait, then force.
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PASSED=0
FAILED=0
FAILED_NAMES=()
pass() {
    PASSED=$((PASSED + 1))
    echo "PASS  $1"
}
fail() {
    FAILED=$((FAILED + 1))
    FAILED_NAMES+=("$1")
    echo "FAIL  $1"
}
# check NAME COMMAND...: runs COMMAND, PASS on exit 0, else FAIL with its output indented.
check() {
    local name="$1"
    shift
    local log="$TMP/check.log"
    if "$@" >"$log" 2>&1; then
        pass "$name"
    else
        fail "$name"
        sed 's/^/      /' "$log" | head -n 80
    fi
}
section() { echo "== $1"; }

# ------------------------------------------------------------------------------------------ install
APT_UPDATED=0
apt_install() {
    if [ "$(id -u)" != 0 ]; then
        echo "missing Debian packages ($*) and not root: install them first" >&2
        return 1
    fi
    if [ "$APT_UPDATED" = 0 ]; then
        apt-get update -qq || return 1
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null || return 1
}

install_tools() {
    local need=()
    command -v promtool >/dev/null || need+=(prometheus)
    command -v prometheus >/dev/null || need+=(prometheus)
    command -v yamllint >/dev/null || need+=(yamllint)
    command -v curl >/dev/null || need+=(curl ca-certificates)
    [ -x /usr/bin/python3 ] || need+=(python3)
    /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
    if [ ${#need[@]} -gt 0 ]; then
        echo "installing Debian packages: $(printf '%s\n' "${need[@]}" | sort -u | tr '\n' ' ')"
        # shellcheck disable=SC2046
        apt_install $(printf '%s\n' "${need[@]}" | sort -u) || return 1
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        /usr/bin/python3 -m venv "$VENV" || return 1
    fi
    # Keep the virtual environment out of git without touching the repository's .gitignore.
    [ -f "$VENV/.gitignore" ] || echo '*' >"$VENV/.gitignore"
    if ! cmp -s "$REQUIREMENTS" "$VENV/.requirements.installed"; then
        echo "installing PyPI tools into .venv-deploy/"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS" || return 1
        cp "$REQUIREMENTS" "$VENV/.requirements.installed"
    fi
}

section "tools"
if install_tools; then
    pass "tools installed"
else
    fail "tools installed"
    echo "check-deploy: $PASSED passed, $FAILED failed"
    exit 1
fi
PY="$VENV/bin/python"
export PATH="$VENV/bin:$PATH"
echo "      $(promtool --version 2>&1 | head -n 1)"
echo "      $(yamllint --version 2>&1), hadolint $(hadolint --version 2>&1 | awk '{print $NF}'), check-jsonschema $(check-jsonschema --version 2>&1 | awk '{print $NF}'), kubernetes-validate $(kubernetes-validate --version 2>&1 | awk '{print $NF}')"

# Every metric name the dashboard and the alerts may use: the contract of GET /metrics (issue 3,
# docs/metrics.md). Histograms are listed by family name (their _bucket/_sum/_count follow).
cat >"$TMP/metric-contract.txt" <<'EOF'
chorus_build_info
chorus_connections
chorus_connections_accepted_total
chorus_connections_closed_total
chorus_handshakes_rejected_total
chorus_channels
chorus_subscriptions
chorus_messages_published_total
chorus_publishes_overloaded_total
chorus_accept_failures_total
chorus_upgrade_probes_total
chorus_memory_limit_bytes
chorus_memory_used_bytes
chorus_admission_open
chorus_message_size_bytes histogram
chorus_frames_encoded_total
chorus_frame_bytes_encoded_total
chorus_deliveries_total
chorus_delivered_bytes_total
chorus_slow_consumer_drops_total
chorus_slow_consumer_disconnects_total
chorus_outbound_pending_bytes
chorus_buffer_pool_acquired_total
chorus_buffer_pool_hits_total
chorus_buffer_pool_misses_total
chorus_buffer_pool_free_buffers
chorus_buffer_pool_bytes
chorus_metadata_blocks
chorus_metadata_blocks_allocated_total
chorus_metadata_blocks_reused_total
chorus_metadata_block_bytes
chorus_connection_memory_bytes histogram
chorus_memory_per_connection_bytes
chorus_publish_fanout_seconds histogram
chorus_cluster_connected
chorus_cluster_messages_total
chorus_cluster_reconnects_total
chorus_cluster_publish_failures_total
chorus_compressed_frames_total
chorus_compression_input_bytes_total
chorus_compression_output_bytes_total
chorus_compressed_deliveries_total
chorus_compression_connections
chorus_streams
chorus_streams_evicted_total
chorus_streams_expired_total
chorus_history_channels
chorus_history_messages
chorus_history_bytes
chorus_history_chunk_bytes
chorus_recoveries_total
chorus_recovery_replayed_messages_total
chorus_resyncs_total
chorus_cluster_stale_messages_total
chorus_cluster_gaps_filled_total
chorus_cluster_gap_filled_messages_total
process_resident_memory_bytes
process_virtual_memory_bytes
process_cpu_seconds_total
process_open_fds
process_max_fds
process_start_time_seconds
EOF

# Writes every PromQL expression of the dashboard and the alerts to $TMP/exprs.json:
# [{"source": "...", "kind": "dashboard"|"variable"|"alert", "expr": "..."}], with Grafana's variables
# replaced (RATE_INTERVAL for $__rate_interval, .* for $instance).
extract_exprs() {
    RATE_INTERVAL="$1" "$PY" - "$TMP/exprs.json" <<'PYEOF'
import json, os, re, sys
import yaml

rate_interval = os.environ["RATE_INTERVAL"]
def substitute(expr):
    for var, value in (("$__rate_interval", rate_interval), ("${__rate_interval}", rate_interval),
                       ("$__interval", "1m"), ("${__interval}", "1m"), ("$__range", "1h"),
                       ("${instance}", ".*"), ("$instance", ".*")):
        expr = expr.replace(var, value)
    if "$" in expr:
        raise SystemExit(f"unhandled Grafana variable in: {expr}")
    return expr

out = []
dash = json.load(open("dashboards/chorus.json"))
def walk(panels):
    for p in panels:
        yield p
        yield from walk(p.get("panels", []))
for p in walk(dash["panels"]):
    for t in p.get("targets", []):
        if t.get("expr"):
            out.append({"source": f"panel {p['id']} \"{p['title']}\" {t.get('refId')}", "kind": "dashboard",
                        "expr": substitute(t["expr"])})
for v in dash.get("templating", {}).get("list", []):
    if v.get("type") != "query":
        continue
    q = v.get("query")
    q = q.get("query") if isinstance(q, dict) else q
    m = re.fullmatch(r"\s*label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\)\s*", q or "")
    if not m:
        raise SystemExit(f"variable {v['name']}: only label_values(selector, label) queries are checked, got {q!r}")
    out.append({"source": f"variable {v['name']}", "kind": "variable", "expr": substitute(m.group(1))})
for g in yaml.safe_load(open("dashboards/alerts.yml"))["groups"]:
    for r in g["rules"]:
        out.append({"source": f"alert {r.get('alert') or r.get('record')}", "kind": "alert", "expr": r["expr"]})
json.dump(out, open(sys.argv[1], "w"), indent=1)
print(f"{len(out)} expressions")
PYEOF
}

# ------------------------------------------------------------------------------------------ static
section "YAML"
mapfile -t YAML_FILES < <(find deploy dashboards -type f \( -name '*.yml' -o -name '*.yaml' \) | sort)
check "yamllint -s (${#YAML_FILES[@]} files)" yamllint -s -c deploy/.yamllint.yml "${YAML_FILES[@]}"

section "Kubernetes"
mapfile -t K8S_FILES < <(find deploy/kubernetes -type f \( -name '*.yml' -o -name '*.yaml' \) ! -name 'servicemonitor.yaml' | sort)
check "kubernetes-validate --strict (${#K8S_FILES[@]} manifests)" kubernetes-validate --strict --quiet "${K8S_FILES[@]}"

manifest_policy() {
    "$PY" - <<'PYEOF'
import re, sys
import yaml

errors = []
def err(msg):
    errors.append(msg)
def load(path):
    return yaml.safe_load(open(path))
def duration_seconds(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", str(text).strip())
    if not m:
        raise ValueError(f"bad duration {text!r}")
    n, unit = float(m.group(1)), m.group(2) or "s"
    return n / 1000 if unit == "ms" else n * 60 if unit == "m" else n

# --- ServiceMonitor (no bundled schema for the CRD): its fields, and that it matches the Service.
sm = load("deploy/kubernetes/servicemonitor.yaml")
svc = load("deploy/kubernetes/service.yaml")
if sm.get("apiVersion") != "monitoring.coreos.com/v1": err("ServiceMonitor: apiVersion must be monitoring.coreos.com/v1")
if sm.get("kind") != "ServiceMonitor": err("ServiceMonitor: kind must be ServiceMonitor")
if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", str(sm.get("metadata", {}).get("name", ""))):
    err("ServiceMonitor: metadata.name missing or not a DNS label")
spec = sm.get("spec") or {}
known_spec = {"selector", "endpoints", "namespaceSelector", "jobLabel", "targetLabels", "podTargetLabels",
              "sampleLimit", "targetLimit", "labelLimit", "labelNameLengthLimit", "labelValueLengthLimit",
              "attachMetadata", "scrapeProtocols", "fallbackScrapeProtocol", "keepDroppedTargets",
              "scrapeClassicHistograms", "scrapeClass", "bodySizeLimit", "nativeHistogramBucketLimit",
              "nativeHistogramMinBucketFactor", "convertClassicHistogramsToNHCB", "selectorMechanism",
              "serviceDiscoveryRole"}
for k in spec:
    if k not in known_spec: err(f"ServiceMonitor: unknown spec field {k!r}")
match = (spec.get("selector") or {}).get("matchLabels") or {}
if not match: err("ServiceMonitor: spec.selector.matchLabels is empty")
svc_labels = svc["metadata"].get("labels") or {}
for k, v in match.items():
    if svc_labels.get(k) != v: err(f"ServiceMonitor: selector {k}={v} does not match the Service's labels")
svc_ports = {p.get("name") for p in svc["spec"]["ports"]}
known_ep = {"port", "targetPort", "path", "scheme", "params", "interval", "scrapeTimeout", "honorLabels",
            "honorTimestamps", "trackTimestampsStaleness", "metricRelabelings", "relabelings", "authorization",
            "basicAuth", "bearerTokenSecret", "oauth2", "tlsConfig", "proxyUrl", "followRedirects",
            "enableHttp2", "filterRunning", "noProxy", "proxyFromEnvironment", "proxyConnectHeader"}
endpoints = spec.get("endpoints") or []
if not endpoints: err("ServiceMonitor: spec.endpoints is empty")
for i, ep in enumerate(endpoints):
    for k in ep:
        if k not in known_ep: err(f"ServiceMonitor: endpoints[{i}]: unknown field {k!r}")
    if ep.get("port") not in svc_ports: err(f"ServiceMonitor: endpoints[{i}].port {ep.get('port')!r} is not a named port of the Service")
    if ep.get("path", "/metrics") != "/metrics": err(f"ServiceMonitor: endpoints[{i}].path must be /metrics")
    if ep.get("scheme", "http") not in ("http", "https"): err(f"ServiceMonitor: endpoints[{i}].scheme must be http or https")
    for key in ("interval", "scrapeTimeout"):
        if key in ep and not re.fullmatch(r"(\d+(ms|s|m|h))+", str(ep[key])):
            err(f"ServiceMonitor: endpoints[{i}].{key} {ep[key]!r} is not a Prometheus duration")
    if "interval" in ep and "scrapeTimeout" in ep and duration_seconds(ep["scrapeTimeout"]) > duration_seconds(ep["interval"]):
        err(f"ServiceMonitor: endpoints[{i}].scrapeTimeout exceeds interval")

# --- Deployment: what issue 5 asks of it.
dep = load("deploy/kubernetes/deployment.yaml")
cm = load("deploy/kubernetes/configmap.yaml")["data"]
pdb = load("deploy/kubernetes/pdb.yaml")
pod = dep["spec"]["template"]["spec"]
pod_labels = dep["spec"]["template"]["metadata"]["labels"]
for name, sel in (("Service", svc["spec"]["selector"]), ("PodDisruptionBudget", pdb["spec"]["selector"]["matchLabels"]),
                  ("Deployment selector", dep["spec"]["selector"]["matchLabels"])):
    for k, v in sel.items():
        if pod_labels.get(k) != v: err(f"{name} selects {k}={v}, which the pod template lacks")
c = next(c for c in pod["containers"] if c["name"] == "chorus")
ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
if str(ports.get("http")) != cm.get("CHORUS_PORT", "8080"): err("container port http differs from CHORUS_PORT")
for p in svc["spec"]["ports"]:
    if p.get("targetPort") not in ports and p.get("targetPort") not in ports.values():
        err(f"Service targetPort {p.get('targetPort')!r} is not a container port")
env = {e["name"]: e for e in c.get("env", [])}
host = env.get("CHORUS_HOST", {}).get("value") or cm.get("CHORUS_HOST")
if host != "0.0.0.0": err("CHORUS_HOST must be 0.0.0.0 in the pod")
if any(e.get("value") and "KEY" in n for n, e in env.items()): err("secrets must come from a Secret, not a literal value")
rp, lp = c.get("readinessProbe", {}), c.get("livenessProbe", {})
if rp.get("httpGet", {}).get("path") != "/readyz": err("readinessProbe must GET /readyz")
if lp.get("httpGet", {}).get("path") != "/healthz": err("livenessProbe must GET /healthz")
res = c.get("resources", {})
for kind in ("requests", "limits"):
    for r in ("cpu", "memory"):
        if r not in res.get(kind, {}): err(f"resources.{kind}.{r} missing")
pre = c.get("lifecycle", {}).get("preStop", {})
pre_sleep = 0.0
if "sleep" in pre:
    pre_sleep = float(pre["sleep"]["seconds"])
elif "exec" in pre:
    cmd = pre["exec"]["command"]
    if len(cmd) == 2 and cmd[0].endswith("sleep"): pre_sleep = duration_seconds(cmd[1])
if pre_sleep <= 0: err("preStop must sleep so the load balancer notices before the drain")
drain = duration_seconds(cm.get("CHORUS_DRAIN_TIMEOUT", "10s"))
grace = pod.get("terminationGracePeriodSeconds", 30)
if grace <= pre_sleep + drain:
    err(f"terminationGracePeriodSeconds {grace} must exceed preStop {pre_sleep:g}s + drain {drain:g}s")
psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
if not (psc.get("runAsNonRoot") or csc.get("runAsNonRoot")): err("runAsNonRoot must be true")
if csc.get("readOnlyRootFilesystem") is not True: err("readOnlyRootFilesystem must be true")
if csc.get("allowPrivilegeEscalation") is not False: err("allowPrivilegeEscalation must be false")
if "ALL" not in (csc.get("capabilities", {}).get("drop") or []): err("capabilities must drop ALL")
# The image's user (Dockerfile USER) must be the one the pod runs as.
docker_user = re.search(r"^USER\s+(\d+)", open("deploy/Dockerfile").read(), re.M)
if not docker_user or int(docker_user.group(1)) != psc.get("runAsUser", csc.get("runAsUser")):
    err("Dockerfile USER and the pod's runAsUser differ")
for key in cm:
    if not key.startswith("CHORUS_"): err(f"ConfigMap key {key} is not a CHORUS_* setting")

# --- compose, Prometheus and Grafana files agree with each other.
compose = load("deploy/compose.yaml")
prom = load("deploy/prometheus/prometheus.yml")
mounts = {}
for svc_name, s in compose["services"].items():
    for v in s.get("volumes", []):
        parts = v.split(":")
        if parts[0].startswith("."): mounts[(svc_name, parts[1])] = parts[0]
import os
for (svc_name, target), source in mounts.items():
    if not os.path.exists(os.path.join("deploy", source)): err(f"compose: {svc_name} mounts missing file {source}")
if mounts.get(("prometheus", "/etc/prometheus/prometheus.yml")) != "./prometheus/prometheus.yml":
    err("compose: prometheus must mount ./prometheus/prometheus.yml at /etc/prometheus/prometheus.yml")
for rf in prom.get("rule_files", []):
    if mounts.get(("prometheus", rf)) != "../dashboards/alerts.yml":
        err(f"compose: rule file {rf} is not mounted from ../dashboards/alerts.yml")
jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
if "chorus" not in jobs: err("prometheus.yml: the alerts expect a scrape job named chorus")
else:
    targets = [t for sc in jobs["chorus"].get("static_configs", []) for t in sc["targets"]]
    if "chorus:8080" not in targets: err("prometheus.yml: job chorus must scrape chorus:8080")
    if jobs["chorus"].get("metrics_path", "/metrics") != "/metrics": err("prometheus.yml: metrics_path must be /metrics")
env_c = compose["services"]["chorus"].get("environment", {})
if env_c.get("CHORUS_HOST") != "0.0.0.0": err("compose: chorus needs CHORUS_HOST=0.0.0.0")
# The port is published on every interface: a default publish key would be a key anyone can guess.
for svc_name, s in compose["services"].items():
    key = str(s.get("environment", {}).get("CHORUS_API_KEY", "${CHORUS_API_KEY:?}"))
    if not key.startswith("${CHORUS_API_KEY:?"):
        err(f"compose: {svc_name} must require CHORUS_API_KEY (${{CHORUS_API_KEY:?...}}), not default it")
provider = load("deploy/grafana/provisioning/dashboards/chorus.yml")["providers"][0]["options"]["path"]
if not any(t.startswith(provider.rstrip("/") + "/") and src.endswith("chorus.json")
           for (s, t), src in mounts.items() if s == "grafana"):
    err(f"compose: dashboards/chorus.json is not mounted under the provider path {provider}")

for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PYEOF
}
check "manifests: ServiceMonitor fields, Deployment policy, compose/Prometheus/Grafana wiring" manifest_policy

section "Dockerfile"
check "hadolint deploy/Dockerfile" hadolint deploy/Dockerfile
explained_ignores() {
    # Every "# hadolint ignore=" must be preceded by a comment saying why.
    awk '/^# *hadolint ignore=/ { if (prev !~ /^#/ || prev ~ /hadolint ignore=/) { print FILENAME ":" NR ": unexplained " $0; bad = 1 } }
         { prev = $0 } END { exit bad }' deploy/Dockerfile
}
check "hadolint ignores are explained" explained_ignores
check "bash -n deploy/healthcheck.sh" bash -n deploy/healthcheck.sh

section "compose"
check "check-jsonschema vendor.compose-spec deploy/compose.yaml" \
    check-jsonschema --builtin-schema vendor.compose-spec deploy/compose.yaml

section "Prometheus rules and config"
check "promtool check rules dashboards/alerts.yml" promtool check rules dashboards/alerts.yml
check "promtool test rules dashboards/alerts.test.yml" promtool test rules dashboards/alerts.test.yml
every_alert_tested() {
    "$PY" - <<'PYEOF'
import sys, yaml
alerts = {r["alert"] for g in yaml.safe_load(open("dashboards/alerts.yml"))["groups"] for r in g["rules"] if "alert" in r}
tests = yaml.safe_load(open("dashboards/alerts.test.yml"))["tests"]
fired = {c["alertname"] for t in tests for c in t.get("alert_rule_test", []) if c.get("exp_alerts")}
bad = 0
for a in sorted(alerts - fired):
    print(f"alert {a} has no test case that makes it fire"); bad = 1
for g in yaml.safe_load(open("dashboards/alerts.yml"))["groups"]:
    for r in g["rules"]:
        ann = r.get("annotations", {})
        for k in ("summary", "description"):
            if not str(ann.get(k, "")).strip():
                print(f"alert {r.get('alert')}: missing annotation {k}"); bad = 1
sys.exit(bad)
PYEOF
}
check "every alert has summary, description and a firing test" every_alert_tested
prom_config_check() {
    # The config names the rule file by its path inside the container: point it at the real file.
    sed "s#/etc/prometheus/rules/chorus-alerts.yml#$ROOT/dashboards/alerts.yml#" \
        deploy/prometheus/prometheus.yml >"$TMP/prometheus.yml"
    local out
    out="$(promtool check config "$TMP/prometheus.yml" 2>&1)" || {
        echo "$out"
        return 1
    }
    echo "$out"
    grep -q "SUCCESS: [1-9][0-9]* rules found" <<<"$out" || {
        echo "the rule file was not found or holds no rules"
        return 1
    }
}
check "promtool check config deploy/prometheus/prometheus.yml (rule_files resolved)" prom_config_check

section "Grafana dashboard"
dashboard_structure() {
    "$PY" - <<'PYEOF'
import json, sys
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

errors = []
raw = json.load(open("dashboards/chorus.json"))
register_default_plugins()
decoded = Dashboard.from_json(raw)
if len(decoded.to_json().get("panels", [])) != len(raw["panels"]):
    errors.append("grafana-foundation-sdk lost panels while decoding")
def walk(panels):
    for p in panels:
        yield p
        yield from walk(p.get("panels", []))
panels = list(walk(raw["panels"]))
ids = [p.get("id") for p in panels]
dups = sorted({i for i in ids if ids.count(i) > 1})
if dups: errors.append(f"duplicate panel ids: {dups}")
if None in ids: errors.append("a panel has no id")
variables = {v["name"]: v for v in raw.get("templating", {}).get("list", [])}
if variables.get("datasource", {}).get("type") != "datasource": errors.append("no 'datasource' variable of type datasource")
if "instance" not in variables: errors.append("no 'instance' variable")
if raw.get("schemaVersion", 0) < 39: errors.append(f"schemaVersion {raw.get('schemaVersion')} is older than current Grafana")
for p in panels:
    if p["type"] == "row":
        continue
    where = f"panel {p.get('id')} {p.get('title')!r}"
    if not p.get("description", "").strip(): errors.append(f"{where}: no description")
    if p.get("datasource", {}).get("uid") != "${datasource}": errors.append(f"{where}: datasource is not ${{datasource}}")
    if not p.get("targets"): errors.append(f"{where}: no queries")
    for t in p.get("targets", []):
        if not t.get("expr"): errors.append(f"{where}: a query without expr")
        if t.get("datasource", {}).get("uid") not in (None, "${datasource}"): errors.append(f"{where}: a query with another datasource")
        if "rate(" in t.get("expr", "") and "$__rate_interval" not in t["expr"]: errors.append(f"{where}: rate() without $__rate_interval")
    g = p.get("gridPos", {})
    if g.get("x", 0) + g.get("w", 0) > 24: errors.append(f"{where}: wider than the grid")
# No two panels overlap.
cells = {}
for p in panels:
    g = p["gridPos"]
    for x in range(g["x"], g["x"] + g["w"]):
        for y in range(g["y"], g["y"] + g["h"]):
            if (x, y) in cells: errors.append(f"panels {cells[(x, y)]} and {p['id']} overlap")
            cells[(x, y)] = p["id"]
print(f"{len(panels)} panels, {len(set(ids))} unique ids, schemaVersion {raw.get('schemaVersion')}")
for e in sorted(set(errors)): print(e)
sys.exit(1 if errors else 0)
PYEOF
}
check "dashboards/chorus.json: parses, decodes (grafana-foundation-sdk), unique ids, descriptions, variables" dashboard_structure

exprs_as_rules() {
    extract_exprs 5m || return 1
    "$PY" - "$TMP/exprs.json" "$TMP/exprs.rules.yml" <<'PYEOF'
import json, sys, yaml
exprs = json.load(open(sys.argv[1]))
rules = [{"record": f"check_deploy:expr_{i}", "expr": e["expr"]} for i, e in enumerate(exprs) if e["kind"] != "alert"]
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[2], "w"), width=1000)
PYEOF
    promtool check rules "$TMP/exprs.rules.yml"
}
check "every dashboard expression parses (promtool check rules, \$__rate_interval=5m)" exprs_as_rules

metric_names() {
    # $1: optional scrape file; names must then also be exported by it.
    extract_exprs 5m >/dev/null || return 1
    "$PY" - "$TMP/exprs.json" "$TMP/metric-contract.txt" "${1:-}" <<'PYEOF'
import json, re, sys
exprs = json.load(open(sys.argv[1]))
contract, histograms = set(), set()
for line in open(sys.argv[2]):
    parts = line.split()
    if parts:
        contract.add(parts[0])
        if parts[1:] == ["histogram"]: histograms.add(parts[0])
allowed = set(contract) | {h + s for h in histograms for s in ("_bucket", "_sum", "_count")}
scraped = None
if len(sys.argv) > 3 and sys.argv[3]:
    scraped = set()
    for line in open(sys.argv[3]):
        if line.startswith("#") or not line.strip():
            continue
        scraped.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0))
name_re = re.compile(r"(?<![A-Za-z0-9_:])((?:chorus|process)_[A-Za-z0-9_:]*)")
bad, used = 0, set()
for e in exprs:
    # Drop string literals (label values) before looking for names.
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', e["expr"])
    for name in name_re.findall(expr):
        used.add(name)
        if name not in allowed:
            print(f"{e['source']}: {name} is not in the /metrics contract"); bad = 1
        elif scraped is not None and name not in scraped:
            print(f"{e['source']}: {name} is not in the scrape {sys.argv[3]}"); bad = 1
print(f"{len(used)} metric names used, {len({n for n in used if n in allowed})} in the contract"
      + ("" if scraped is None else f", {len(scraped)} sample names in the scrape"))
if scraped is not None:
    missing = sorted(n for n in contract if n not in scraped and n + "_count" not in scraped)
    if missing: print("note: contract metrics absent from the scrape: " + ", ".join(missing))
sys.exit(bad)
PYEOF
}
check "every chorus_*/process_* name in dashboard and alerts is in the /metrics contract" metric_names
if [ -n "$SCRAPE_FILE" ]; then
    check "every metric name used is exported in $SCRAPE_FILE" metric_names "$SCRAPE_FILE"
fi

# ------------------------------------------------------------------------------------------ live
free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
wait_http() { # URL SECONDS: wait for a 200
    local deadline=$((SECONDS + $2))
    while [ $SECONDS -lt $deadline ]; do
        curl -fsS -m 2 -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}

run_live() {
    local port="$1" chorus_pid="${2:-}"
    local base="http://127.0.0.1:$port"
    section "live: Chorus on 127.0.0.1:$port"

    check "GET /healthz and /readyz answer 200" sh -c "curl -fsS -m 5 -o /dev/null $base/healthz && curl -fsS -m 5 -o /dev/null $base/readyz"
    check "deploy/healthcheck.sh (the image's HEALTHCHECK) passes against it" deploy/healthcheck.sh "$port"
    if ! curl -fsS -m 5 -o "$TMP/scrape.txt" "$base/metrics"; then
        fail "GET /metrics answers 200 (is /metrics implemented yet?)"
        return
    fi
    pass "GET /metrics answers 200"

    # Load: WebSocket subscribers (python websockets) that read, close normally and reconnect, a
    # rejected handshake now and then, and HTTP publishes with curl. Both end by themselves.
    cat >"$TMP/load.py" <<'PYEOF'
import asyncio, sys, time
import websockets

port, seconds = int(sys.argv[1]), float(sys.argv[2])
deadline = time.monotonic() + seconds

async def subscriber(path, churn):
    while time.monotonic() < deadline:
        try:
            async with websockets.connect(f"ws://127.0.0.1:{port}{path}", open_timeout=5, close_timeout=2) as ws:
                end = min(deadline, time.monotonic() + (3 if churn else seconds))
                while time.monotonic() < end:
                    try:
                        await asyncio.wait_for(ws.recv(), timeout=0.5)
                    except asyncio.TimeoutError:
                        pass
        except Exception as e:  # keep going: the checks judge the metrics, not this client
            print(f"load: {path}: {type(e).__name__}: {e}", file=sys.stderr)
            await asyncio.sleep(0.5)

async def bad_handshakes():
    while time.monotonic() < deadline:
        try:
            async with websockets.connect(f"ws://127.0.0.1:{port}/ws/not%20a%20channel", open_timeout=5):
                pass
        except Exception:
            pass
        await asyncio.sleep(2)

async def main():
    tasks = [subscriber("/ws/x", churn=False) for _ in range(4)]
    tasks += [subscriber("/ws?channel=x&channel=y", churn=False) for _ in range(2)]
    tasks += [subscriber("/ws/x", churn=True) for _ in range(2)]
    tasks.append(bad_handshakes())
    await asyncio.gather(*tasks)

asyncio.run(main())
PYEOF
    local load_seconds=60
    "$PY" "$TMP/load.py" "$port" "$load_seconds" 2>"$TMP/load.err" &
    BG_PIDS+=($!)
    local auth=()
    [ -n "${CHORUS_API_KEY:-}" ] && auth=(-H "Authorization: Bearer $CHORUS_API_KEY")
    (
        end=$((SECONDS + load_seconds))
        i=0
        while [ $SECONDS -lt $end ]; do
            i=$((i + 1))
            # Every other message is over --compression-min-bytes, so the websockets subscribers (which
            # negotiate permessage-deflate by default) get compressed frames and the compression panels fill.
            body="hello $i"
            [ $((i % 2)) -eq 0 ] && body="$body $(printf 'compressible %.0s' $(seq 40))"
            curl -s -m 2 -o /dev/null -X POST -H 'Content-Type: text/plain' "${auth[@]}" \
                --data "$body" "$base/publish/x"
            sleep 0.3
        done
    ) &
    BG_PIDS+=($!)

    # Prometheus on loopback, temporary data dir, scraping Chorus every second, with the alerts loaded.
    local pport
    pport="$(free_port)"
    local papi="http://127.0.0.1:$pport"
    mkdir -p "$TMP/prom-data"
    cat >"$TMP/prometheus-live.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $ROOT/dashboards/alerts.yml
scrape_configs:
  - job_name: chorus
    static_configs:
      - targets: ["127.0.0.1:$port"]
EOF
    prometheus --config.file="$TMP/prometheus-live.yml" --storage.tsdb.path="$TMP/prom-data" \
        --web.listen-address="127.0.0.1:$pport" --log.level=warn >"$TMP/prometheus.log" 2>&1 &
    BG_PIDS+=($!)
    if wait_http "$papi/-/ready" 15; then
        pass "Prometheus $(prometheus --version 2>&1 | awk 'NR==1{print $3}') ready on 127.0.0.1:$pport"
    else
        fail "Prometheus ready on 127.0.0.1:$pport"
        sed 's/^/      /' "$TMP/prometheus.log" | tail -n 20
        return
    fi

    extract_exprs 20s >/dev/null || {
        fail "extract expressions"
        return
    }
    # Runs every expression through /api/v1/query until each dashboard/variable expression returns data
    # (or the deadline passes); any query error fails at once. Alerts may return nothing, but must not error,
    # and every rule must evaluate with health "ok".
    "$PY" - "$papi" "$TMP/exprs.json" "$TMP/live-results.txt" <<'PYEOF'
import json, sys, time, urllib.parse, urllib.request

api, exprs_file, out_file = sys.argv[1], sys.argv[2], sys.argv[3]
exprs = json.load(open(exprs_file))

def query(expr):
    url = f"{api}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        return json.load(e)

lines = []
def report(ok, text):
    lines.append(("PASS  " if ok else "FAIL  ") + text)

# 1. Wait (up to ~25 s) for the first samples of chorus_connections.
deadline = time.monotonic() + 25
while time.monotonic() < deadline:
    res = query("chorus_connections")
    if res.get("status") == "success" and res["data"]["result"]:
        break
    time.sleep(0.5)
else:
    report(False, "chorus_connections scraped by Prometheus within 25 s")
    open(out_file, "w").write("\n".join(lines) + "\n")
    sys.exit(0)
report(True, "chorus_connections scraped by Prometheus")
res = query('up{job="chorus"}')
report(bool(res.get("data", {}).get("result")) and res["data"]["result"][0]["value"][1] == "1", 'up{job="chorus"} == 1')

# The load is visible: subscribers connected, publishes delivered to several of them per encoded frame.
def value(expr):
    res = query(expr)
    r = res.get("data", {}).get("result", []) if res.get("status") == "success" else []
    return float(r[0]["value"][1]) if r else None
checks = [("sum(chorus_connections) >= 4", "at least 4 subscribers connected"),
          ("sum(chorus_deliveries_total) > 0", "publishes delivered"),
          ("sum(rate(chorus_deliveries_total[20s])) / sum(rate(chorus_frames_encoded_total[20s])) > 1",
           "buffer reuse above 1 (one encoded frame shared by several subscribers)")]
for expr, what in checks:
    deadline = time.monotonic() + 20
    while value(expr) is None and time.monotonic() < deadline:
        time.sleep(1)
    report(value(expr) is not None, f"load visible in Prometheus: {what} ({expr})")

# 2. Every expression: no error; dashboard ones must return data (retry while the load builds up).
pending = {i: e for i, e in enumerate(exprs)}
results = {}
deadline = time.monotonic() + 30
while pending and time.monotonic() < deadline:
    for i, e in list(pending.items()):
        res = query(e["expr"])
        if res.get("status") != "success":
            results[i] = (False, f"error: {res.get('errorType')}: {res.get('error')}")
            del pending[i]
        elif e["kind"] == "alert" or res["data"]["result"]:
            n = len(res["data"]["result"])
            results[i] = (True, f"{n} series" if n else "no series (alert not firing)")
            del pending[i]
    if pending:
        time.sleep(1)
for i, e in pending.items():
    results[i] = (False, "no data within the deadline")
for i, e in enumerate(exprs):
    ok, why = results[i]
    report(ok, f"query {e['source']}: {why}" + ("" if ok else f"\n      {e['expr']}"))

# 3. Rules loaded into Prometheus evaluate cleanly.
deadline = time.monotonic() + 10
while True:
    with urllib.request.urlopen(f"{api}/api/v1/rules", timeout=5) as r:
        rules = [r for g in json.load(r)["data"]["groups"] for r in g["rules"]]
    if all(r.get("health") != "unknown" for r in rules) or time.monotonic() > deadline:
        break
    time.sleep(1)
bad = [f"{r['name']}: {r.get('health')} {r.get('lastError', '')}" for r in rules if r.get("health") != "ok"]
report(not bad and len(rules) > 0, f"{len(rules)} alert rules evaluate in Prometheus with health ok"
       + "".join(f"\n      {b}" for b in bad))
open(out_file, "w").write("\n".join(lines) + "\n")
PYEOF
    local line
    while IFS= read -r line; do
        case "$line" in
        "PASS  "*) pass "${line#PASS  }" ;;
        "FAIL  "*) fail "${line#FAIL  }" ;;
        *) echo "$line" ;;
        esac
    done <"$TMP/live-results.txt"

    # A scrape taken under load: every name used must be exported, and promtool must accept it.
    curl -fsS -m 5 -o "$TMP/scrape.txt" "$base/metrics"
    check "every metric name used is exported by this Chorus (live scrape)" metric_names "$TMP/scrape.txt"
    check "promtool check metrics on a scrape under load" sh -c "promtool check metrics < '$TMP/scrape.txt'"

    if [ -n "$chorus_pid" ]; then
        # Graceful shutdown, as Kubernetes and docker stop do it: SIGTERM, exit 0 within the drain timeout.
        kill -TERM "$chorus_pid" 2>/dev/null
        local deadline=$((SECONDS + 20)) rc=""
        while [ $SECONDS -lt $deadline ]; do
            if ! kill -0 "$chorus_pid" 2>/dev/null; then
                wait "$chorus_pid"
                rc=$?
                break
            fi
            sleep 0.2
        done
        if [ "$rc" = 0 ]; then
            pass "Chorus exits 0 on SIGTERM within 20 s"
        else
            fail "Chorus exits 0 on SIGTERM within 20 s (exit status: ${rc:-still running})"
            sed 's/^/      /' "$TMP/chorus.log" | tail -n 30
        fi
    fi
}

if [ -n "$CHORUS_BIN" ]; then
    if [ ! -x "$CHORUS_BIN" ]; then
        fail "chorus binary $CHORUS_BIN exists"
    else
        CPORT="$(free_port)"
        "$CHORUS_BIN" --host 127.0.0.1 --port "$CPORT" --drain-timeout 5s >"$TMP/chorus.log" 2>&1 &
        CPID=$!
        BG_PIDS+=("$CPID")
        if wait_http "http://127.0.0.1:$CPORT/healthz" 30; then
            pass "started $CHORUS_BIN on 127.0.0.1:$CPORT"
            run_live "$CPORT" "$CPID"
        else
            fail "started $CHORUS_BIN on 127.0.0.1:$CPORT"
            sed 's/^/      /' "$TMP/chorus.log" | tail -n 20
        fi
    fi
elif [ -n "$LIVE_PORT" ]; then
    run_live "$LIVE_PORT"
fi

echo
if [ "$FAILED" -gt 0 ]; then
    echo "failed checks:"
    printf '  %s\n' "${FAILED_NAMES[@]}"
fi
echo "check-deploy: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
