"""The command server (``[daemon].command_socket``, ``rnmail serve-commands``): a command it
runs answers exactly as the program run here would (output, errors, exit status, standard
input, working folder, environment, terminal, Ctrl-C), only another user's connection is
taken and only the same user's server is trusted, nothing runs twice when the server
declines or goes away, and ``rnmail run`` keeps one running."""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rnmail.commandserver import code_fingerprint, encode, peer_uid
from rnmail.commandserver.client import served_command
from rnmail.commandserver.server import ALREADY_SERVED, STALE, CommandServer
from tests.harness.daemon import Daemon
from tests.harness.install import Installation, Ran, install
from tests.harness.statuspage import EXTRA, PASSWORD
from tests.harness.terminal import PROGRAM, in_terminal
from tests.harness.wait import until

pytestmark = pytest.mark.slow  # starts servers and processes
ROOT = Path(__file__).resolve().parent.parent
HERE = "from cli.main import main; main(prog_name='rnmail')"
NOBODY = 65534
# Acting as another user, or in another mount namespace, needs root: CI runs as root, so
# there these tests always run (and fail if they cannot); a developer's own run skips them.
as_root = pytest.mark.skipif(os.geteuid() != 0 and not os.environ.get("CI"),
                             reason="acting as another user needs root")


def program(site: Installation, *args: str, input: str | None = None,
            env: dict[str, str] | None = None, cwd: Path = ROOT) -> Ran:
    """``rnmail ARGS`` as agents run it: the console script, in a new process."""
    done = subprocess.run([sys.executable, "-c", PROGRAM, *args], cwd=cwd, input=input,
                          env={**os.environ, "RNMAIL_CONFIG": str(site.path), **(env or {})},
                          capture_output=True, text=True, timeout=60)
    return Ran(done.returncode, done.stdout, done.stderr)


