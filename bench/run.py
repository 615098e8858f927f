#!/usr/bin/env python3
"""scripts/bench's driver: every client, every case, one run, one table.

Clients: this component through smtp-send (target/release), Python's smtplib
(bench/smtplib_client.py), lettre (bench/lettre-client, target/bench/release) and
Postfix's smtp-source. Servers: Postfix smtp-sink on 127.0.0.1, the same through
bench/delay_proxy.py (1 ms each way), bench/fast_sink.py (for large messages: smtp-sink
runs out of CPU first), and a private Postfix instance
(host-test/servers/postfix_instance.py, CHUNKING and STARTTLS) with its queue on tmpfs
(/dev/shm), so that a per-message fsync to disk is not what every client's rate is
measured against, and started with --hold: it keeps what it accepts in its hold queue.
Relaying it on (to smtp-sink, as until 2026-11-24) ran Postfix's deliveries on the same
2 cores while the clients were measured, at the rate of the client being measured, so
the faster a client, the busier the server it was measured against.
Everything listens on 127.0.0.1 only; every process started here is ended here by PID.

Each client's count is cut down (and the table says so) when a short probe run
predicts the full count would take more than BENCH_BUDGET seconds (default 20); it is
then cut to about half the budget. A run shorter than 2 s is repeated: median of 5
(on 2 shared cores single short runs swing by 30% and more).
Environment: BENCH_BUDGET, BENCH_QUICK=1 (every count / 10, for trying the script),
BENCH_SMTP_SEND (the smtp-send binary to measure). `run.py --wasi-only` runs only the
WASI 0.2 vs 0.3 table (needs only smtp-sink; no root needed).

The WASI 0.2 vs 0.3 table: smtp-send --wasi p2 and --wasi p3 (built with --features p3)
with 50 connections at once, 5,000 messages, against smtp-sink direct and through the 2
ms proxy, and with 100 connections direct: msg/s of the send phase and the peak RSS of
the smtp-send process (its --json peak_rss_bytes, the kernel's VmHWM: wait4's ru_maxrss
would count this Python process's memory at the fork), and the p3/p2 ratios. `--wasi p2`
runs N instances from the pooling allocator on a worker per core; `--wasi p3` runs N
client resources in ONE instance on one thread.

The streaming rows: one message of 100 MiB (BENCH_STREAM_GB=1: 1 GiB; BENCH_QUICK=1: 10
MiB; BENCH_STREAM=0: none), generated here and piped into smtp-send's stdin, sent to
bench/fast_sink.py: the WASI 0.3 build's `--wasi p3 --message-stream -`
(sendmail-stream, 256 KiB pieces) against the WASI 0.2 build's `--message -` (the whole
message read, then sent), both from the same smtp-send (built with --features p3). Each:
process wall, send-phase MB/s (--json elapsed_ms), the process's peak RSS (--json
peak_rss_bytes) and the guest's linear memory peak (--json guest_memory_peak_bytes). The
1 GiB p2 run is not made (it would hold 1 GiB and more).

The per-session rows: `cargo bench -p host-test --bench instantiate` (an instance and
its client per session, on-demand and pooling allocator, and the resident memory per
live instance), and smtp-send's peak RSS at 100 connections at once against 1, per
extra connection, for --wasi p2 (an instance each) and p3 (a client resource each).

For the CHUNKING case it also measures bench/floor_client.py, a raw socket that sends
what the component sends (one write per message) and only waits for the replies: the
rate the round trip and the server allow a client with no cost at all.
"""

import datetime
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from message import message  # noqa: E402

