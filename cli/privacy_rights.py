"""``rnmail privacy export`` and ``privacy erase``: a person's rights of access (GDPR
Art. 15) and erasure (Art. 17), added to the ``rnmail privacy`` group."""

from __future__ import annotations

from pathlib import Path

import click

from cli.app import App, emit_json, handle_errors, login_name, pass_app

_EMAIL = click.option("--email", help="The person's mail address.")
_PHONE = click.option("--phone", help="The person's phone or fax number, in any notation.")


@click.command("export")
@_EMAIL
@_PHONE
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="A new (or empty) folder to write the export to.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def export(app: App, email: str | None, phone: str | None, out: Path, as_json: bool) -> None:
    """Everything rnmail holds about a person (GDPR Art. 15): their tickets and messages as
    .eml and JSON, attachments, directory entry and its history, group memberships, mail
    sent to them, audit entries about them; with an index.html they can read. Give --email,
    --phone or both."""
    from rnmail.privacy.export import export_person
    from rnmail.privacy.person import person_of
    from rnmail.util.blobs import BlobStore

    person = person_of(app.config, email, phone)
    blobs = BlobStore(app.config.helpdesk.attachments_dir)
    with app.ready_db().transaction() as session:
        result = export_person(session, app.config, blobs, person, out)
    if as_json:
        emit_json(result.json())
        return
    counts = result.counts
    click.echo(f"{result.out}: {result.files} file(s); {counts['tickets']} ticket(s), "
               f"{counts['other_tickets']} other ticket(s), directory entry: "
               f"{'yes' if counts['directory'] else 'no'}, {counts['group_memberships']} "
               f"group membership(s), {counts['outbox']} mail(s) sent, "
               f"{counts['audit_entries']} audit entr(ies), {counts['quarantined']} "
               f"quarantined mail(s); index.html in {result.language}")


@click.command("erase")
@_EMAIL
@_PHONE
@click.option("--reason", required=True,
              help="Why (the request's reference); kept in the audit log.")
@click.option("--by", help="Who erases, for the audit log (default: your user name).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@handle_errors
def erase(app: App, email: str | None, phone: str | None, reason: str, by: str | None,
          as_json: bool) -> None:
    """Anonymise a person everywhere (GDPR Art. 17): their tickets (keeping what the
    statistics count), their messages in other tickets, raw mail and files, directory
    entry, group memberships, mail sent to them, search index, audit entries. A ticket on
    legal hold stops it, with nothing changed. Audited under a hash of the person."""
    from rnmail.privacy.erase import erase_person
    from rnmail.privacy.person import person_of
    from rnmail.util.blobs import BlobStore

    person = person_of(app.config, email, phone)
    blobs = BlobStore(app.config.helpdesk.attachments_dir)
    with app.ready_db().transaction() as session:
        result = erase_person(session, app.config, blobs, person, reason,
                              (by or login_name()).strip() or "help desk")
    data = result.json()
    if as_json:
        emit_json(data)
        return
    if result.nothing:
        click.echo(f"nothing held about this person (subject {result.subject[:12]}); "
                   f"recorded in the audit log")
        return
    click.echo(f"erased subject {result.subject[:12]}: {data['tickets']} ticket(s), "
               f"{data['messages']} message(s), {data['raw_mails']} raw mail(s), "
               f"{data['attachments']} attachment(s), {data['outbox']} outbox row(s), "
               f"{data['audit_entries']} audit entr(ies), {data['quarantined']} quarantined "
               f"mail(s); {data['files_deleted']} file(s) deleted")

