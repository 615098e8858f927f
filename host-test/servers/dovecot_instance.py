#!/usr/bin/env python3
"""Private Dovecot 2.3 instance for SMTP client integration tests.

Usage:
    python3 dovecot_instance.py start --dir DIR --submission-port P1 \\
        --lmtp-port P2 --cert CERT.pem --key KEY.pem --relay-port R
    python3 dovecot_instance.py stop --dir DIR

`start` writes a self-contained DIR/dovecot.conf (it does not include
/etc/dovecot/conf.d), starts `dovecot -c DIR/dovecot.conf` (the master
daemonizes and writes DIR/run/master.pid), waits until the submission
port (P1) and the LMTP port (P2) both send a 220 greeting, then prints
exactly one line on stdout, {"master_pid": N, "log": "DIR/dovecot.log"},
and exits 0. On failure it prints the reason (and the tail of the log) on
stderr, stops whatever it started and exits 1.

`stop` sends SIGTERM to the master PID read from DIR/run/master.pid, waits
up to 5 s, then sends SIGKILL. Exit 0 (also when nothing was running).

What the instance does (listens on 127.0.0.1 only):
  * submission (port P1, STARTTLS with the given cert/key): AUTH PLAIN,
    LOGIN, CRAM-MD5 for alice/alice-pw, bob/bob-pw, carol/carol-pw; every
    accepted message is relayed to 127.0.0.1:R (plain SMTP, trusted).
    Note: disable_plaintext_auth = yes, but Dovecot treats a connection
    whose remote IP equals its local IP (127.0.0.1 -> 127.0.0.1) as
    "secured", so AUTH PLAIN LOGIN is advertised before STARTTLS too.
  * LMTP (TCP port P2): delivers to maildir:DIR/mail/<user>. alice and bob
    have a 1 MiB quota; carol has a 1 KiB quota, so a larger message gets
    "552 5.2.2 <carol@localhost> Quota exceeded" after DATA (the quota is
    not checked at RCPT). Unknown users get 550 at RCPT TO. The domain of
    a recipient is ignored (alice@localhost == alice).

Mail processes run as nobody:nogroup (Dovecot refuses root for LMTP), and
the auth process as the "dovecot" user; both must reach files below DIR,
so `start` adds the search (o+x, not read) permission to DIR and to any
of its parent directories that lack it.

Python 3.11 standard library only.
"""

import argparse
import grp
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time

USERS = {
    # user: (password, extra userdb fields)
    "alice": ("alice-pw", ""),
    "bob": ("bob-pw", ""),
    # storage=1 without a unit is 1 KiB in Dovecot 2.3 quota rules.
    "carol": ("carol-pw", "userdb_quota_rule=*:storage=1"),
}

MAIL_USER = "nobody"
MAIL_GROUP = "nogroup"

START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


def log(msg: str) -> None:
    print(f"dovecot_instance: {msg}", file=sys.stderr, flush=True)


def find_dovecot() -> str:
    for candidate in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot"):
        if os.access(candidate, os.X_OK):
            return candidate
    for path in os.environ.get("PATH", "").split(os.pathsep):
        candidate = os.path.join(path, "dovecot")
        if os.access(candidate, os.X_OK):
            return candidate
    raise SystemExit(
        "dovecot_instance: dovecot binary not found (apt-get install "
        "dovecot-core dovecot-lmtpd dovecot-submissiond)"
    )