# BENCH_SMTP_SEND: another smtp-send binary (one built with --features p3 elsewhere).
SMTP_SEND = os.environ.get("BENCH_SMTP_SEND") or os.path.join(ROOT, "target", "release", "smtp-send")
LETTRE = os.path.join(ROOT, "target", "bench", "release", "lettre-client")
WASM = os.path.join(ROOT, "target", "component-build", "smtp_component.wasm")
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
POSTFIX_INSTANCE = os.path.join(ROOT, "host-test", "servers", "postfix_instance.py")
VENV_PY = os.path.join(ROOT, ".venv", "bin", "python")
PYTHON = VENV_PY if os.access(VENV_PY, os.X_OK) else (shutil.which("python3") or sys.executable)

BUDGET = float(os.environ.get("BENCH_BUDGET", "20"))
QUICK = os.environ.get("BENCH_QUICK") == "1"
STREAM = os.environ.get("BENCH_STREAM") != "0"
STREAM_GB = os.environ.get("BENCH_STREAM_GB") == "1"
RUN_TIMEOUT = 180  # seconds: no single client run may take longer than this
SHORT_RUNS = 5  # how many runs of a case under 2 s, for their median
FROM = "a@example.com"
CLIENTS = ["component", "smtplib", "lettre", "smtp-source", "aiosmtplib"]
# Clients run as `PROGRAM HOST PORT COUNT SIZE RECIPIENTS [reconnect] [starttls]` that
# print the elapsed seconds last ("floor" is bench/floor_client.py, measured beside the
# CHUNKING case only).
PROGRAMS = {
    "smtplib": [PYTHON, os.path.join(HERE, "smtplib_client.py")],
    "lettre": [LETTRE],
    "floor": [PYTHON, os.path.join(HERE, "floor_client.py")],
}
# Concurrent cases (`connections` N): aiosmtplib_client.py takes N as a last argument.
AIOSMTPLIB = [PYTHON, os.path.join(HERE, "aiosmtplib_client.py")]


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- servers


def free_port():
    """A port nothing listens on (smtp-sink binds with SO_REUSEPORT, so check)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with socket.socket() as c:
            c.settimeout(0.5)
            if c.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no free port found")


def wait_greeting(port, timeout=15.0):
    """Waits until 127.0.0.1:port answers with a 220 greeting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                if s.recv(512).startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"nothing answered 220 on 127.0.0.1:{port}")


class Processes:
    """Every long-running process this run started, ended by PID at the end."""

    def __init__(self):
        self.procs = []

    def start(self, cmd, **kw):
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, **kw)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)


def start_sink(procs):
    port = free_port()
    cmd = [SMTP_SINK]
    if os.geteuid() == 0:
        cmd += ["-u", "nobody"]
    cmd += [f"127.0.0.1:{port}", "1000"]
    procs.start(cmd, stdout=subprocess.DEVNULL)
    wait_greeting(port)
    return port


def start_fast_sink(procs):
    port = free_port()
    p = procs.start([sys.executable, os.path.join(HERE, "fast_sink.py"), str(port)],
                    stdout=subprocess.PIPE, text=True)
    if p.stdout.readline().strip() != "ready":
        raise RuntimeError("fast_sink.py did not start")
    wait_greeting(port)
    return port


def start_proxy(procs, target, delay_ms=1.0):
    port = free_port()
    p = procs.start([sys.executable, os.path.join(HERE, "delay_proxy.py"), str(port), str(target), str(delay_ms)],
                    stdout=subprocess.PIPE, text=True)
    if p.stdout.readline().strip() != "ready":
        raise RuntimeError("delay_proxy.py did not start")
    wait_greeting(port)
    return port


def cpu_idle_fraction(seconds):
    """The share of all CPUs' time that was idle over the next `seconds` (/proc/stat)."""
    def sample():
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, total
    idle0, total0 = sample()
    time.sleep(seconds)
    idle1, total1 = sample()
    return (idle1 - idle0) / max(1, total1 - total0)


