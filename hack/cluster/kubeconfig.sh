#!/usr/bin/env bash
# Prints the local cluster's kubeconfig path (and nothing else), or fails when the cluster is not up.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/cluster/versions.sh
source "$HERE/versions.sh"
# shellcheck source=hack/cluster/lib.sh
source "$HERE/lib.sh"
[[ -f $KUBECONFIG_PATH ]] || die "no local cluster: run 'make cluster-up' (looked for $KUBECONFIG_PATH)"
echo "$KUBECONFIG_PATH"
