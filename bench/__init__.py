"""`make bench`: AWS calls per request, cold start, warm latency and local-stack load (issue 6)."""

import os

from local.template import load_template

# Powertools reads its POWERTOOLS_* settings (service, metrics namespace) when notify.observability is
# first imported, so the template's Globals must be in the environment before any bench module imports
# the product. Lambda sets them before the function's first import too.
for _name, _value in load_template()["Globals"]["Function"]["Environment"]["Variables"].items():
    if _name.startswith("POWERTOOLS_"):
        os.environ.setdefault(_name, str(_value))
