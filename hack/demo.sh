#!/usr/bin/env bash
# `make demo`: the local cluster, the operator, a real model exported by Jobs and served, then a
# canary and a promotion, in place. Safe to run again; `make cluster-down` stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=$REPO/.venv/bin/python
NS=demo
MODEL=scale

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Local cluster (etcd, kube-apiserver, controller-manager, scheduler, KWOK GPU node pools, GCS stand-in)"
TFSO_RUN_SERVING=1 bash hack/cluster/up.sh
eval "$(bash hack/cluster/env.sh)"
export PATH=$REPO/.venv/bin:$PATH
kubectl get nodes -L cloud.google.com/gke-accelerator

step "ServedModel CRD"
kubectl apply --server-side --field-manager=tfso-demo -f crds/servedmodels.tfserving.dev.yaml
kubectl wait --for=condition=Established --timeout=60s crd/servedmodels.tfserving.dev

step "Operator (log: $TFSO_CLUSTER_STATE/operator.log)"
pidfile=$TFSO_CLUSTER_STATE/operator.pid
# shellcheck source=hack/cluster/lib.sh
source hack/cluster/versions.sh
source hack/cluster/lib.sh
stop_pidfile "$pidfile" "-m tfserving_operator"
setsid "$PY" -m tfserving_operator </dev/null >>"$TFSO_CLUSTER_STATE/operator.log" 2>&1 &
echo $! >"$pidfile"
echo "operator running, pid $(cat "$pidfile")"

step "Model sources in the GCS stand-in: version N answers N * sum(x)"
"$PY" -m tests.support.models gs://demo-models/src/scale-1.keras --factor 1
"$PY" -m tests.support.models gs://demo-models/src/scale-2.keras --factor 2

step "kubectl apply -f manifests/examples/demo.yaml (export Jobs for versions 1 and 2, stable=1)"
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -f manifests/examples/demo.yaml

wait_for() { # description, then a command that succeeds when done
	local what=$1 deadline=$((SECONDS + ${TIMEOUT:-300}))
	shift
	printf 'waiting for %s ' "$what"
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || {
			echo "- timed out"
			servedmodel status "$MODEL" -n "$NS" || true
			exit 1
		}
		printf '.'
		sleep 2
	done
	echo " done"
}
live_is() { [[ $(kubectl get sm "$MODEL" -n "$NS" -o jsonpath='{.status.liveLabels}') == "$1" ]]; }
idle() { [[ $(kubectl get sm "$MODEL" -n "$NS" -o jsonpath='{.status.rollout.phase}') == Idle ]]; }
live_and_idle() { live_is "$1" && idle; }
ready() { [[ $(kubectl get sm "$MODEL" -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]; }

wait_for "the export Jobs and the serving pods" ready
kubectl get jobs,pods -n "$NS" -o wide
servedmodel status "$MODEL" -n "$NS"

predict() { # label: ask every serving pod directly, as the Service would
	for ip in $(kubectl get pods -n "$NS" -l tfserving.dev/role=server -o jsonpath='{.items[*].status.podIP}'); do
		printf '  %s /labels/%s -> ' "$ip" "$1"
		curl -s --noproxy '*' -X POST "http://$ip:8501/v1/models/$MODEL/labels/$1:predict" \
			-d '{"instances": [[1.0, 1.0, 1.0]]}' | tr -d ' \n'
		echo
	done
}
predict stable

step "Canary: labels {stable: 1, canary: 2} (loads 2 with labels unchanged, then moves canary)"
kubectl patch sm "$MODEL" -n "$NS" --type=merge -p '{"spec":{"labels":{"stable":1,"canary":2}}}'
wait_for "canary live on every replica" live_and_idle '{"canary":2,"stable":1}'
predict stable
predict canary

step "Promote: servedmodel promote edits the file (as in a pull request), then kubectl apply"
cp manifests/examples/demo.yaml "$TFSO_CLUSTER_STATE/demo.yaml"
sed -i 's/labels: {stable: 1}/labels: {stable: 1, canary: 2}/' "$TFSO_CLUSTER_STATE/demo.yaml"
servedmodel promote "$MODEL" -f "$TFSO_CLUSTER_STATE/demo.yaml"
kubectl apply -f "$TFSO_CLUSTER_STATE/demo.yaml"
wait_for "stable=2 live on every replica" live_and_idle '{"canary":2,"stable":2}'
predict stable
servedmodel status "$MODEL" -n "$NS"
kubectl get sm -A
echo
echo "Events:"
kubectl get events -n "$NS" --field-selector involvedObject.name="$MODEL" --sort-by=.lastTimestamp \
	-o custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message | tail -n 15

step "Done. The cluster keeps running: KUBECONFIG=$KUBECONFIG; stop it with 'make cluster-down'"
