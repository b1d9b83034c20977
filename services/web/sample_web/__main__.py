"""Entry point: ``python -m sample_web serve``."""

from sample_web.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
