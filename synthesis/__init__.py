"""How `app.py` synthesizes: which stages, in how many processes, on which Node settings.

CDK-free at import (only the standard library): `app.py` decides everything here before the
CDK loads.

- `selection`: the context the CDK CLI hands the app, and the stages `-c stage=...` selects.
- `node`: the Node settings jsii starts the CDK's Node process with (`jsii-node`).
- `template_checks`: CDK's template-check plugin, created on a thread while the app's
  modules are imported (the one module here that loads the CDK, and only when called).
- `parallel` (opt-in, `PLATFORM_SYNTH_WORKERS`): the whole app as several worker processes
  (`app.py` with some stages selected each), their cloud assemblies merged into one
  (`assembly`).
"""
