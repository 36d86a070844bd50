"""``rnmail serve-commands``: the warm process behind ``[daemon].command_socket``."""

from __future__ import annotations

import gc
from pathlib import Path

import click

from cli.app import App, handle_errors, pass_app


@click.command("serve-commands")
@click.option("--socket", "socket_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The Unix socket (default: [daemon].command_socket).")
@pass_app
@handle_errors
def serve_commands(app: App, socket_path: Path | None) -> None:
    """Keep a warm rnmail on a Unix socket, so that the commands agents and operators type
    (`ticket`, `status`, `directory`…) answer at once; `rnmail run` starts it when
    [daemon].command_socket is set. Until SIGTERM or Ctrl-C."""
    from rnmail.commandserver.server import ALREADY_SERVED, AlreadyServed, CommandServer

    path = socket_path or app.config.daemon.command_socket
    if path is None:
        raise click.UsageError("no socket: give --socket or set [daemon].command_socket")
    server = CommandServer(path, run_command)
    try:
        server.bind()
    except AlreadyServed as exc:
        click.echo(f"{exc}: leaving it to that one", err=True)
        raise SystemExit(ALREADY_SERVED) from None
    warm_up()
    raise SystemExit(server.serve())


def warm_up() -> None:
    """Import what the served commands use (their modules, and every module of rnmail,
    which they import where used: the mail composer, the templates, the password hasher...),
    map the models and compile the mail and status page templates once, here, so that no
    copy does; then keep all of it out of the cyclic collector's walks (``gc.freeze``: it
    lives as long as the server, and a copy that touched it would copy its pages)."""
    import importlib
    import pkgutil

    from sqlalchemy.orm import configure_mappers

    import rnmail
    from cli.main import main
    from rnmail.commandserver import SERVED
    from rnmail.dispatch.render import compile_mail_templates
    from rnmail.status.page import compile_templates

    context = click.get_current_context()
    for name in sorted(SERVED):
        main.get_command(context, name)
    for module in pkgutil.walk_packages(rnmail.__path__, "rnmail."):
        if ".migrations" not in module.name and not module.name.endswith(".__main__"):
            importlib.import_module(module.name)
    configure_mappers()
    compile_mail_templates()
    compile_templates()
    gc.collect()
    gc.freeze()


def run_command(argv: list[str]) -> int:
    """Run ``rnmail ARGV`` as the program would; its exit status."""
    from cli.main import main

    try:
        main.main(args=argv, prog_name="rnmail")
    except SystemExit as exc:
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            return exc.code
        click.echo(exc.code, err=True)
        return 1
    return 0
