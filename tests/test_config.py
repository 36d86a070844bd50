"""The config file: the documented shape works as written, mistakes are one clear line."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from rnmail.config import load_config
from rnmail.errors import ConfigError

SECRET = secrets.token_urlsafe(32)
ISSUE_EXAMPLE = f"""
[database]
url = "sqlite:///var/rnmail.db"

[helpdesk]
address = "info@rn.example"
name = "Help Desk Registre national / Rijksregister"
tag = "RN"                 # subject tag: "[RN #42]"
secret = "{SECRET}"  # key for signed tokens (reply addresses, message ids)
default_language = "fr"
attachments_dir = "var/attachments"
max_attachment_mb = 25

[[mailbox]]
name = "info"
kind = "info"              # info | fax
host = "127.0.0.1"
port = 143
security = "none"          # none | starttls | ssl
user = "info"
password = "secret"
folder = "INBOX"
done_folder = "Processed"  # a message is moved here once its ticket is committed

[smtp]
host = "127.0.0.1"
port = 25
security = "none"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rnmail.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_documented_example_loads_as_written(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ISSUE_EXAMPLE))
    assert config.database.url == f"sqlite:///{tmp_path}/var/rnmail.db"
    assert config.helpdesk.attachments_dir == tmp_path / "var/attachments"
    box = config.mailbox("info")
    assert (box.kind, box.type, box.port, box.done_folder) == ("info", "imap", 143, "Processed")
    assert config.smtp.transport == "smtp" and config.smtp.port == 25


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RNMAIL_CONFIG", str(write(tmp_path, ISSUE_EXAMPLE)))
    assert load_config().helpdesk.tag == "RN"


def test_secrets_from_environment_variables(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    text = ISSUE_EXAMPLE.replace('password = "secret"', 'password_env = "RN_IMAP_PW"')
    text = text.replace(f'secret = "{SECRET}"', 'secret_env = "RN_SECRET"')
    monkeypatch.setenv("RN_IMAP_PW", "from-env")
    key = secrets.token_hex(32)
    monkeypatch.setenv("RN_SECRET", key)
    config = load_config(write(tmp_path, text))
    assert config.mailbox("info").password == "from-env"
    assert config.helpdesk.secret == key
    monkeypatch.delenv("RN_IMAP_PW")
    with pytest.raises(ConfigError, match="RN_IMAP_PW is not set"):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize(("change", "message"), [
    (('kind = "info"', 'kind = "telex"'), "kind: 'telex' is not one of info, fax"),
    (("port = 143", 'port = "143"'), "port: expected an integer"),
    (('security = "none"          #', 'securty = "none" #'), "unknown key(s) securty"),
    (('address = "info@rn.example"', ""), "missing required key 'address'"),
    (('done_folder = "Processed"', 'done_folder = "INBOX"'), "folder and done_folder must differ"),
    (("[smtp]", "[smtp\n"), "invalid TOML"),
    (('user = "info"', ""), "needs 'user'"),
])
def test_mistakes_are_reported_with_their_place(tmp_path: Path, change: tuple[str, str],
                                                message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, ISSUE_EXAMPLE.replace(*change)))
    assert message in str(err.value)


def test_invalid_fax_regex_is_refused(tmp_path: Path) -> None:
    text = ISSUE_EXAMPLE + '\n[fax]\nnumber_patterns = ["(?P<number>[0-9"]\n'
    with pytest.raises(ConfigError, match="invalid regular expression"):
        load_config(write(tmp_path, text))


def test_missing_file_names_the_options(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--config PATH or RNMAIL_CONFIG"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize(("section", "text", "message"), [
    ("[fax]", 'address_pattern = "{numbr}@fax.rn.example"', "unknown placeholder"),
    ("[fax]", 'pages_patterns = ["(\\\\d+) pages"]', "lacks a (?P<pages>...) group"),
    ("[fax]", 'region = "XX"', "is not a region code"),
    ("[ingest]", "batch_size = 0", "batch_size: must be at least 1"),
    ("[stats]", 'holidays = "XX"', "[stats].holidays: unknown country code 'XX'"),
])
def test_values_checked_at_start(tmp_path: Path, section: str, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, f"{ISSUE_EXAMPLE}\n{section}\n{text}\n"))
    assert message in str(err.value)


@pytest.mark.parametrize("country", ["BE", "FR", ""])
def test_the_holidays_of_a_known_country_or_none(tmp_path: Path, country: str) -> None:
    """The default (Belgium) is taken without looking the country up: the look-up of
    another one still accepts a known code, as the refusal above shows for an unknown one."""
    config = load_config(write(tmp_path, f'{ISSUE_EXAMPLE}\n[stats]\nholidays = "{country}"\n'))
    assert config.stats.holidays == country


@pytest.mark.parametrize("region", ["BE", "NL", "LU"])
def test_a_known_fax_region(tmp_path: Path, region: str) -> None:
    """The default (Belgium) is taken without libphonenumber; another region is looked up
    (an unknown one is refused above)."""
    config = load_config(write(tmp_path, f'{ISSUE_EXAMPLE}\n[fax]\nregion = "{region}"\n'))
    assert config.fax.region == region


def test_a_secret_and_its_env_variable_together_are_refused(tmp_path: Path) -> None:
    text = ISSUE_EXAMPLE.replace('password = "secret"', 'password = "x"\npassword_env = "Y"')
    with pytest.raises(ConfigError, match="either password or password_env"):
        load_config(write(tmp_path, text))


def test_database_url_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RN_DB", "postgresql+psycopg://rnmail:pw@127.0.0.1/rnmail")
    text = ISSUE_EXAMPLE.replace('url = "sqlite:///var/rnmail.db"', 'url_env = "RN_DB"')
    assert load_config(write(tmp_path, text)).database.url.endswith("@127.0.0.1/rnmail")


def test_smtp_port_follows_security(tmp_path: Path) -> None:
    text = ISSUE_EXAMPLE.replace('port = 25\nsecurity = "none"', 'security = "ssl"')
    assert load_config(write(tmp_path, text)).smtp.port == 465
