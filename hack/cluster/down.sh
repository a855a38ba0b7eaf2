#!/usr/bin/env bash
# Stops the local cluster: the pod runner and every pod process it started, fake-gcs-server and the
# control plane, and removes the cluster's state. The build cache stays. Idempotent.
# TFSO_KEEP_STATE=1 keeps the state dir (logs, pod dirs) for a post-mortem.
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

# The operator `make demo` started, if any.
stop_pidfile "$TFSO_STATE/operator.pid" "-m tfserving_operator"
stop_pidfile "$RUNNER_PIDFILE" "-m podrunner"
# Pod processes run in their own process groups (led by podrunner's wrap.py) so that they outlive a
# pod runner restart; stop them here.
shopt -s nullglob
for record in "$TFSO_STATE"/pods/*/pod.json; do
	pid=$("${PY}" -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$record" 2>/dev/null || echo 0)
	if [[ $pid != 0 && -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "podrunner/wrap.py"; then
		kill -TERM -- "-$pid" 2>/dev/null || true
		sleep 0.5
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
done
stop_pidfile "$GCS_PIDFILE" fake-gcs-server

if [[ -x $KWOKCTL && -d $KWOK_WORKDIR/clusters/$CLUSTER_NAME ]]; then
	timeout 60 "$KWOKCTL" delete cluster --name "$CLUSTER_NAME" --kubeconfig "$KWOK_WORKDIR/unused-kubeconfig" \
		>"$TFSO_STATE/kwokctl-delete.log" 2>&1 || echo "warning: kwokctl delete cluster failed: $TFSO_STATE/kwokctl-delete.log" >&2
fi
stop_leftover_control_plane
if [[ ${TFSO_KEEP_STATE:-0} != 1 ]]; then
	rm -rf "$TFSO_STATE"
fi
echo "cluster $CLUSTER_NAME is down ($((SECONDS - t0))s); build cache kept in $TFSO_CACHE/bin"
