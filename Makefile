# AesFormer: `make run` (set-up + the pipeline on the embedded default), `make test`.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed

# Embedded default environment, set by the project (not the user). Values already set win.
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 180
export DO_NOT_TRACK ?= 1
export MLFLOW_DISABLE_TELEMETRY ?= true
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
export PATH := $(BIN):$(PATH)

.PHONY: setup run test test-unit test-integration lint audit format bench bench-gpu grpo-evidence mlflow-ui prefect-ui deploy worker stack-up stack-down clean help

help:
	@echo "make run    set-up + the whole pipeline (Prefect flow over DVC stages) on the embedded default"
	@echo "make test   set-up + all tests (unit + integration with real servers)"
	@echo "make setup | lint | format | bench | mlflow-ui | prefect-ui | clean"
	@echo "make grpo-evidence   GRPO for 200 steps after make run, its own MLflow store (docs/thinker.md)"
	@echo "make deploy | worker | stack-up | stack-down   (Prefect deployments, docs/operations.md)"

## setup: idempotent; reinstalls only when pyproject.toml or the lock file changed.
## The lock is the whole verified environment (exact versions, installed without resolving);
## `pip check` then proves it satisfies every package's requirements, this project's included.
setup: $(STAMP) .dvc/config.local

$(STAMP): pyproject.toml requirements/lock.txt
	@test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check torch==2.13.0
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -r requirements/lock.txt
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -e .
	$(VENV)/bin/pip check
	@touch $@

# The DVC remote comes from params.yaml (remote.*), written to the git-ignored .dvc/config.local.
.dvc/config.local: params.yaml $(STAMP)
	$(VENV)/bin/aesformer remote apply

# the pipeline (DVC stages via Prefect, ending with eval), its table, then the promotion
# decision (exit 3 = refused: a decision, not a failure of `make run`)
run: setup
	$(VENV)/bin/python flows/pipeline.py
	@cat reports/eval/table.md
	$(VENV)/bin/python flows/promote.py --no-eval || test $$? -eq 3

# the suite in TEST_WORKERS pytest-xdist processes, one test file per process at a time (module
# fixtures built once); TEST_WORKERS=0 runs it in this process (serially)
TEST_WORKERS ?= 2
PYTEST := $(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile

test: setup
	$(PYTEST)

test-unit: setup
	$(PYTEST) -m unit

test-integration: setup
	$(PYTEST) -m integration

lint: setup
	$(VENV)/bin/ruff check src tests flows bench
	$(VENV)/bin/ruff format --check src tests flows bench

# pip-audit over the lock with the triaged advisories of requirements/audit-ignore.txt
# (docs/reliability.md#dependency-audit); exit 1 on a new finding, 0 with "audit skipped"
# only when the vulnerability service cannot be reached.
audit: setup
	scripts/audit.sh

format: setup
	$(VENV)/bin/ruff format src tests flows bench
	$(VENV)/bin/ruff check --fix src tests flows bench

# bench/mining.py: mining vs decode-only per frame size, on the sample corpus (stage corpus)
# and on the held-out corpus (another seed, the pro UI, real footage; generated once).
bench: setup
	$(VENV)/bin/python bench/pipeline.py
	$(VENV)/bin/dvc repro corpus
	test -f data/raw-holdout/manifest.jsonl || $(VENV)/bin/aesformer corpus --out data/raw-holdout --profile corpus-holdout
	$(VENV)/bin/python bench/decode.py --corpus data/raw
	$(VENV)/bin/python bench/mining.py --corpus data/raw --holdout data/raw-holdout
	test -d models/thinker/sft || $(VENV)/bin/dvc repro sft
	$(VENV)/bin/python bench/thinker_head.py

# GRPO for 200 steps from the pipeline's SFT adapter, in its own MLflow store (docs/thinker.md
# "Evidence"; needs `make run` first; ~6-12 min on 2 cores; not part of `make run`)
grpo-evidence: setup
	env -u MLFLOW_TRACKING_URI $(VENV)/bin/aesformer grpo --profile grpo-evidence --release data/release \
	  --sft models/thinker/sft --out models/thinker/grpo-evidence \
	  --metrics reports/thinker/grpo-evidence.json

# bench/thinker_gpu.py: AesThinker at the real 8B size (random weights) on one CUDA GPU;
# refuses without one. Prints SFT tokens/s, MFU, peak memory and GRPO rollout tokens/s.
bench-gpu: setup
	$(VENV)/bin/python bench/thinker_gpu.py --json reports/bench/thinker_gpu.json

mlflow-ui: setup
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlruns.db --host 127.0.0.1 --port 5000

prefect-ui: setup
	$(VENV)/bin/prefect server start --host 127.0.0.1 --port 4200

## Deployments (docs/operations.md). PREFECT_API_URL names the server (default: `make prefect-ui`'s).
## deploy: work pools aesformer-cpu/-gpu (POOL_TYPE=process|kubernetes, GPU_SLOTS concurrent GPU
## runs), the pull steps' repository/commit variables (GIT_REPOSITORY, GIT_COMMIT=HEAD) and every
## deployment of prefect.yaml (DEPLOYMENTS="train-thinker ..." for some).
PREFECT_API_URL ?= http://127.0.0.1:4200/api
POOL ?= aesformer-cpu
deploy: setup
	PREFECT_API_URL=$(PREFECT_API_URL) infra/prefect/register.sh

# a process worker on this machine for POOL (aesformer-cpu or aesformer-gpu)
worker: setup
	PREFECT_API_URL=$(PREFECT_API_URL) $(BIN)/prefect worker start --pool $(POOL) --type process

# the local production-like stack (needs Docker with compose; credentials in infra/.env)
COMPOSE := docker compose -f infra/compose.yaml --env-file infra/.env
stack-up:
	@test -f infra/.env || { echo "copy infra/.env.example to infra/.env and set its values"; exit 2; }
	$(COMPOSE) up -d --build --wait

stack-down:
	$(COMPOSE) down

clean:
	rm -rf .pytest_cache .ruff_cache build src/*.egg-info
