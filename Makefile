# asva — one virtualenv, pinned dependencies (pyproject.toml), no internet beyond package registries.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PREFECT_PORT ?= 4200
POOL   ?= asva-local

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export HF_HUB_OFFLINE := 1

.PHONY: install demo test server worker deploy run-deployment benchmarks clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip<27" "setuptools<81" wheel
	$(BIN)/pip install -q -e ".[ml,dev]"
	touch $@

install: $(VENV)/.installed

## make demo: generate the demo set and curate it with the curate-vggsound flow (embedded Prefect API)
demo: install
	$(BIN)/python -m flows.demo --out data/demo

## make test: the whole test suite (CPU, a few minutes)
test: install
	$(BIN)/pytest

## make server: Prefect server + UI on http://127.0.0.1:$(PREFECT_PORT)
server: install
	$(BIN)/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT)

## make worker: a process work pool and its worker (run `make server` first, in another shell)
worker: install
	PREFECT_API_URL=http://127.0.0.1:$(PREFECT_PORT)/api $(BIN)/prefect work-pool create $(POOL) --type process --overwrite
	PREFECT_API_URL=http://127.0.0.1:$(PREFECT_PORT)/api $(BIN)/prefect worker start --pool $(POOL)

## make deploy: register the deployments of prefect.yaml with the server
deploy: install
	PREFECT_API_URL=http://127.0.0.1:$(PREFECT_PORT)/api $(BIN)/prefect work-pool create $(POOL) --type process --overwrite
	PREFECT_API_URL=http://127.0.0.1:$(PREFECT_PORT)/api $(BIN)/prefect --no-prompt deploy --all

benchmarks: install
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf data/demo data/runs
