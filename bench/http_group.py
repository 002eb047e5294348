"""CPU an http check costs, alone and in a group measured side by side (infra/check_groups.py).

A group runs its checks in threads of one 128 MB checker function, which Lambda gives about 0.072
of a vCPU (CPU is proportional to memory; 1,769 MB is one vCPU). What a check spends on the CPU
(TLS handshake with certificate verification, the request, reading and parsing the JSON answer)
is then stretched about 14 times, and checks measured at once share it: the last of a group may
read as slower (LatencyMs) by the group's whole CPU time at that share. This prints the CPU time
per check of the real checker (`vigil.checkers.http.handler`, a group event) against an HTTPS
server in another process (an ECDSA P-256 certificate, verified), on this machine, and that stretch. Prints figures only; never pass/fail.

    .venv/bin/python bench/http_group.py [--sizes 1 3 10] [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambdas")]

from tests.support.tls import loopback_certificate  # noqa: E402

VCPU_AT_128_MB = 128 / 1769

SERVER = """
import http.server, json, ssl, sys
class Health(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = json.dumps({"status": "up", "checks": [{"name": "db", "state": "ok"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 64  # socketserver's 5 would drop a group's simultaneous SYNs (1 s retransmit)
server = Server(("127.0.0.1", 0), Health)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def group_event(port: int, size: int) -> dict:
    from vigil.spec.http import HttpCheck

    def spec(n: int) -> dict:
        raw = {"id": f"bench-{n}", "kind": "http", "service": "bench", "severity": "warning"}
        url = f"https://127.0.0.1:{port}/health"
        check = {
            **raw,
            "url": url,
            "allow_private": True,
            "group": "bench",
            "json_assert": {"path": "status", "equals": "up"},
        }
        return HttpCheck.model_validate(check).model_dump(mode="json")

    return {"checks": [{"check": spec(n), "secrets": {}} for n in range(size)]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 3, 10])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        certificate = loopback_certificate(Path(tmp))
        # The checker verifies certificates against the default store; this certificate is the store here.
        os.environ["SSL_CERT_FILE"] = str(certificate.cert_file)
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(certificate.cert_file), str(certificate.key_file)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            port = int(server.stdout.readline())  # type: ignore[union-attr]
            return _measure(port, args.sizes, args.runs)
        finally:
            server.terminate()
            server.wait()


def _measure(port: int, sizes: list[int], runs: int) -> int:
    import contextlib
    import io

    from vigil.checkers import http

    print(f"python {sys.version.split()[0]}, {runs} runs per size, HTTPS on loopback (server in its own process)")
    print(f"at 128 MB Lambda gives about {VCPU_AT_128_MB:.3f} vCPU: CPU time is stretched {1 / VCPU_AT_128_MB:.0f}x\n")
    print(
        "| checks in the group | CPU ms per check | wall ms per group run here | CPU ms per group run | at 128 MB: the group's CPU stretched (ms) |"
    )
    print("| ---: | ---: | ---: | ---: | ---: |")
    for size in sizes:
        event = group_event(port, size)
        with contextlib.redirect_stdout(io.StringIO()):
            http.handler(event, None)  # warm: the TLS context and the imports, as in a warm container
        cpu, wall = [], []
        for _ in range(runs):
            with contextlib.redirect_stdout(io.StringIO()) as printed:
                c0, w0 = time.process_time(), time.perf_counter()
                result = http.handler(event, None)
                cpu.append(time.process_time() - c0)
                wall.append(time.perf_counter() - w0)
            healthy = [r for r in result["checks"] if r["values"].get("Healthy") == 1]
            if len(healthy) != size:
                print(f"a run was not healthy: {result}\n{printed.getvalue()}", file=sys.stderr)
                return 1
        group_cpu = statistics.median(cpu) * 1000
        print(
            f"| {size} | {group_cpu / size:.2f} | {statistics.median(wall) * 1000:.1f} | {group_cpu:.1f} "
            f"| {group_cpu / VCPU_AT_128_MB:.0f} |"
        )
    print(f"\n.venv/bin/python bench/http_group.py --sizes {' '.join(map(str, sizes))} --runs {runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
