"""Release tooling: the commands a release runs in CodeBuild (and GitHub Actions) against a
deployed environment: `migrate` (the one-shot migration task), `publish_static` (static
files to the CloudFront bucket), `release` (a service's new image, then its release record),
`invalidate` (CloudFront), `smoke` (GET each web route until 2xx) and `deploy_role` (the
GitHub Actions role of a stage). For a release from GitHub Actions (.github/workflows/
release.yml): `workflow_settings` (what the workflow needs from the config), `plan` (the
release plan, from the Pipeline stack's outputs), `images` (registry login, images to build,
`<env>-latest`, static files out of the images) and `step` (each step of the workflow, running
the modules above as CodePipeline's actions do). Product code, apart from the developer
scripts in `scripts/` (bench, schema, compliance reports); each runs as
`python3 -m release_tools.<name>` with boto3 only (requirements-pipeline.txt), but
`deploy_role` and `workflow_settings`, which read the config (requirements.txt)."""