def quote(value: str) -> str:
    """A double-quoted Dovecot config value."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mail_ids() -> tuple[int, int]:
    try:
        uid = pwd.getpwnam(MAIL_USER).pw_uid
    except KeyError:
        uid = 65534
    try:
        gid = grp.getgrnam(MAIL_GROUP).gr_gid
    except KeyError:
        gid = pwd.getpwuid(uid).pw_gid if uid != 65534 else 65534
    return uid, gid


def ensure_search_permission(path: str) -> None:
    """Let other users (nobody, dovecot) traverse path and its parents."""
    path = os.path.abspath(path)
    while True:
        st = os.stat(path)
        if not st.st_mode & stat.S_IXOTH:
            try:
                os.chmod(path, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
                log(f"added o+x to {path} (needed by Dovecot's unprivileged processes)")
            except OSError as exc:
                raise SystemExit(
                    f"dovecot_instance: {path} is not searchable by other users "
                    f"and chmod failed: {exc}"
                )
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


def write_users(path: str, uid: int, gid: int) -> None:
    lines = []
    for user, (password, extra) in USERS.items():
        # user:password:uid:gid:gecos:home:shell:extra_fields
        # nodelay=yes: answer a failed AUTH at once (with auth_failure_delay
        # = 0 alone, Dovecot 2.3.19 still queues failures for ~0.5 s).
        fields = " ".join(x for x in ("nodelay=yes", extra) if x)
        lines.append(f"{user}:{{PLAIN}}{password}:{uid}:{gid}::::{fields}\n")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(lines)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def config_text(args, d: str) -> str:
    mail_root = os.path.join(d, "mail").replace("%", "%%")
    users = os.path.join(d, "users")
    return f"""# Generated by dovecot_instance.py -- self-contained, no conf.d includes.
base_dir = {quote(os.path.join(d, "run"))}
state_dir = {quote(os.path.join(d, "state"))}
instance_name = {quote("dovecot-test-" + str(args.submission_port))}
log_path = {quote(os.path.join(d, "dovecot.log"))}
info_log_path =
debug_log_path =
listen = 127.0.0.1
protocols = submission lmtp
hostname = localhost
postmaster_address = postmaster@localhost
shutdown_clients = yes

ssl = yes
ssl_cert = <{args.cert}
ssl_key = <{args.key}
ssl_min_protocol = TLSv1.2

auth_mechanisms = plain login cram-md5
auth_failure_delay = 0
disable_plaintext_auth = yes
# alice@localhost (LMTP recipient) and alice (SASL login) are the same user.
auth_username_format = %Ln

passdb {{
  driver = passwd-file
  args = scheme=PLAIN {users}
}}
userdb {{
  driver = passwd-file
  args = {users}
}}

mail_location = {quote("maildir:" + mail_root + "/%u")}
first_valid_uid = 1
first_valid_gid = 1

protocol lmtp {{
  mail_plugins = $mail_plugins quota
}}
lmtp_rcpt_check_quota = no
plugin {{
  quota = maildir:User quota
  quota_rule = *:storage=1M
  quota_grace = 0
}}

submission_relay_host = 127.0.0.1
submission_relay_port = {args.relay_port}
submission_relay_trusted = yes
submission_relay_ssl = no

