"""Infrastructure suite: template.yaml, samconfig.toml, the local stacks' options, the bench and the docs agree
with the code. Fixtures come from tests/support (the in-process stack where a check needs resources)."""