def here(site: Installation, *args: str) -> Ran:
    """``rnmail ARGS`` run here whatever the config says (``cli.main``, not the program)."""
    done = subprocess.run([sys.executable, "-c", HERE, "--config", str(site.path), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    return Ran(done.returncode, done.stdout, done.stderr)


class Server:
    """``rnmail serve-commands`` as a subprocess, logging at debug level to a file; ``hiding``:
    in a mount namespace of its own where an empty tmpfs covers that folder, as systemd's
    ``PrivateTmp`` and ``ProtectHome`` do to the daemon."""

    def __init__(self, site: Installation, log: Path, hiding: Path | None = None) -> None:
        self.site, self.log = site, log
        argv = [sys.executable, "-c", PROGRAM, "--config", str(site.path), "-vv", "serve-commands"]
        if hiding is not None:
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                    f'mount -t tmpfs none "{hiding}" && exec "$@"', "sh", *argv]
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=log.open("w"))
        until(lambda: "command server on" in self.text() or self.proc.poll() is not None,
              what="the command server")
        assert self.proc.poll() is None, self.text()

    def text(self) -> str:
        return self.log.read_text()

    def ran(self) -> list[str]:
        """The commands it ran (their words), in order."""
        return [line.split("command server: ", 1)[1].rsplit(" in pid ", 1)[0]
                for line in self.text().splitlines() if " in pid " in line]

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(timeout=30)


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    """A short folder for sockets (a Unix socket path has at most 107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="rncs-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def site(tmp_path: Path, db_url: str, socket_dir: Path) -> Iterator[Installation]:
    """An installation with a ticket, a status page, an operator and a command socket."""
    site = install(tmp_path, db_url, operator=("alice", PASSWORD),
                   extra=EXTRA + f'\n[daemon]\ncommand_socket = "{socket_dir}/commands.sock"\n'
                   "poll_seconds = 1\n")
    site.ok("ticket", "new", "--channel", "phone", "--phone", "+3225112233",
            "--subject", "Carte d'identité perdue", "--note", "Rappeler demain.")
    yield site
    site.close()


@pytest.fixture
def server(site: Installation, tmp_path: Path) -> Iterator[Server]:
    server = Server(site, tmp_path / "server.log")
    yield server
    if server.proc.poll() is None:
        server.proc.kill()
        server.proc.wait()


LOOKS = [("ticket", "show", "1"), ("ticket", "show", "#1", "--json"), ("ticket", "list", "--json"),
         ("status", "show", "--json"), ("ticket", "show", "999"), ("ticket", "list", "--bogus"),
         ("ticket", "--help")]


def untimed(out: str) -> str:
    """Without the line that says when the output was made."""
    return "\n".join(line for line in out.splitlines() if '"generated_at"' not in line)


def test_a_served_command_answers_as_the_program_here(site: Installation, server: Server) -> None:
    codes = []
    for args in LOOKS:
        served, local = program(site, *args), here(site, *args)
        assert (served.code, untimed(served.out), served.err) == (
            local.code, untimed(local.out), local.err), args
        codes.append(served.code)
    assert codes == [0, 0, 0, 0, 1, 2, 0]
    assert server.ran() == ["ticket show", "ticket show", "ticket list", "status show",
                            "ticket show", "ticket list", "ticket"]
    # The log names the commands' words, never their arguments nor what they showed (a
    # ticket's subject). Its times and pids left out: "…,999 INFO", "pid 999", "pid 16999".
    logged = re.sub(r"^\S+ [\d:,]+ |\bpid \d+", "", server.text(), flags=re.MULTILINE)
    assert "Carte" not in logged
    assert not re.search(r"(?<![\w#-])(999|#1|--bogus|--json)(?![\w-])", logged), logged
    assert server.stop() == 0
    assert not site.config.daemon.command_socket.exists()  # type: ignore[union-attr]
    assert program(site, "ticket", "show", "1").out == site.ok("ticket", "show", "1")


def test_stdin_working_folder_and_environment_are_the_callers(site: Installation,
                                                              server: Server) -> None:
    text = "Bonjour {{ requester.name }},\nvotre carte est prête.\n"
    added = program(site, "text", "add", "ready", "--lang", "fr", "--file", "-", input=text)
    assert added.code == 0 and added.out == "text module ready [fr] added\n", added
    assert "votre carte est prête." in site.ok("text", "show", "ready")
    # --config relative to the caller's folder; the author from the caller's environment
    relative = program(site, "--config", "rnmail.toml", "text", "edit", "ready", "--lang", "fr",
                       "--file", "-", input="Bonjour.\n", cwd=site.root,
                       env={"RNMAIL_CONFIG": "/nonexistent.toml", "USER": "agent.peeters",
                            "LOGNAME": "agent.peeters"})
    assert relative.code == 0, relative
    assert "by agent.peeters" in site.ok("text", "show", "ready")
    assert server.ran() == ["text add", "text edit"]


def test_a_password_prompt_reads_the_callers_terminal_without_echo(site: Installation,
                                                                   server: Server) -> None:
    code, shown = in_terminal(site.path, "status", "set", "degraded", "--operator", "alice",
                              "--comment", "Lenteur", answers=[("Password: ", PASSWORD + "\n")],
                              program=PROGRAM)
    assert code == 0, shown
    assert "Password: " in shown and PASSWORD not in shown
    assert site.json("status", "show")["overall"] == "degraded"
    assert server.ran() == ["status set"]


@as_root
def test_a_sandboxed_server_runs_only_what_surely_sees_the_same_files(
        site: Installation, tmp_path: Path) -> None:
    """The daemon under systemd has its own /tmp and no /home. A command from a folder the
    server does not see, or naming a path, runs here, where the caller's files are (what it
    reads and what it writes: relative or absolute); one from a folder both see, naming no
    path, runs there."""
    hidden = tmp_path / "agent-home"
    hidden.mkdir()
    server = Server(site, tmp_path / "server.log", hiding=hidden)
    try:
        out = hidden / "export.csv"
        exported = program(site, "directory", "export", "--out", str(out))
        assert exported.code == 0 and out.exists(), exported
        for cwd in (hidden, site.root):
            relative = program(site, "directory", "export", "--out", f"again-{cwd.name}.csv",
                               cwd=cwd)
            assert relative.code == 0 and (cwd / f"again-{cwd.name}.csv").exists(), relative
        looked = program(site, "ticket", "show", "1", cwd=hidden)
        assert looked.out == site.ok("ticket", "show", "1")
        assert program(site, "--config", "../rnmail.toml", "ticket", "show", "1",
                       cwd=hidden).out == looked.out
        assert server.ran() == ["directory export"]  # only from the folder both see, by name
        assert program(site, "ticket", "show", "1", cwd=site.root).out == looked.out
        assert server.ran() == ["directory export", "ticket show"]
    finally:
        server.stop()


def test_a_second_server_leaves_the_socket_to_the_first(site: Installation, server: Server,
                                                        tmp_path: Path) -> None:
    second = subprocess.run([sys.executable, "-c", PROGRAM, "--config", str(site.path),
                             "serve-commands"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert second.returncode == ALREADY_SERVED
    assert "another command server answers there: leaving it to that one" in second.stderr
    assert program(site, "ticket", "show", "1").code == 0
    assert server.ran() == ["ticket show"]


def started_command(site: Installation, server: Server) -> tuple[subprocess.Popen[str], int]:
    """``text add`` waiting on its standard input (kept open), and the pid running it."""
    client = subprocess.Popen([sys.executable, "-c", PROGRAM, "text", "add", "waiting", "--lang",
                               "fr", "--file", "-"], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "RNMAIL_CONFIG": str(site.path)})
    line = until(lambda: next((line for line in server.text().splitlines()
                               if "text add in pid" in line), None), what="the command")
    pid = int(line.rsplit(" ", 1)[1])
    until(lambda: "pipe_read" in Path(f"/proc/{pid}/wchan").read_text(),
          what="the command to read its standard input")  # past ``go``: it runs
    return client, pid


def test_ctrl_c_reaches_the_served_command(site: Installation, server: Server) -> None:
    client, pid = started_command(site, server)
    client.send_signal(signal.SIGINT)
    client.wait(timeout=30)  # its input still open: the Ctrl-C, not an end of input, ends it
    out, err = client.communicate(timeout=30)
    assert client.returncode == 1 and "Aborted!" in err, (out, err)
    until(lambda: f"pid {pid} ended" in server.text(), what="the command's end")
    assert "Traceback" not in err
    assert site.run("text", "show", "waiting").code == 1  # nothing added


def test_a_caller_that_dies_hangs_up_its_command(site: Installation, server: Server) -> None:
    client, pid = started_command(site, server)
    client.kill()
    client.wait()
    until(lambda: f"pid {pid} ended, killed by SIGHUP" in server.text(), what="the hang-up")
    assert not Path(f"/proc/{pid}").exists()
    assert site.run("text", "show", "waiting").code == 1
    assert program(site, "ticket", "show", "1").code == 0  # the server goes on


def test_no_server_or_a_dead_one_leaves_the_command_here(site: Installation) -> None:
    path = site.config.daemon.command_socket
    assert path is not None
    assert program(site, "ticket", "show", "1").out == site.ok("ticket", "show", "1")
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))  # a socket file nobody listens on: a server killed by -9
    dead.close()
    assert program(site, "ticket", "show", "1").out == site.ok("ticket", "show", "1")


def fake_server(path: Path, reply: bytes | None, received: Any, uid: int | None = None) -> None:
    """Accept one connection, keep what it sends, answer ``reply`` (or hang up)."""
    if uid is not None:
        os.setgid(uid)
        os.setuid(uid)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    os.chmod(path, 0o666)
    listener.listen(1)
    received.put("listening")
    conn, _ = listener.accept()
    conn.settimeout(5)
    data = b""
    try:
        while b"\n" not in data:
            chunk, fds, _, _ = socket.recv_fds(conn, 65536, 3)
            for fd in fds:
                os.close(fd)
            if not chunk:
                break
            data += chunk
        if reply is not None:
            conn.sendall(reply)
    except OSError:
        pass
    received.put(data)
    conn.close()


def with_fake_server(site: Installation, reply: bytes | None, uid: int | None = None,
                     folder: Path | None = None) -> tuple[Ran, bytes]:
    path = site.config.daemon.command_socket
    assert path is not None
    if folder is not None:
        path = folder / "commands.sock"
        site.path.write_text(site.path.read_text().replace(
            str(site.config.daemon.command_socket), str(path)))
    context = multiprocessing.get_context("fork")
    received = context.Queue()
    fake = context.Process(target=fake_server, args=(path, reply, received, uid))
    fake.start()
    assert received.get(timeout=30) == "listening"
    ran = program(site, "ticket", "show", "1")
    data = received.get(timeout=30)
    fake.join(timeout=30)
    return ran, data


@pytest.mark.parametrize("reply", [encode({"refused": "stale"}), encode({"refused": "other"}),
                                   b"not a message\n", None])
def test_a_server_that_declines_or_hangs_up_leaves_the_command_here(
        site: Installation, reply: bytes | None) -> None:
    ran, data = with_fake_server(site, reply)
    assert (ran.code, ran.out) == (0, site.ok("ticket", "show", "1")), ran
    assert b'"argv"' in data  # it was asked, declined, and the command ran once, here


@as_root
def test_another_users_socket_gets_neither_environment_nor_terminal(
        site: Installation, socket_dir: Path) -> None:
    socket_dir.chmod(0o755)
    open_folder = socket_dir / "open"
    open_folder.mkdir(mode=0o777)
    open_folder.chmod(0o777)
    ran, data = with_fake_server(site, encode({"pid": 1}), uid=NOBODY, folder=open_folder)
    assert data == b""  # not one byte: no environment, no descriptors
    assert (ran.code, ran.out) == (0, site.ok("ticket", "show", "1"))
    assert f"is not this user's command server (uid {NOBODY})" in ran.err


@as_root
def test_another_user_cannot_run_a_command(site: Installation, server: Server) -> None:
    path = site.config.daemon.command_socket
    assert path is not None
    assert path.stat().st_mode & 0o777 == 0o600
    path.parent.chmod(0o755)  # the folder aside: the socket itself keeps others out

    # Made here: as nobody, the attacker may not read the repository (a 0700 checkout).
    request = encode({"argv": ["text", "add", "x", "--lang", "fr", "--file", "-"],
                      "cwd": "/", "env": {}, "umask": 0o77, "fingerprint": code_fingerprint()})

    def connect_as_nobody(results: Any) -> None:
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
        except PermissionError:
            results.put("permission denied")
            return
        sock.settimeout(10)
        try:
            socket.send_fds(sock, [request], [0, 1, 2])
            results.put(sock.recv(100))
        except OSError as exc:
            results.put(type(exc).__name__)

    context = multiprocessing.get_context("fork")
    for mode in (0o600, 0o666):  # as installed; and a socket someone opened up
        path.chmod(mode)
        results = context.Queue()
        attacker = context.Process(target=connect_as_nobody, args=(results,))
        attacker.start()
        answer = results.get(timeout=30)
        attacker.join(timeout=30)
        assert answer in ("permission denied", b"", "ConnectionResetError", "BrokenPipeError")
    assert f"refused a connection from uid {NOBODY}" in server.text()
    assert server.ran() == []


def serve_in(path: Path, roots: list[Path]) -> None:
    from cli.serve_commands import run_command

    raise SystemExit(CommandServer(path, run_command, roots).serve())


def test_a_server_whose_code_changed_steps_aside(site: Installation, tmp_path: Path) -> None:
    """Its fingerprint is not the caller's: another installation is declined (the command
    runs here); once its own files changed, it stops with STALE for its supervisor."""
    path = site.config.daemon.command_socket
    assert path is not None
    code = tmp_path / "code"
    code.mkdir()
    (code / "module.py").write_text("x = 1\n")
    context = multiprocessing.get_context("fork")
    process = context.Process(target=serve_in, args=(path, [code]))
    process.start()
    until(path.exists, what="the socket")
    assert program(site, "ticket", "show", "1").out == site.ok("ticket", "show", "1")
    assert process.is_alive()
    (code / "module.py").write_text("x = 22\n")
    assert program(site, "ticket", "show", "1").out == site.ok("ticket", "show", "1")
    process.join(timeout=30)
    assert process.exitcode == STALE
    assert not path.exists()


def test_the_daemon_keeps_a_command_server(site: Installation, tmp_path: Path) -> None:
    path = site.config.daemon.command_socket
    assert path is not None
    daemon = Daemon(site.path, tmp_path / "run.log")
    try:
        until(path.exists, what="the command socket")
        assert program(site, "ticket", "show", "1").out == site.ok("ticket", "show", "1")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.connect(str(path))
        first = peer_pid(probe)
        probe.close()
        os.kill(first, signal.SIGKILL)
        until(lambda: serving_pid(path) not in (None, first), timeout=60,
              what="a new command server")
        assert "command server stopped" in daemon.text()
        assert program(site, "ticket", "show", "1").out == site.ok("ticket", "show", "1")
        assert daemon.stop() == 0
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
    assert not path.exists()
    assert "Traceback" not in daemon.text()


def peer_pid(sock: socket.socket) -> int:
    import struct

    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[0])


def serving_pid(path: Path) -> int | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with sock:
        try:
            sock.connect(str(path))
        except OSError:
            return None
        assert peer_uid(sock) == os.geteuid()
        return peer_pid(sock)


@pytest.mark.parametrize("argv, expected", [
    (["ticket", "show", "1"], (None, "ticket")),
    (["--config", "a.toml", "-vv", "status", "show"], ("a.toml", "status")),
    (["--config=b.toml", "--log-format", "json", "text", "list"], ("b.toml", "text")),
    (["--verbose", "--log-format=text", "directory", "search", "x"], (None, "directory")),
    (["--help"], None), (["run"], None), (["serve-commands"], None), (["db", "backup"], None),
    (["ingest", "once"], None), (["--bogus", "ticket", "show"], None), ([], None),
    (["web"], None), (["doctor"], None), (["demo"], None),
])
def test_which_commands_are_served(argv: list[str], expected: Any) -> None:
    assert served_command(argv) == expected


@pytest.mark.parametrize("socket_path, said", [
    ("/tmp/" + "s" * 120, "a Unix socket path has at most 107 bytes"),
    ("/proc/no-such-folder/commands.sock", "cannot make its folder"),
    ("/etc/hostname/commands.sock", "Not a directory"),
])
def test_a_socket_that_cannot_be_is_refused_in_one_line(site: Installation, socket_path: str,
                                                        said: str) -> None:
    ran = site.run("serve-commands", "--socket", socket_path)
    assert ran.code == 1 and said in ran.err and "Traceback" not in ran.output, ran


def test_looking_for_a_server_imports_only_the_standard_library() -> None:
    """The program decides before click or any command module is imported: every command
    pays for this look, served or not."""
    done = subprocess.run([sys.executable, "-S", "-X", "importtime", "-c",
                           "import rnmail.commandserver.client"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    names = {line.rpartition("|")[2].strip() for line in done.stderr.splitlines()
             if line.startswith("import time:") and "|" in line[12:]} - {"imported package"}
    assert "rnmail.commandserver.client" in names
    ours = {name for name in names if name.split(".")[0] not in sys.stdlib_module_names}
    assert ours == {"rnmail", "rnmail.commandserver", "rnmail.commandserver.client"}


def test_the_daemon_leaves_a_served_socket_to_its_server(site: Installation, server: Server,
                                                         tmp_path: Path) -> None:
    """rnmail-commands.service serves the socket: ``rnmail run`` starts no second one, and
    stopping it leaves that server alone."""
    daemon = Daemon(site.path, tmp_path / "run.log")
    try:
        until(lambda: "command server: another process serves" in daemon.text(),
              what="the daemon to find the socket served")
        assert program(site, "ticket", "show", "1").code == 0
        assert daemon.stop() == 0
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
    assert server.proc.poll() is None and server.ran() == ["ticket show"]
    assert "command server stopped" not in daemon.text()


def test_a_caller_that_gives_up_before_go_runs_nothing_there(site: Installation,
                                                              server: Server) -> None:
    """The copy is ready and says so; without ``go`` (the program timed out and runs the
    command itself) it ends without running anything: never twice."""
    read, write = os.pipe()
    os.write(write, b"Bonjour.\n")
    os.close(write)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with sock:
        sock.connect(str(site.config.daemon.command_socket))
        request = encode({"argv": ["--config", str(site.path), "text", "add", "never", "--lang",
                                   "fr", "--file", "-"], "cwd": str(ROOT), "env": dict(os.environ),
                          "umask": 0o077, "fingerprint": code_fingerprint(),
                          "view": {"mnt": os.readlink("/proc/self/ns/mnt")}})
        socket.send_fds(sock, [request], [read, 1, 2])
        os.close(read)
        answer = sock.recv(100)
        assert b'"pid"' in answer, answer
    pid = int(answer.split(b":")[1].strip(b" }\n"))
    # It ends on the closed connection, or on the hang-up its going away also brings.
    until(lambda: f"pid {pid} ended" in server.text(), what="the copy's end")
    assert site.run("text", "show", "never").code == 1


def test_commands_at_once_each_get_their_own_answer(site: Installation, server: Server) -> None:
    """Eight callers at the same moment: each copy writes to its own caller's streams."""
    args = [("ticket", "show", "1"), ("status", "show", "--json"), ("ticket", "show", "999"),
            ("ticket", "list", "--json")] * 2
    callers = [subprocess.Popen([sys.executable, "-c", PROGRAM, *a], cwd=ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={**os.environ, "RNMAIL_CONFIG": str(site.path)})
               for a in args]
    answers = [caller.communicate(timeout=60) for caller in callers]
    for a, caller, (out, err) in zip(args, callers, answers, strict=True):
        code = caller.returncode
        local = here(site, *a)
        assert (code, untimed(out), err) == (local.code, untimed(local.out), local.err), a
    assert sorted(server.ran()) == sorted(" ".join(a[:2]) for a in args)