service submission-login {{
  inet_listener submission {{
    address = 127.0.0.1
    port = {args.submission_port}
  }}
}}
# Dovecot's auth process delays answers to an IP after failed logins (2 s,
# 4 s, ... up to 15 s, kept in anvil; auth_failure_delay does not cover
# it). It silently disables that penalty when it cannot find its anvil
# socket, so the socket is moved away. (login_trusted_networks would also
# do it but makes submission advertise XCLIENT.)
service anvil {{
  unix_listener anvil-auth-penalty {{
    path = anvil-auth-penalty-disabled
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {args.lmtp_port}
  }}
}}
"""


def read_pid(d: str):
    try:
        with open(os.path.join(d, "run", "master.pid"), encoding="ascii") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    """True if pid exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def greeting(port: int, timeout: float = 2.0):
    """The first reply line on 127.0.0.1:port, or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            data = b""
            while b"\n" not in data:
                chunk = s.recv(1024)
                if not chunk:
                    break
                data += chunk
            try:
                s.sendall(b"QUIT\r\n")
            except OSError:
                pass
            return data.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    except OSError:
        return None


def log_tail(path: str, lines: int = 30) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_pid(pid: int, timeout: float = STOP_TIMEOUT) -> None:
    if not alive(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return
        time.sleep(0.05)
    log(f"master {pid} still alive after {timeout} s, sending SIGKILL")
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.05)


def cmd_start(args) -> int:
    d = os.path.abspath(args.dir)
    args.cert = os.path.abspath(args.cert)
    args.key = os.path.abspath(args.key)
    for f in (args.cert, args.key):
        if not os.path.isfile(f):
            raise SystemExit(f"dovecot_instance: no such file: {f}")
    dovecot = find_dovecot()

    old = read_pid(d)
    if old is not None and alive(old):
        raise SystemExit(f"dovecot_instance: a Dovecot (pid {old}) already runs in {d}")

    uid, gid = mail_ids()
    os.makedirs(d, exist_ok=True)
    # Stale sockets from an earlier run confuse the new instance (e.g. the
    # auth process retries a dead anvil socket for ~5 s), so start clean.
    shutil.rmtree(os.path.join(d, "run"), ignore_errors=True)
    for sub in ("run", "state"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    mail = os.path.join(d, "mail")
    os.makedirs(mail, exist_ok=True)
    os.chown(mail, uid, gid)
    os.chmod(mail, 0o700)
    ensure_search_permission(d)
    # sun_path is limited to 108 bytes; the longest socket Dovecot makes is
    # about base_dir + "/token-login/tokenlogin".
    if len(os.path.join(d, "run", "token-login", "tokenlogin")) >= 100:
        log(f"warning: {d} is long; Dovecot's UNIX socket paths may exceed 108 bytes")

    write_users(os.path.join(d, "users"), uid, gid)
    conf = os.path.join(d, "dovecot.conf")
    with open(conf + ".tmp", "w", encoding="utf-8") as f:
        f.write(config_text(args, d))
    os.replace(conf + ".tmp", conf)
    log_path = os.path.join(d, "dovecot.log")

    t0 = time.monotonic()
    # Not pipes: the daemonized master would inherit them and keep them open.
    out_path = os.path.join(d, "dovecot.startup.out")
    with open(out_path, "wb") as out:
        rc = subprocess.call(
            [dovecot, "-c", conf], stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
    if rc != 0:
        with open(out_path, encoding="utf-8", errors="replace") as f:
            log(f"dovecot exited {rc}:\n{f.read()}{log_tail(log_path)}")
        return 1

    deadline = t0 + START_TIMEOUT
    pid = None
    ready = {args.submission_port: False, args.lmtp_port: False}
    while time.monotonic() < deadline:
        if pid is None:
            pid = read_pid(d)
        if pid is not None and not alive(pid):
            log(f"master {pid} died during startup:\n{log_tail(log_path)}")
            return 1
        for port in ready:
            if not ready[port]:
                line = greeting(port)
                ready[port] = bool(line) and line.startswith("220")
        if pid is not None and all(ready.values()):
            break
        time.sleep(0.05)
    else:
        log(f"not ready after {START_TIMEOUT} s (pid {pid}, ports {ready}):\n{log_tail(log_path)}")
        if pid is not None:
            stop_pid(pid)
        return 1

    log(f"ready in {time.monotonic() - t0:.2f} s")
    print(json.dumps({"master_pid": pid, "log": log_path}), flush=True)
    return 0


def cmd_stop(args) -> int:
    d = os.path.abspath(args.dir)
    pid = read_pid(d)
    if pid is None:
        log(f"no master.pid in {os.path.join(d, 'run')}; nothing to stop")
        return 0
    stop_pid(pid)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("start")
    p.add_argument("--dir", required=True)
    p.add_argument("--submission-port", type=int, required=True)
    p.add_argument("--lmtp-port", type=int, required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--relay-port", type=int, required=True)
    p = sub.add_parser("stop")
    p.add_argument("--dir", required=True)
    args = parser.parse_args()
    if args.command == "start":
        return cmd_start(args)
    return cmd_stop(args)


if __name__ == "__main__":
    sys.exit(main())
