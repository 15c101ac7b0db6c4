"""A pod's workload from its name, when no owner data is at hand.

Controllers name pods predictably: a Deployment's ReplicaSet adds ``-<pod-template-hash>-<5 chars>``,
a StatefulSet ``-<ordinal>``, a DaemonSet or Job ``-<5 chars>``. This is a guess, and says so: the kind
is suffixed with ``?`` (e.g. ``Deployment?``) unless it came from owner references.
"""

from __future__ import annotations

import re

_ALNUM = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet of Kubernetes' rand.String
_DEPLOYMENT = re.compile(rf"^(.+)-[{_ALNUM}]{{6,10}}-[{_ALNUM}]{{5}}$")
_STATEFULSET = re.compile(r"^(.+)-(0|[1-9][0-9]*)$")
_GENERATED = re.compile(rf"^(.+)-[{_ALNUM}]{{5}}$")


def workload_of(pod_name: str) -> tuple[str, str]:
    """(kind, name) guessed from the pod name; one that fits no pattern is guessed to be a bare pod."""
    if m := _DEPLOYMENT.match(pod_name):
        return "Deployment?", m.group(1)
    if m := _STATEFULSET.match(pod_name):
        return "StatefulSet?", m.group(1)
    if m := _GENERATED.match(pod_name):
        return "DaemonSet/Job?", m.group(1)
    return "Pod?", pod_name