def settle(limit=15.0):
    """Waits until the machine is quiet (90% idle over half a second) or `limit` passes:
    `postfix start` goes on working in the background for a few seconds after its
    ports answer, and the first case was measured against that."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if cpu_idle_fraction(0.5) >= 0.9:
            return True
    return False


def measure_rtt(port, n=30):
    """Median NOOP round trip on one connection, in ms."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb")
        f.readline()
        times = []
        for _ in range(n):
            t = time.perf_counter()
            s.sendall(b"NOOP\r\n")
            f.readline()
            times.append((time.perf_counter() - t) * 1000)
        s.sendall(b"QUIT\r\n")
    return statistics.median(times)


class Postfix:
    def __init__(self, tmp, relay_port):
        self.dir = os.path.join(tmp, "postfix")
        self.cert = os.path.join(tmp, "cert.pem")
        self.key = os.path.join(tmp, "key.pem")
        self.relay_port = relay_port
        self.port = None
        self.smtps = None
        self.started = False

    def start(self):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-keyout", self.key, "-out", self.cert],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        self.port, self.smtps = free_port(), free_port()
        smtps = self.smtps
        self.started = True
        r = subprocess.run([sys.executable, POSTFIX_INSTANCE, "start", "--dir", self.dir,
                            "--smtp-port", str(self.port), "--smtps-port", str(smtps),
                            "--cert", self.cert, "--key", self.key, "--relay-port", str(self.relay_port),
                            "--hold"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"postfix_instance.py start failed: {r.stderr.strip()[-500:]}")
        wait_greeting(self.port)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            f = s.makefile("rb")
            f.readline()
            s.sendall(b"EHLO localhost\r\n")
            ehlo = []
            while True:
                line = f.readline()
                ehlo.append(line[4:].decode(errors="replace").split(" ")[0].strip())
                if line[3:4] != b"-":
                    break
            s.sendall(b"QUIT\r\n")
        self.ehlo = " ".join(ehlo[1:])

    def stop(self):
        if self.started:
            subprocess.run([sys.executable, POSTFIX_INSTANCE, "stop", "--dir", self.dir],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)


# ---------------------------------------------------------------- clients


def timed(cmd):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=RUN_TIMEOUT)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise RuntimeError(f"{os.path.basename(cmd[0])} exited {r.returncode}: "
                           f"{(r.stderr or r.stdout).decode(errors='replace').strip()[-300:]}")
    return wall, r.stdout.decode(errors="replace")


