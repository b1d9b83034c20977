"""Entry point: ``python -m sample_api serve|migrate|worker|cleanup``."""

from sample_api.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
