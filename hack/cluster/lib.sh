# shellcheck shell=bash disable=SC2034  # variables for the scripts that source this file
# Shared by the hack/cluster scripts: paths, and small process helpers. Source after versions.sh.
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=$REPO_ROOT/.venv/bin/python
export KWOK_WORKDIR=$TFSO_STATE/kwok
KWOKCTL=$KWOK_BIN/kwokctl
KUBECONFIG_PATH=$KWOK_WORKDIR/clusters/$CLUSTER_NAME/kubeconfig.yaml
GCS_URL=http://127.0.0.1:$GCS_PORT
GCS_PIDFILE=$TFSO_STATE/fake-gcs-server.pid
RUNNER_PIDFILE=$TFSO_STATE/podrunner.pid

die() {
	echo "error: $*" >&2
	exit 1
}

# pid_alive PIDFILE PATTERN: the pid in PIDFILE is running and its command line contains PATTERN
# (so a pid reused by an unrelated process is never mistaken for ours).
pid_alive() {
	local pid
	[[ -f $1 ]] || return 1
	pid=$(<"$1")
	[[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$2"
}

# stop_pidfile PIDFILE PATTERN: SIGTERM, wait up to 10s, then SIGKILL.
stop_pidfile() {
	local pid
	if pid_alive "$1" "$2"; then
		pid=$(<"$1")
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 50); do
			pid_alive "$1" "$2" || break
			sleep 0.2
		done
		pid_alive "$1" "$2" && kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$1"
}

apiserver_ready() {
	[[ -f $KUBECONFIG_PATH ]] && kubectl --kubeconfig "$KUBECONFIG_PATH" --request-timeout=3s get --raw /readyz >/dev/null 2>&1
}

# Stops whatever still runs from this cluster's binaries (kwokctl copies them under its workdir and
# starts them from there): found by the path each was started from, so nothing else is ever touched.
stop_leftover_control_plane() {
	local cmdline argv0 leftover=()
	for cmdline in /proc/[0-9]*/cmdline; do
		argv0=$(tr '\0' '\n' <"$cmdline" 2>/dev/null | head -n 1) || continue
		[[ $argv0 == "$KWOK_WORKDIR"/* ]] && leftover+=("$(basename "$(dirname "$cmdline")")")
	done
	((${#leftover[@]})) || return 0
	echo "stopping leftover control-plane processes: ${leftover[*]}"
	kill -TERM "${leftover[@]}" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "${leftover[@]}" 2>/dev/null || break
		sleep 0.2
	done
	kill -KILL "${leftover[@]}" 2>/dev/null || true
}