def timed_rss(cmd):
    """Runs cmd; returns (wall seconds, stdout, peak RSS in bytes of that process)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        deadline = time.monotonic() + RUN_TIMEOUT
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                break
            if time.monotonic() > deadline:
                p.kill()
                os.wait4(p.pid, 0)
                p.returncode = -9
                raise subprocess.TimeoutExpired(cmd, RUN_TIMEOUT)
            time.sleep(0.005)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        stdout = out.read().decode(errors="replace")
        if p.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{os.path.basename(cmd[0])} exited {p.returncode}: "
                               f"{(err.read().decode(errors='replace') or stdout).strip()[-300:]}")
    # ru_maxrss is in KiB on Linux.
    return wall, stdout, usage.ru_maxrss * 1024


def wasi_run(wasi, port, n, conns, file):
    """One smtp-send --wasi run: (send-phase seconds, wall seconds, peak RSS bytes)."""
    cmd = [SMTP_SEND, "--wasi", wasi, "--server", f"127.0.0.1:{port}", "--from", FROM,
           "--to", "b0@example.com", "--message", file, "--count", str(n),
           "--connections", str(conns), "--json", "--timeout", "60"]
    wall, out, rss = timed_rss(cmd)
    res = json.loads(out)
    if not res.get("ok") or res.get("sent") != n:
        raise RuntimeError(f"smtp-send --wasi {wasi}: {out.strip()[:300]}")
    # The WASI 0.3 rows are about ONE instance holding every session.
    if wasi == "p3" and res.get("instances") != 1:
        raise RuntimeError(f"smtp-send --wasi p3 used {res.get('instances')} instances")
    return res["elapsed_ms"] / 1000.0, wall, res.get("peak_rss_bytes") or rss


def session_table(port, file):
    """The per-session rows: what a session costs the host (see the module doc)."""
    print("Per session: instantiation (cargo bench -p host-test --bench instantiate, WASI 0.2 build), "
          "and host memory per concurrent session (smtp-send's peak RSS at --connections 100 minus "
          "at 1, / 99; smtp-sink, 1 KB x 1,000)")
    try:
        out = subprocess.run(["cargo", "bench", "--quiet", "-p", "host-test", "--bench", "instantiate"],
                             cwd=ROOT, capture_output=True, text=True, timeout=600, check=True).stdout
        for line in out.splitlines():
            if "per session" in line:
                print(f"  {line.strip()}")
    except (subprocess.SubprocessError, OSError) as e:
        print(f"  instantiate bench FAILED: {e}")
    for wasi in ("p2", "p3"):
        try:
            peaks = {c: min(wasi_run(wasi, port, 1000, c, file)[2] for _ in range(3)) for c in (1, 100)}
        except (RuntimeError, subprocess.TimeoutExpired, ValueError, json.JSONDecodeError) as e:
            print(f"  --wasi {wasi}: FAILED: {e}")
            continue
        per = (peaks[100] - peaks[1]) / 99
        print(f"  --wasi {wasi}: peak RSS {peaks[1] / 2**20:.1f} MiB at 1 connection, "
              f"{peaks[100] / 2**20:.1f} MiB at 100: {per / 1024:.0f} KiB per concurrent session")
    print("targets (Connections issue): instantiation <= 100 us with the pooling allocator; "
          "<= 2 MB of host memory per concurrent session")


def wasi_table(ports, files, scale):
    """The WASI 0.2 vs 0.3 rows (see the module doc): printed as they are measured."""
    n = max(50, 5000 // scale)
    cases = [(f"50 conns, 1KBx{n:,}, smtp-sink", "sink", 50), (f"50 conns, 1KBx{n:,}, 2 ms RTT", "proxy", 50),
             (f"100 conns, 1KBx{n:,}, smtp-sink", "sink", 100)]
    print(f"WASI 0.2 vs 0.3 (smtp-send --wasi p2|p3 --connections N --count {n}, 1 KB; "
          f"median of {SHORT_RUNS} runs by send time; RSS: smtp-send's --json peak_rss_bytes)")
    head = ["p2 msg/s", "p2 peak RSS", "p3 msg/s", "p3 peak RSS", "p3/p2 msg/s", "p3/p2 RSS"]
    print(f"{'':<{CASE_W}}" + "".join(f"{h:<14}" for h in head).rstrip())
    for name, server, conns in cases:
        log(f"{name} (--wasi p2, p3)")
        cells = {}
        try:
            for wasi in ("p2", "p3"):
                runs = sorted(wasi_run(wasi, ports[server], n, conns, files[1000]) for _ in range(SHORT_RUNS))
                secs, _, rss = runs[len(runs) // 2]
                cells[wasi] = (n / secs, rss)
        except (RuntimeError, subprocess.TimeoutExpired, ValueError, json.JSONDecodeError) as e:
            print(f"{name:<{CASE_W}}FAILED: {e}")
            continue
        (r2, m2), (r3, m3) = cells["p2"], cells["p3"]
        row = [fmt_rate(r2), f"{m2 / 2**20:.1f} MiB", fmt_rate(r3), f"{m3 / 2**20:.1f} MiB",
               fmt_ratio(r3 / r2), fmt_ratio(m3 / m2)]
        print(f"{name:<{CASE_W}}" + "".join(f"{c:<14}" for c in row).rstrip())
        sys.stdout.flush()
    print("targets (WASI 0.3 issue): p3/p2 msg/s >= 0.9x, p3/p2 RSS <= 0.5x")


def run_client(client, case, port, n, files):
    """Sends n messages; returns (send-phase seconds, process wall seconds)."""
    size, rcpts, reconnect, tls = case["size"], case["rcpts"], case["reconnect"], case.get("starttls", False)
    implicit, conns = case.get("implicit_tls", False), case.get("connections")
    if client == "component":
        cmd = [SMTP_SEND, "--server", f"127.0.0.1:{port}", "--from", FROM, "--message", files[size],
               "--count", str(n), "--json", "--timeout", "60"]
        for i in range(rcpts):
            cmd += ["--to", f"b{i}@example.com"]
        if reconnect:
            cmd.append("--reconnect")
        if tls:
            cmd += ["--starttls", "--unsafe-accept-invalid-certs"]
        if implicit:
            cmd += ["--tls", "--unsafe-accept-invalid-certs"]
        if conns:
            cmd += ["--connections", str(conns)]
        wall, out = timed(cmd)
        res = json.loads(out)
        if not res.get("ok") or res.get("sent") != n:
            raise RuntimeError(f"smtp-send: {out.strip()[:300]}")
        return res["elapsed_ms"] / 1000.0, wall
    if client in PROGRAMS:
        cmd = PROGRAMS[client] + ["127.0.0.1", str(port), str(n), str(size), str(rcpts)]
        if reconnect:
            cmd.append("reconnect")
        if tls:
            cmd.append("starttls")
        if implicit:
            cmd.append("tls")
        wall, out = timed(cmd)
        return float(out.strip().splitlines()[-1]), wall
    if client == "aiosmtplib":
        wall, out = timed(AIOSMTPLIB + ["127.0.0.1", str(port), str(n), str(size), str(rcpts), str(conns)])
        return float(out.strip().splitlines()[-1]), wall
    if client == "smtp-source":
        # -F: the same message (LF line ends; smtp-source sends CRLF); -d: one session for
        # all the messages (without it, one session per message).
        cmd = [SMTP_SOURCE, "-4", "-s", str(conns or 1), "-m", str(n), "-r", str(rcpts), "-f", FROM,
               "-t", "b@example.com", "-M", "localhost", "-F", files[("lf", size)]]
        if not reconnect:
            cmd.append("-d")
        cmd.append(f"127.0.0.1:{port}")
        wall, _ = timed(cmd)
        return wall, wall
    raise ValueError(client)


def supports(client, case):
    if case.get("connections"):
        if client in ("smtplib", "lettre"):
            return "n/a (one at a time)"
        return None
    if client == "aiosmtplib":
        return "n/a"
    if (case.get("starttls") or case.get("implicit_tls")) and client in ("lettre", "smtp-source"):
        return "n/a (no TLS)" if client == "smtp-source" else "n/a (built w/o TLS)"
    return None


def measure(client, case, port, files):
    """Runs the full count, or fewer when a probe says it would exceed BUDGET."""
    full = case["count"]
    probe_n = max(3, full // 50)
    secs, wall = run_client(client, case, port, probe_n, files)
    projected = secs * full / probe_n
    n = full
    if projected > BUDGET:
        n = max(probe_n, int(full * BUDGET / projected / 2))  # aim at half the budget
        if n <= probe_n:
            return dict(n=probe_n, secs=secs, wall=wall, scaled=True)
    # Short runs are noisy: take the median of SHORT_RUNS (by send time) when a run is under 2 s.
    runs = [run_client(client, case, port, n, files)]
    if runs[0][0] < 2.0:
        runs += [run_client(client, case, port, n, files) for _ in range(SHORT_RUNS - 1)]
    secs, wall = sorted(runs)[len(runs) // 2]
    return dict(n=n, secs=secs, wall=wall, scaled=n < full, runs=len(runs))


# ---------------------------------------------------------------- report


CASE_W, CELL_W = 34, 23


def fmt_ratio(x):
    return f"{x:.0f}x" if x >= 100 else f"{x:.1f}x" if x >= 10 else f"{x:.2f}x"


def fmt_rate(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}" if x >= 10 else f"{x:,.2f}"


def wasi_only():
    """`run.py --wasi-only`: the WASI 0.2 vs 0.3 table alone, against smtp-sink."""
    print(f"measured on {os.cpu_count()}-core machine, {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    if not os.path.exists(SMTP_SEND):
        sys.exit(f"bench: missing {SMTP_SEND}")
    procs = Processes()
    tmp = tempfile.mkdtemp(prefix="smtp-bench-")
    try:
        files = {1000: os.path.join(tmp, "m1000.eml")}
        with open(files[1000], "wb") as f:
            f.write(message(1000))
        sink = start_sink(procs)
        ports = {"sink": sink, "proxy": start_proxy(procs, sink)}
        settle()
        wasi_table(ports, files, 10 if QUICK else 1)
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- streaming


def write_message(pipe, size):
    """Writes bench/message.py's message of `size` bytes to `pipe` in 1 MiB blocks,
    made as it goes (never held whole)."""
    from message import HEADER, LINE
    block = LINE * ((1 << 20) // len(LINE))
    pipe.write(HEADER)
    left = size - len(HEADER)
    while left > len(block):
        pipe.write(block)
        left -= len(block)
    pipe.write((LINE * (left // len(LINE) + 1))[: left - 2] + b"\r\n")


def stream_run(cmd, size):
    """Runs `cmd` with the message piped into its stdin; returns (wall seconds, the
    --json object, peak RSS in KiB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, stderr=err)
        # Ends our own child by its PID if it hangs.
        watchdog = threading.Timer(RUN_TIMEOUT, p.kill)
        watchdog.start()
        try:
            try:
                write_message(p.stdin, size)
                p.stdin.close()
            except BrokenPipeError:
                pass
            _, status, usage = os.wait4(p.pid, 0)
        finally:
            watchdog.cancel()
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if p.returncode != 0:
        raise RuntimeError(f"smtp-send exited {p.returncode}: {(stderr or stdout).strip()[-300:]}")
    return wall, json.loads(stdout), usage.ru_maxrss


