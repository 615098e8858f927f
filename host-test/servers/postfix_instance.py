#!/usr/bin/env python3
"""Private Postfix (3.7) instance for SMTP client integration tests.

Usage:
    python3 postfix_instance.py start --dir DIR --smtp-port P1 --smtps-port P2 \
        --cert CERT.pem --key KEY.pem --relay-port R [--message-size-limit N] \
        [--myhostname NAME] [--hold] [--connection-limit N]
    python3 postfix_instance.py stop --dir DIR

Must run as root. `start` builds a self-contained instance under DIR:

    DIR/etc      config_directory (main.cf, master.cf)
    DIR/queue    queue_directory
    DIR/data     data_directory (master.lock, TLS caches)
    DIR/maillog  log file (maillog_file, written by the postlog service)

and starts it with `postfix -c DIR/etc start`. The default instance
(/etc/postfix) is never read for configuration, modified or started:
as root, `postfix -c DIR` needs no `alternate_config_directories` entry
(that check only applies to the set-gid postdrop/postqueue commands,
which these tests never use - mail is submitted over SMTP).

Services, all loopback only:
    127.0.0.1:P1  smtpd, STARTTLS offered (smtpd_tls_security_level=may)
    127.0.0.1:P2  smtpd, implicit TLS ("SMTPS", smtpd_tls_wrappermode=yes)
Every accepted message (from 127.0.0.0/8, to any domain) is relayed
without TLS to [127.0.0.1]:R; with --hold it is put in the hold queue
instead and stays there (scripts/bench: the server then does the same
fixed work per message for every client, with no deliveries running
beside the clients it measures).

myhostname is "localhost", the same name aiosmtpd_server.py uses by
default. Postfix's "mail loops back to myself" check (server's EHLO name
equal to myhostname) is only made when the next hop is port 25, so this
works for any relay port R != 25.

Messages are relayed unchanged apart from the prepended Received: header
(local_header_rewrite_clients is empty, so no Date:, Message-ID: or
From: is added and header addresses are not rewritten; no 8bit to
quoted-printable conversion).

Once both ports answer 220, `start` prints exactly one JSON line,
{"master_pid": N, "log": "DIR/maillog"}, and exits 0; the instance keeps
running. `stop` runs `postfix -c DIR/etc stop` and kills the master if
it is still alive 5 s later. Progress and errors go to stderr.
"""

import argparse
import json
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import zlib

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
START_TIMEOUT = 30.0
STOP_GRACE = 5.0


def log(msg):
    print(f"postfix_instance: {msg}", file=sys.stderr, flush=True)


def main_cf(args, d):
    size = args.message_size_limit
    lines = {
        "compatibility_level": "3.6",
        "queue_directory": f"{d}/queue",
        "data_directory": f"{d}/data",
        "maillog_file": f"{d}/maillog",
        "maillog_file_prefixes": d,
        "syslog_name": "postfix-test-%08x" % zlib.crc32(d.encode()),
        "myhostname": args.myhostname,
        "mydomain": "localdomain",
        "myorigin": "$myhostname",
        "mydestination": "",
        "relay_domains": "",
        "mynetworks": "127.0.0.0/8",
        "mynetworks_style": "host",
        "inet_interfaces": "127.0.0.1",
        "inet_protocols": "ipv4",
        "relayhost": f"[127.0.0.1]:{args.relay_port}",
        "smtputf8_enable": "yes",
        "biff": "no",
        "append_dot_mydomain": "no",
        "alias_maps": "",
        "alias_database": "",
        "local_recipient_maps": "",
        "smtpd_banner": "$myhostname ESMTP Postfix",
        # Relay message bytes unchanged: no Date:/From:/Message-ID: added,
        # no header address rewriting, no 8bit -> quoted-printable.
        "local_header_rewrite_clients": "",
        "always_add_missing_headers": "no",
        "disable_mime_output_conversion": "yes",
        "smtpd_peername_lookup": "no",
        "smtpd_relay_restrictions": "permit_mynetworks, reject",
        # Recipients whose local part starts with "refuse" are refused at RCPT
        # (tests of per-recipient refusals); everyone else from loopback is relayed.
        "smtpd_recipient_restrictions": f"check_recipient_access regexp:{d}/etc/recipient_access, permit_mynetworks, reject",
        "smtpd_tls_security_level": "may",
        "smtpd_tls_cert_file": os.path.abspath(args.cert),
        "smtpd_tls_key_file": os.path.abspath(args.key),
        "smtpd_tls_loglevel": "1",
        "smtpd_tls_received_header": "yes",
        "smtp_tls_security_level": "none",
        "smtp_dns_support_level": "disabled",
        "smtp_host_lookup": "native",
        "smtp_address_preference": "ipv4",
        "queue_run_delay": "1s",
        "minimal_backoff_time": "1s",
        "maximal_backoff_time": "10s",
        "smtp_connect_timeout": "5s",
        "smtpd_error_sleep_time": "0",
        "smtpd_soft_error_limit": "1000",
        "smtpd_hard_error_limit": "1000",
        "smtpd_client_connection_rate_limit": "0",
        "anvil_rate_time_unit": "1s",
        "in_flow_delay": "0",
    }
    if args.hold:
        lines["smtpd_end_of_data_restrictions"] = "check_client_access static:HOLD"
    if args.connection_limit:
        # anvil: a client's connection past N at once gets 421 at the greeting
        # (loopback is in mynetworks, exempt by default: no exceptions here).
        lines["smtpd_client_connection_count_limit"] = str(args.connection_limit)
        lines["smtpd_client_event_limit_exceptions"] = ""
    if size is not None:
        lines["message_size_limit"] = str(size)
        # mailbox_size_limit must not be smaller than message_size_limit.
        lines["mailbox_size_limit"] = str(max(size, 51200000)) if size else "0"
    return "".join(f"{k} = {v}\n" for k, v in lines.items())


