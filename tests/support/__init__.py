"""One test harness for every suite, loaded as a pytest plugin (tests/conftest.py names `plugin`).

- stack.py: the in-process stack (moto, template.yaml's resources, the demo workspaces, warm handlers);
- clients.py: the API functions called in process with API Gateway's events;
- sender.py: the Sender function driven as SQS's event source drives it;
- faults.py: AWS failing on purpose, through botocore's hooks on the product's own clients;
- scenarios.py: the three POST APIs as interchangeable scenarios, and what was delivered for them;
- local_stack.py: `python -m local` as a subprocess, over real HTTP;
- deployed.py: a deployed stack named by samconfig.toml;
- tls.py: certificates for loopback TLS servers;
- environment.py: the environment of every in-process run (no AWS account, Powertools settings);
- plugin.py: the fixtures.

Suites import helpers from here, never from each other's conftest or test modules.
"""
