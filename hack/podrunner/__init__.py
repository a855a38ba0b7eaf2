"""A kubelet stand-in for the local KWOK cluster: runs the pods that must really run as local processes.

KWOK only moves pod status. This package runs, as processes on this machine:
- every scheduled pod owned by a Job (its container's command + args, with the pod's env), and sets the
  pod's phase from the exit code, with a terminated state carrying exitCode, reason and message;
- serving pods (label tfserving.dev/role=server) for which `podrunner.serving.serving_process` returns a
  ProcessSpec, with ConfigMap volumes materialised locally and the readinessProbe run against the pod IP.
Every pod IP it hands out is inside the node's spec.podCIDR, which must be inside 127.0.0.0/8.
"""
