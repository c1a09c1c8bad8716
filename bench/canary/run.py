#!/usr/bin/env python3
"""Canary benchmark: how fast a bad metric ends a canary, and what one analysis tick costs.

Runs the real minicd binary against a testenv cluster (kube-apiserver, kwok nodes, Prometheus
scraping a Pushgateway every second). Not a test: it asserts no timings, it records them.

  bench/canary/run.py                    # 5 repetitions per interval; prints Markdown tables
  bench/canary/run.py --write-results    # the same, and writes bench/canary/RESULTS.md
  BENCH_REPS=3 BENCH_INTERVALS="2 5" bench/canary/run.py

Abort latency, per repetition: deploy v1 (4 replicas), start `minicd apply` of v2 with one canary
step (25%, pause 10 minutes) gated on `min(metric{pod=~"{{canary_pods}}"}) >= 0.99`; push 1.0 for
the canary's pods until minicd has measured the good value twice, then push 0.5 (t0). Measured: t0
to the moment minicd has deleted the canary and exited (an upper bound of "canary gone"; the canary
Deployment is checked to be gone afterwards). Goal: at most interval + 5 s.

Cost of a tick: a canary of two metrics that is promoted, run with a 10 s and a 30 s pause. Measured:
Prometheus query requests per metric per measurement (Prometheus's own request counter, read from
its /metrics, divided by the measurements minicd reports), and the API requests minicd sent in each
run: the same count for both pauses means the pause costs the API server nothing beyond the watches
opened before it.

Knobs: BENCH_REPS (default 5), BENCH_INTERVALS (seconds, default "2 5"), BENCH_OUT (default
/tmp/bench-canary), MINICD (default build/src/minicd/minicd), BENCH_CLUSTER_ENV (the env file of a
running testenv to use; otherwise one is started in /tmp/bench-canary-cluster and stopped after).
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.environ.get("BENCH_OUT", "/tmp/bench-canary")
REPS = int(os.environ.get("BENCH_REPS", "5"))
INTERVALS = [int(x) for x in os.environ.get("BENCH_INTERVALS", "2 5").split()]
MINICD = os.environ.get("MINICD", os.path.join(REPO, "build", "src", "minicd", "minicd"))
METRIC = "bench_canary_success"


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("export ") and "=" in line:
                key, value = line[len("export "):].split("=", 1)
                env[key] = value
    return env


def run(argv, env, check=True, timeout=900):
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def http(method, url, body=None):
    request = urllib.request.Request(url, data=body.encode() if body is not None else None, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def app_yaml(image, replicas=4):
    return f"""---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: main, image: "{image}"}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080}}]
"""


def analysis_yaml(prometheus, interval, metrics):
    lines = [f'prometheus: {{address: "{prometheus}"}}', f"interval: {interval}s", "noData: inconclusive", "metrics:"]
    for name in metrics:
        lines += [f"  - name: {name}",
                  f"    query: 'min({METRIC}{{namespace=\"{{{{namespace}}}}\",pod=~\"{{{{canary_pods}}}}\"}})'",
                  '    successCondition: ">= 0.99"']
    return "\n".join(lines) + "\n"


class Feeder:
    """Pushes `value` for the namespace's canary pods every 200 ms (pod names read with kubectl)."""

    def __init__(self, env, namespace, value):
        self.env, self.namespace, self.value = env, namespace, value
        self.stop = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        group = f"{self.env['MINICD_TEST_PUSHGATEWAY']}/metrics/job/{self.namespace}"
        pods = []
        while not self.stop:
            if not pods:
                listed = run(["kubectl", "get", "pods", "-n", self.namespace, "-l", "minicd.io/track=canary", "-o",
                              "jsonpath={.items[*].metadata.name}"], self.env, check=False)
                pods = listed.stdout.split()
            if pods:
                body = f"# TYPE {METRIC} gauge\n" + "".join(
                    f'{METRIC}{{pod="{pod}",namespace="{self.namespace}"}} {self.value}\n' for pod in pods)
                http("PUT", group, body)
            time.sleep(0.2)

    def close(self):
        self.stop = True
        self.thread.join()
        try:
            http("DELETE", f"{self.env['MINICD_TEST_PUSHGATEWAY']}/metrics/job/{self.namespace}")
        except Exception:
            pass


def prometheus_queries(env):
    """Prometheus's own count of /api/v1/query requests (read from /metrics, which is not counted there)."""
    total = 0.0
    for line in http("GET", env["MINICD_TEST_PROMETHEUS"] + "/metrics").splitlines():
        if line.startswith("prometheus_http_requests_total{") and 'handler="/api/v1/query"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