def master_cf(args):
    p1, p2 = args.smtp_port, args.smtps_port
    # service type private unpriv chroot wakeup maxproc command + args
    return f"""\
127.0.0.1:{p1} inet n - n - - smtpd
127.0.0.1:{p2} inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    # Postfix re-reads a main.cf modified within the last ~2 s until it
    # looks stable (8 x 300 ms sleeps in every postfix/postconf run), so
    # backdate the files; that cuts `start` from ~3 s to well under 1 s.
    past = time.time() - 60
    os.utime(tmp, (past, past))
    os.rename(tmp, path)


def run(cmd, env):
    r = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = r.stdout.decode(errors="replace").strip()
    if out:
        log(f"{' '.join(cmd)}: {out}")
    return r.returncode


def postfix_env(d):
    env = dict(os.environ)
    env["MAIL_CONFIG"] = f"{d}/etc"
    env.pop("MAIL_VERBOSE", None)
    env.pop("MAIL_DEBUG", None)
    return env


def read_master_pid(d):
    try:
        with open(f"{d}/queue/pid/master.pid") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie counts as dead.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def greets(port, implicit_tls):
    """True if 127.0.0.1:port answers with a 220 greeting."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=2)
    except OSError:
        return False
    try:
        sock.settimeout(5)
        if implicit_tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(sock)
        buf = b""
        while b"\n" not in buf:
            chunk = sock.recv(1024)
            if not chunk:
                return False
            buf += chunk
        ok = buf.startswith(b"220")
        try:
            sock.sendall(b"QUIT\r\n")
            sock.recv(1024)
        except OSError:
            pass
        return ok
    except (OSError, ssl.SSLError):
        return False
    finally:
        sock.close()


def cmd_start(args):
    if os.geteuid() != 0:
        sys.exit("postfix_instance: must run as root")
    d = os.path.abspath(args.dir)
    for name in ("etc", "queue", "data"):
        os.makedirs(f"{d}/{name}", exist_ok=True)
    os.chmod(d, 0o755)
    os.chmod(f"{d}/etc", 0o755)
    os.chmod(f"{d}/queue", 0o755)
    pw = pwd.getpwnam("postfix")
    os.chown(f"{d}/data", pw.pw_uid, pw.pw_gid)
    os.chmod(f"{d}/data", 0o700)
    write(f"{d}/etc/main.cf", main_cf(args, d))
    write(f"{d}/etc/master.cf", master_cf(args))
    write(f"{d}/etc/recipient_access", "/^refuse/ 550 5.1.1 refused by the test policy\n")
    # postlogd creates the file itself; pre-create it so readers never race.
    if not os.path.exists(f"{d}/maillog"):
        open(f"{d}/maillog", "a").close()
        os.chmod(f"{d}/maillog", 0o644)

    env = postfix_env(d)
    t0 = time.monotonic()
    if run([POSTFIX, "-c", f"{d}/etc", "check"], env) != 0:
        sys.exit("postfix_instance: postfix check failed")
    old = read_master_pid(d)
    if old is not None and alive(old):
        sys.exit(f"postfix_instance: instance in {d} already running (pid {old})")
    if run([POSTFIX, "-c", f"{d}/etc", "start"], env) != 0:
        sys.exit("postfix_instance: postfix start failed")

    deadline = t0 + START_TIMEOUT
    pending = {args.smtp_port: False, args.smtps_port: True}
    while pending:
        for port, tls in list(pending.items()):
            if greets(port, tls):
                del pending[port]
        if not pending:
            break
        if time.monotonic() > deadline:
            log(f"ports {sorted(pending)} did not answer 220; stopping")
            cmd_stop(args, quiet=True)
            sys.exit(1)
        time.sleep(0.05)
    pid = read_master_pid(d)
    log(f"started in {time.monotonic() - t0:.2f}s, master pid {pid}")
    print(json.dumps({"master_pid": pid, "log": f"{d}/maillog"}), flush=True)


def cmd_stop(args, quiet=False):
    d = os.path.abspath(args.dir)
    pid = read_master_pid(d)
    if os.path.exists(f"{d}/etc/main.cf"):
        run([POSTFIX, "-c", f"{d}/etc", "stop"], postfix_env(d))
    if pid is None:
        return
    deadline = time.monotonic() + STOP_GRACE
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid):
        if not quiet:
            log(f"master {pid} still alive after {STOP_GRACE}s; killing")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("start")
    s.add_argument("--dir", required=True)
    s.add_argument("--smtp-port", type=int, required=True)
    s.add_argument("--smtps-port", type=int, required=True)
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--relay-port", type=int, required=True)
    s.add_argument("--message-size-limit", type=int, default=None)
    s.add_argument("--myhostname", default="localhost")
    s.add_argument("--connection-limit", type=int, default=0,
                   help="at most N connections at once per client; more get 421")
    s.add_argument("--hold", action="store_true",
                   help="keep accepted messages in the hold queue instead of relaying them")
    t = sub.add_parser("stop")
    t.add_argument("--dir", required=True)
    args = p.parse_args()
    if args.command == "start":
        cmd_start(args)
    else:
        cmd_stop(args)


if __name__ == "__main__":
    main()
