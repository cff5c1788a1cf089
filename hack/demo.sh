#!/usr/bin/env bash
# make demo: the operator's whole job on this machine. Starts a local control plane
# (kube-apiserver + etcd), the Salesforce emulator and the operator, applies a sample
# credentials Secret and connection, shows the connection and its token Secret (values
# masked), then shows each renewal as it happens (one-minute session). Ctrl-C stops it all.
# DEMO_EXIT=1 exits after the first renewal, so CI can run it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/bin"
K8S_BIN="${KUBEBUILDER_ASSETS:-$BIN/k8s/1.37.2}"
KUBECTL="$K8S_BIN/kubectl"
EMULATOR_ADDR="127.0.0.1:18080"
DEMO_TIMEOUT="${DEMO_TIMEOUT:-180}"
WORK="$(mktemp -d)"
export KUBECONFIG="$WORK/kubeconfig"
pids=()

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "demo: $*" >&2
  for log in "$WORK"/*.log; do echo "--- ${log##*/} (last lines)" >&2; tail -n 20 "$log" >&2; done
  exit 1
}

# wait_for CMD...: retry a command until it succeeds or the deadline passes.
wait_for() {
  local deadline=$((SECONDS + 60))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

for b in "$K8S_BIN/kube-apiserver" "$K8S_BIN/etcd" "$KUBECTL" "$BIN/manager" "$BIN/salesforce-emulator" "$BIN/localcluster"; do
  [[ -x "$b" ]] || fail "$b is missing: run 'make demo', which builds it"
done

bold "Starting a local control plane (kube-apiserver and etcd)"
"$BIN/localcluster" --assets "$K8S_BIN" --write-kubeconfig "$KUBECONFIG" >"$WORK/control-plane.log" 2>&1 &
pids+=($!)
wait_for test -s "$KUBECONFIG" || fail "the control plane did not start"
wait_for "$KUBECTL" get --raw /readyz || fail "the API server is not ready"
echo "API server: $("$KUBECTL" config view -o jsonpath='{.clusters[0].cluster.server}')"

bold "Starting the Salesforce emulator on http://$EMULATOR_ADDR"
"$BIN/salesforce-emulator" --listen "$EMULATOR_ADDR" --config "$ROOT/hack/emulator-demo.yaml" >"$WORK/emulator.log" 2>&1 &
pids+=($!)
wait_for bash -c "echo >/dev/tcp/${EMULATOR_ADDR%:*}/${EMULATOR_ADDR#*:}" || fail "the emulator did not start (is port 18080 free?)"

bold "Installing the CRD: kubectl apply -k config/crd"
"$KUBECTL" apply -k "$ROOT/config/crd"
"$KUBECTL" wait --for=condition=Established crd/salesforceconnections.salesforce.sfconn.io --timeout=60s >/dev/null

bold "Starting the operator (logs: manager.log)"
"$BIN/manager" --kubeconfig "$KUBECONFIG" --allowed-login-hosts=127.0.0.1 \
  --health-probe-bind-address=0 --metrics-bind-address=0 >"$WORK/manager.log" 2>&1 &
pids+=($!)

bold "Applying a credentials Secret and a SalesforceConnection: kubectl apply -k config/demo"
"$KUBECTL" apply -k "$ROOT/config/demo"
"$KUBECTL" wait --for=condition=Ready sfconn/crm --timeout=60s || fail "the connection did not become Ready"

bold "kubectl get sfconn"
"$KUBECTL" get sfconn

# show_secret prints the token Secret's keys with the access token masked.
show_secret() {
  "$KUBECTL" get secret crm-token -o go-template='{{range $k, $v := .data}}{{$k}} {{$v}}{{"\n"}}{{end}}' |
    while read -r key value; do
      value="$(printf '%s' "$value" | base64 -d)"
      if [[ "$key" == access_token ]]; then value="${value:0:6}…(${#value} characters, masked)"; fi
      printf '  %-13s %s\n' "$key" "$value"
    done
}
bold "Token Secret crm-token (what pods mount)"
show_secret

issued="$("$KUBECTL" get sfconn crm -o jsonpath='{.status.issuedAt}')"
bold "Waiting for renewals (session timeout 1m, renewed 20s before expiry)$([[ "${DEMO_EXIT:-}" == 1 ]] && echo '; exits after the first' || echo '; Ctrl-C to stop')"
"$KUBECTL" get sfconn crm -o jsonpath='  issued {.status.issuedAt}, renews at {.status.renewAt}, expires {.status.expiresAt}{"\n"}'
deadline=$((SECONDS + DEMO_TIMEOUT))
while true; do
  now_issued="$("$KUBECTL" get sfconn crm -o jsonpath='{.status.issuedAt}')"
  if [[ -n "$now_issued" && "$now_issued" != "$issued" ]]; then
    issued="$now_issued"
    echo "$(date -u +%H:%M:%S) renewed: $("$KUBECTL" get sfconn crm -o jsonpath='issued {.status.issuedAt}, renews at {.status.renewAt}, expires {.status.expiresAt}, Ready={.status.conditions[?(@.type=="Ready")].status}')"
    if [[ "${DEMO_EXIT:-}" == 1 ]]; then
      bold "Events"
      "$KUBECTL" get events.events.k8s.io --field-selector regarding.name=crm -o custom-columns=TYPE:.type,REASON:.reason,NOTE:.note
      bold "Renewed before expiry: demo done"
      exit 0
    fi
    deadline=$((SECONDS + DEMO_TIMEOUT))
  fi
  ((SECONDS < deadline)) || fail "no renewal within ${DEMO_TIMEOUT}s"
  sleep 2
done
