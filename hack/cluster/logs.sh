#!/usr/bin/env bash
# Shows logs of the local cluster.
#   hack/cluster/logs.sh POD [NAMESPACE] [-f]   output of a pod the pod runner ran (newest pod of that name)
#   hack/cluster/logs.sh COMPONENT [-f]         etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
#                                               kwok-controller, podrunner, fake-gcs-server
#   hack/cluster/logs.sh                        lists what there is
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/cluster/versions.sh
source "$HERE/versions.sh"
# shellcheck source=hack/cluster/lib.sh
source "$HERE/lib.sh"

follow=0
args=()
for a in "$@"; do [[ $a == -f ]] && follow=1 || args+=("$a"); done
show() { if ((follow)); then tail -n +1 -F "$1"; else cat "$1"; fi; }

if ((${#args[@]} == 0)); then
	echo "components: etcd kube-apiserver kube-controller-manager kube-scheduler kwok-controller podrunner fake-gcs-server"
	echo "pods run locally (namespace_name_uid):"
	ls -1t "$TFSO_STATE/pods" 2>/dev/null | sed 's/^/  /' || true
	exit 0
fi
name=${args[0]}
case $name in
podrunner | fake-gcs-server) show "$TFSO_STATE/$name.log" ;;
etcd | kube-apiserver | kube-controller-manager | kube-scheduler | kwok-controller)
	show "$KWOK_WORKDIR/clusters/$CLUSTER_NAME/logs/$name.log"
	;;
*)
	ns=${args[1]:-*}
	# shellcheck disable=SC2086
	dir=$(ls -1td "$TFSO_STATE"/pods/${ns}_"${name}"_* 2>/dev/null | head -n 1 || true)
	[[ -n $dir ]] || die "no local process was run for pod $name (only Job pods and served pods run locally)"
	show "$dir/log"
	;;
esac