def stream_rows(port):
    """The streaming rows (see the module doc), against fast_sink.py on `port`."""
    if not STREAM:
        return
    mib = 1 << 20
    size = 1024 * mib if STREAM_GB else (10 * mib if QUICK else 100 * mib)
    base = [SMTP_SEND, "--server", f"127.0.0.1:{port}", "--from", FROM, "--to", "b@example.com", "--json"]
    runs = [("p3 --message-stream -", base + ["--wasi", "p3", "--message-stream", "-"])]
    if not STREAM_GB:
        runs.append(("p2 --message -", base + ["--wasi", "p2", "--message", "-"]))
    print()
    print(f"one {size / mib:,.0f} MiB message piped into smtp-send, to fast_sink.py:")
    print(f"{'':<24}{'wall s':>8}{'MB/s':>9}{'peak RSS KiB':>14}{'guest peak B':>14}")
    for name, cmd in runs:
        log(f"streaming: {name}")
        try:
            wall, out, rss = stream_run(cmd, size)
        except (RuntimeError, ValueError, json.JSONDecodeError) as e:
            print(f"{name:<24}FAILED: {e}")
            continue
        rate = size / (out["elapsed_ms"] / 1000) / 1e6
        peak = out.get("guest_memory_peak_bytes", 0)
        rss = out.get("peak_rss_bytes", rss * 1024) // 1024
        print(f"{name:<24}{wall:>8.2f}{rate:>9.1f}{rss:>14,}{peak:>14,}")
        sys.stdout.flush()


