#!/usr/bin/env bash
# Builds the local cluster's binaries from pinned Go module versions into $TFSO_CACHE/bin/<piece>-<version>/.
# Only missing pieces are built. A cold build takes many minutes on 2 cores; progress is printed.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/cluster/versions.sh
source "$HERE/versions.sh"

command -v go >/dev/null || { echo "error: 'go' is not on PATH; install Go >= 1.24 (https://go.dev/dl/)" >&2; exit 1; }
# Kubernetes 1.33's go.mod says go 1.24; with GOTOOLCHAIN=local an older Go cannot build it.
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
((go_minor >= 24)) || { echo "error: $(go env GOVERSION) is too old; Kubernetes $KUBE_VERSION needs Go >= 1.24" >&2; exit 1; }
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=${GOTOOLCHAIN:-local}
LOGS=$TFSO_CACHE/build-logs
mkdir -p "$LOGS"

# run_build NAME OUTDIR CMD... : runs CMD with its output in $LOGS/NAME.log, printing elapsed time every 20s.
# OUTDIR is built under a temporary name and renamed when complete, so a killed build never looks done.
run_build() {
	local name=$1 out=$2
	shift 2
	local tmp=$out.partial start=$SECONDS
	rm -rf "$tmp"
	mkdir -p "$tmp"
	echo "building $name -> $out (log: $LOGS/$name.log)"
	(cd "$HERE" && OUT=$tmp "$@") >"$LOGS/$name.log" 2>&1 &
	local pid=$! shown=$SECONDS
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		if ((SECONDS - shown >= 20)); then
			shown=$SECONDS
			echo "  ... still building $name: $((SECONDS - start))s elapsed"
		fi
	done
	if ! wait "$pid"; then
		echo "error: building $name failed after $((SECONDS - start))s; last lines of $LOGS/$name.log:" >&2
		tail -n 30 "$LOGS/$name.log" >&2
		exit 1
	fi
	rm -rf "$out"
	mv "$tmp" "$out"
	local took=$((SECONDS - start))
	echo "built $name in ${took}s"
	echo "$(date -u +%FT%TZ) $name ${took}s" >>"$TFSO_CACHE/build-times.txt"
}

build_kubernetes() {
	local pkg=k8s.io/component-base/version
	cd gomod/kubernetes
	go build -trimpath -o "$OUT/" \
		-ldflags "-s -w -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitCommit=$KUBE_GIT_COMMIT \
-X $pkg.gitTreeState=clean -X $pkg.gitMajor=$(echo "$KUBE_VERSION" | cut -d. -f1 | tr -d v) \
-X $pkg.gitMinor=$(echo "$KUBE_VERSION" | cut -d. -f2)" \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
		k8s.io/kubernetes/cmd/kube-scheduler
}

build_etcd() {
	cd gomod/etcd
	go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3
}

build_kwok() {
	GOBIN=$OUT go install -trimpath -ldflags "-s -w" \
		"sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
}

build_helm() {
	GOBIN=$OUT go install -trimpath \
		-ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
		"helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

total=$SECONDS
[[ -x $KWOK_BIN/kwokctl && -x $KWOK_BIN/kwok ]] || run_build "kwok-$KWOK_VERSION" "$KWOK_BIN" build_kwok
[[ -x $ETCD_BIN/etcd ]] || run_build "etcd-$ETCD_VERSION" "$ETCD_BIN" build_etcd
[[ -x $KUBE_BIN/kube-apiserver && -x $KUBE_BIN/kube-controller-manager && -x $KUBE_BIN/kube-scheduler ]] ||
	run_build "kubernetes-$KUBE_VERSION" "$KUBE_BIN" build_kubernetes
[[ -x $HELM_BIN/helm ]] || run_build "helm-$HELM_VERSION" "$HELM_BIN" build_helm
echo "binaries ready in $TFSO_CACHE/bin ($((SECONDS - total))s)"
