"""``python -m rnmail.config --markdown > docs/configuration.md``: the configuration
reference, from the declarations of ``rnmail.config``."""

import sys

from rnmail.config.reference import config_reference_markdown


def main(argv: list[str]) -> int:
    if argv != ["--markdown"]:
        print("usage: python -m rnmail.config --markdown > docs/configuration.md",
              file=sys.stderr)
        return 2
    sys.stdout.buffer.write(config_reference_markdown().encode("utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