def main():
    if "--wasi-only" in sys.argv[1:]:
        return wasi_only()
    nproc = os.cpu_count()
    print(f"measured on {nproc}-core machine, {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    for path in (SMTP_SEND, LETTRE, SMTP_SINK, SMTP_SOURCE, WASM):
        if not os.path.exists(path):
            sys.exit(f"bench: missing {path} (run scripts/bench, which builds it)")

    scale = 10 if QUICK else 1
    kb, mb = 1000, 1000 * 1000
    cases = [
        dict(name="1 KB x 5,000, 1 connection", size=kb, count=5000, rcpts=1, reconnect=False, server="sink"),
        dict(name="1 KB x 500, 1 conn, 2 ms RTT", size=kb, count=500, rcpts=1, reconnect=False, server="proxy"),
        dict(name="1 MB x 100, 1 connection", size=mb, count=100, rcpts=1, reconnect=False, server="sink"),
        dict(name="10 MB x 5, 1 connection", size=10 * mb, count=5, rcpts=1, reconnect=False, server="sink"),
        dict(name="10 MB x 5, fast_sink.py", size=10 * mb, count=5, rcpts=1, reconnect=False, server="fast"),
        dict(name="1 KB to 100 rcpts x 500", size=kb, count=500, rcpts=100, reconnect=False, server="sink"),
        dict(name="1 KB x 1,000, new conn each", size=kb, count=1000, rcpts=1, reconnect=True, server="sink"),
        dict(name="Postfix CHUNKING 1KBx500, 2ms RTT", size=kb, count=500, rcpts=1, reconnect=False,
             server="postfix-proxy", floor=True),
        dict(name="Postfix STARTTLS 1KB, 1,000 conns", size=kb, count=1000, rcpts=1,
             reconnect=True, server="postfix", starttls=True),
        dict(name="Postfix impl. TLS 1KB, 1,000 conns", size=kb, count=1000, rcpts=1,
             reconnect=True, server="postfix-smtps", implicit_tls=True),
        dict(name="20 conns at once, 2 ms RTT, 1KBx2k", size=kb, count=2000, rcpts=1,
             reconnect=False, server="proxy", connections=20),
        dict(name="100 conns at once, 2 ms RTT, 1KBx2k", size=kb, count=2000, rcpts=1,
             reconnect=False, server="proxy", connections=100),
    ]
    for c in cases:
        c["count"] = max(5, c["count"] // scale) if c["count"] > 5 else c["count"]

    procs = Processes()
    # tmpfs when there is one: the private Postfix's queue lives here.
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    tmp = tempfile.mkdtemp(prefix="smtp-bench-", dir=shm)
    postfix = None
    try:
        files = {}
        for size in sorted({c["size"] for c in cases}):
            m = message(size)
            files[size] = os.path.join(tmp, f"m{size}.eml")
            files[("lf", size)] = os.path.join(tmp, f"m{size}.lf")
            with open(files[size], "wb") as f:
                f.write(m)
            with open(files[("lf", size)], "wb") as f:
                f.write(m.replace(b"\r\n", b"\n"))
        os.chmod(tmp, 0o755)

        sink = start_sink(procs)
        proxy = start_proxy(procs, sink)
        fast = start_fast_sink(procs)
        postfix = Postfix(tmp, sink)
        postfix.start()
        postfix_proxy = start_proxy(procs, postfix.port)
        ports = {"sink": sink, "proxy": proxy, "fast": fast, "postfix": postfix.port,
                 "postfix-smtps": postfix.smtps, "postfix-proxy": postfix_proxy}
        if not settle():
            log("the machine did not get quiet (90% idle) within 15 s; measuring anyway")
        rtt_direct, rtt_proxy = measure_rtt(sink), measure_rtt(proxy)
        print(f"smtp-sink 127.0.0.1:{sink}; NOOP round trip {rtt_direct:.3f} ms direct, "
              f"{rtt_proxy:.3f} ms through the 1 ms/direction proxy")
        print(f"Postfix 127.0.0.1:{postfix.port} (hold queue, no relaying; queue in {tmp}) EHLO: {postfix.ehlo}")
        print("cell: msg/s, MB/s (10^6 B) of the send phase, connect..QUIT (smtp-send: --json elapsed_ms; "
              "smtplib, lettre: timed inside;\n      smtp-source: process wall), then component msg/s / that "
              f"client's msg/s; median of {SHORT_RUNS} runs when a run takes < 2 s")

        overheads, footnotes, floors = [], [], []
        print(f"{'':<{CASE_W}}" + "".join(f"{c:<{CELL_W}}" for c in CLIENTS).rstrip())
        for case in cases:
            port = ports[case["server"]]
            log(case["name"])
            results = {}
            for client in CLIENTS:
                why = supports(client, case)
                if why:
                    results[client] = dict(skip=why)
                    continue
                log(f"  {client}")
                try:
                    results[client] = measure(client, case, port, files)
                except (RuntimeError, subprocess.TimeoutExpired, ValueError, json.JSONDecodeError) as e:
                    results[client] = dict(skip="FAILED")
                    footnotes.append(f"{client} failed in '{case['name']}': {e}")
            comp = results.get("component", {})
            comp_rate = comp["n"] / comp["secs"] if "n" in comp else None
            if comp_rate is not None:
                overheads.append(comp["wall"] - comp["secs"])
            cells = []
            for client in CLIENTS:
                r = results[client]
                if "skip" in r:
                    cells.append(f"{r['skip']:<{CELL_W}}")
                    continue
                rate = r["n"] / r["secs"]
                cell = f"{fmt_rate(rate):>7} {rate * case['size'] / mb:>6.2f}"
                if client != "component" and comp_rate is not None:
                    cell += f" {fmt_ratio(comp_rate / rate):>6}"
                if r["scaled"]:
                    cell += "*"
                    footnotes.append(f"* {client} in '{case['name']}': {r['n']:,} of {case['count']:,} messages "
                                     f"({r['secs']:.1f} s)")
                cells.append(f"{cell:<{CELL_W}}")
            print(f"{case['name']:<{CASE_W}}" + "".join(cells).rstrip())
            sys.stdout.flush()
            if case.get("floor") and comp_rate is not None and "n" in results.get("smtplib", {}):
                log("  one-round-trip floor")
                floor = measure("floor", case, port, files)
                floor_rate = floor["n"] / floor["secs"]
                smtplib_rate = results["smtplib"]["n"] / results["smtplib"]["secs"]
                floors.append(f"one-round-trip floor in '{case['name']}' (bench/floor_client.py: one write, one "
                              f"read, nothing else): {fmt_rate(floor_rate)} msg/s = "
                              f"{fmt_ratio(floor_rate / smtplib_rate)} smtplib; the component gets "
                              f"{comp_rate / floor_rate:.0%} of it")
        for note in footnotes + floors:
            print(note)

        print()
        wasi_table(ports, files, scale)

        print()
        session_table(ports["sink"], files[1000])

        print()
        size = os.path.getsize(WASM)
        colds, demo_sends = [], []
        for _ in range(5):
            wall, out = timed([SMTP_SEND, "--json"])
            colds.append(wall)
            demo_sends.append(json.loads(out)["elapsed_ms"] / 1000)
        print(f"component: {size:,} bytes ({size / 1024 / 1024:.2f} MiB) {os.path.relpath(WASM, ROOT)}")
        starts = [w - e for w, e in zip(colds, demo_sends)]
        print(f"smtp-send demo run (--json, one message to its in-process server), median of 5: "
              f"wall {statistics.median(colds) * 1000:.1f} ms = send phase "
              f"{statistics.median(demo_sends) * 1000:.1f} ms + start-up/load .cwasm/exit "
              f"{statistics.median(starts) * 1000:.1f} ms")
        stream_rows(fast)
        if overheads:
            print(f"smtp-send process overhead (wall - elapsed_ms) over the runs above: median "
                  f"{statistics.median(overheads) * 1000:.1f} ms (min {min(overheads) * 1000:.1f}, "
                  f"max {max(overheads) * 1000:.1f})")
    finally:
        if postfix is not None:
            postfix.stop()
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
