"""Print the GitHub Actions deploy role of a stage, for `.github/workflows/deploy.yml`.

Usage: python -m release_tools.deploy_role --stage Prod

Prints `role_arn=arn:aws:iam::<account>:role/<name>` and `region=<region>` (lines for
$GITHUB_OUTPUT), read from the validated config: the role the stage's Pipeline stack creates
when `pipeline.github_oidc` is set. Exit 2 with a message naming the file and field when the
stage is unknown or has no such role.
"""

from __future__ import annotations

import argparse
import sys

from release_tools.stage_config import load_stage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m release_tools.deploy_role", description=__doc__
    )
    parser.add_argument("--stage", required=True, help="stage name, e.g. Prod")
    args = parser.parse_args(argv)
    loaded = load_stage(args.stage)
    if loaded is None:
        return 2
    config = loaded.config
    role = config.github_role_name
    if role is None:
        print(
            f"config/{loaded.path.name}: pipeline.github_oidc: not set, so stage "
            f"{args.stage!r} has no GitHub deploy role",
            file=sys.stderr,
        )
        return 2
    print(f"role_arn=arn:aws:iam::{config.account}:role/{role}")
    print(f"region={config.region}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
