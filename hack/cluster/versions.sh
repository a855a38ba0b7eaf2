# shellcheck shell=bash disable=SC2034  # variables for the scripts that source this file
# Pinned versions of every piece of the local cluster. Sourced by the other scripts.
# Changing one of these rebuilds only that piece (the cache is keyed by version).
KUBE_VERSION=v1.33.13 # must match hack/cluster/gomod/kubernetes/go.mod
KUBE_GIT_COMMIT=c029d48d28322ad0369aabdcf8b656fd3195cd30
ETCD_VERSION=v3.5.35 # must match hack/cluster/gomod/etcd/go.mod
KWOK_VERSION=v0.8.0
HELM_VERSION=v3.21.4

TFSO_CACHE=${TFSO_CACHE:-$HOME/.cache/tfserving-operator}
CLUSTER_NAME=${TFSO_CLUSTER_NAME:-tfso}
# The cluster's state (kwokctl's and ours) lives outside the work tree too.
TFSO_STATE=${TFSO_STATE:-$TFSO_CACHE/clusters/$CLUSTER_NAME}
GCS_PORT=${TFSO_GCS_PORT:-4443}
APISERVER_PORT=${TFSO_APISERVER_PORT:-6443}

KUBE_BIN=$TFSO_CACHE/bin/kubernetes-$KUBE_VERSION
ETCD_BIN=$TFSO_CACHE/bin/etcd-$ETCD_VERSION
KWOK_BIN=$TFSO_CACHE/bin/kwok-$KWOK_VERSION
HELM_BIN=$TFSO_CACHE/bin/helm-$HELM_VERSION