class Bench:
    def __init__(self, env_file):
        self.env = dict(os.environ)
        self.env.update(load_env(env_file))
        self.env["XDG_CACHE_HOME"] = os.path.join(OUT, "cache")
        self.counter = 0

    def namespace(self):
        self.counter += 1
        name = f"bench-canary-{os.getpid()}-{self.counter}"
        run(["kubectl", "create", "namespace", name], self.env)
        return name

    def drop(self, namespace):
        run(["kubectl", "delete", "namespace", namespace, "--wait=false"], self.env, check=False)

    def files(self, namespace, name, text):
        path = os.path.join(OUT, namespace, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def apply(self, namespace, version, extra, wait_exit=True):
        folder = os.path.dirname(self.files(namespace, f"v{version}/app.yaml", app_yaml(f"registry.test/web:{version}")))
        argv = [MINICD, "apply", "-f", folder, "-n", namespace, "--app", "bench", "--env", "canary", "--prune",
                "--timeout", "120s", "-o", "json"] + extra
        if wait_exit:
            return run(argv, self.env, check=False)
        return subprocess.Popen(argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def abort_latency(self, interval):
        namespace = self.namespace()
        try:
            run_v1 = self.apply(namespace, 1, [])
            if run_v1.returncode != 0:
                raise RuntimeError(run_v1.stdout + run_v1.stderr)
            analysis = self.files(namespace, "analysis.yaml",
                                  analysis_yaml(self.env["MINICD_TEST_PROMETHEUS"], interval, ["success-rate"]))
            feeder = Feeder(self.env, namespace, 1.0)
            queries = prometheus_queries(self.env)
            process = self.apply(namespace, 2, ["--canary-steps", "25:10m", "--canary-analysis", analysis], wait_exit=False)
            # Good values until minicd has measured them twice (its queries are all Prometheus gets here).
            deadline = time.monotonic() + 120
            while prometheus_queries(self.env) < queries + 2:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("minicd never measured the canary: " + process.communicate()[0])
                time.sleep(0.1)
            feeder.value = 0.5
            t0 = time.monotonic()
            stdout, _ = process.communicate(timeout=600)
            latency = time.monotonic() - t0
            feeder.close()
            report = json.loads(stdout)
            gone = run(["kubectl", "get", "deployment", "web-canary", "-n", namespace], self.env, check=False).returncode != 0
            if process.returncode != 1 or not gone or report.get("canary", {}).get("end") != "aborted":
                raise RuntimeError(f"unexpected end (exit {process.returncode}, canary gone: {gone}): {stdout}")
            return latency
        finally:
            self.drop(namespace)

    def tick_cost(self, pause):
        namespace = self.namespace()
        try:
            run_v1 = self.apply(namespace, 1, [])
            if run_v1.returncode != 0:
                raise RuntimeError(run_v1.stdout + run_v1.stderr)
            analysis = self.files(namespace, "analysis.yaml",
                                  analysis_yaml(self.env["MINICD_TEST_PROMETHEUS"], 2, ["success-rate", "success-rate-2"]))
            feeder = Feeder(self.env, namespace, 1.0)
            before = prometheus_queries(self.env)
            result = self.apply(namespace, 2, ["--canary-steps", f"25:{pause}s", "--canary-analysis", analysis])
            after = prometheus_queries(self.env)
            feeder.close()
            report = json.loads(result.stdout)
            if result.returncode != 0:
                raise RuntimeError(result.stdout + result.stderr)
            measurements = len(report["canary"]["measurements"])
            return {"pause": pause, "requests": report["requests"], "measurements": measurements,
                    "queries": after - before}
        finally:
            self.drop(namespace)


def main():
    write = "--write-results" in sys.argv[1:]
    os.makedirs(OUT, exist_ok=True)
    given = os.environ.get("BENCH_CLUSTER_ENV", "")
    cluster_dir = "/tmp/bench-canary-cluster"
    if not given:
        subprocess.run([os.path.join(REPO, "testenv", "cluster"), "up", "--dir", cluster_dir], check=True)
    try:
        bench = Bench(given or os.path.join(cluster_dir, "env"))
        version = run([MINICD, "--version"], bench.env).stdout.strip()
        latencies = {interval: [bench.abort_latency(interval) for _ in range(REPS)] for interval in INTERVALS}
        costs = [bench.tick_cost(pause) for pause in (10, 30)]
    finally:
        if not given:
            subprocess.run([os.path.join(REPO, "testenv", "cluster"), "down", "--dir", cluster_dir], check=False)

    lines = [f"Run on {time.strftime('%Y-%m-%d')}, {version}, {REPS} repetitions, `bench/canary/run.py`.", "",
             "### Bad metric to canary gone (goal: at most interval + 5 s)", "",
             "| interval | median | max | goal | runs (s) |", "|---|---|---|---|---|"]
    for interval, values in latencies.items():
        runs = ", ".join(f"{value:.1f}" for value in values)
        lines.append(f"| {interval} s | {statistics.median(values):.1f} s | {max(values):.1f} s | {interval + 5} s | {runs} |")
    lines += ["", "### Cost of a tick (two metrics, interval 2 s, promoted)", "",
              "| pause | measurements | Prometheus queries | queries per measurement | minicd API requests (whole run) |",
              "|---|---|---|---|---|"]
    for cost in costs:
        per = cost["queries"] / cost["measurements"] if cost["measurements"] else float("nan")
        lines.append(f"| {cost['pause']} s | {cost['measurements']} | {cost['queries']:.0f} | {per:.2f} | {cost['requests']} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if write:
        with open(os.path.join(HERE, "RESULTS.md"), "w") as f:
            f.write("# Canary benchmark results\n\nWhat the figures mean: the docstring of run.py.\n\n" + text)


if __name__ == "__main__":
    main()
