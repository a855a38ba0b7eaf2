#!/usr/bin/env bash
# Prints `export ...` lines for the local cluster: eval "$(hack/cluster/env.sh)"
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/cluster/versions.sh
source "$HERE/versions.sh"
# shellcheck source=hack/cluster/lib.sh
source "$HERE/lib.sh"
[[ -f $TFSO_STATE/env ]] || die "no local cluster: run 'make cluster-up' (looked for $TFSO_STATE/env)"
while IFS= read -r line; do
	[[ -n $line ]] && printf 'export %s=%q\n' "${line%%=*}" "${line#*=}"
done <"$TFSO_STATE/env"
