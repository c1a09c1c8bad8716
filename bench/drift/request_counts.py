#!/usr/bin/env python3
"""bench/rollback/metrics_delta.py, with more resources counted as the benchmark's objects.

    request_counts.py BEFORE AFTER [--rows] [--kinds RESOURCE,RESOURCE,...]

Without --kinds it is that script unchanged: every verb on ConfigMaps, Services and Deployments but
PUT, the release history (Secrets, PUTs of ConfigMaps), discovery, Namespace reads, Lease create and
delete count as the client's. --kinds adds plural resource names to the first group; the large set
passes serviceaccounts,roles,rolebindings,customresourcedefinitions, so kubectl's GETs and dry-run
applies of them and minicd's LISTs of them are counted too. A drift reader's LISTs are in "client"
(the breakdown of metrics_delta.py has no column for them).
"""

import os
import sys

sys.dont_write_bytecode = True  # nothing written next to bench/rollback's script
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "rollback"))
import metrics_delta  # noqa: E402


def main():
    args = sys.argv[1:]
    if "--kinds" in args:
        at = args.index("--kinds")
        if at + 1 >= len(args):
            sys.exit("request_counts.py: --kinds needs a value")
        # is_client() reads this set at call time, so adding to it is enough.
        metrics_delta.k_objects.update(k for k in args[at + 1].split(",") if k)
        del args[at:at + 2]
    sys.argv = [sys.argv[0]] + args
    metrics_delta.main()


if __name__ == "__main__":
    main()
