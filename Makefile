# asva — one virtualenv, pinned dependencies (pyproject.toml), no internet beyond package registries.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PREFECT_PORT ?= 4200
POOL   ?= asva-local
GPU_POOL  ?= asva-gpu
GPU_SLOTS ?= 1
# the prefect CLI against the server of `make server`
PREFECT := PREFECT_API_URL=http://127.0.0.1:$(PREFECT_PORT)/api $(BIN)/prefect

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export HF_HUB_OFFLINE := 1

.PHONY: install browser demo test server worker worker-gpu deploy clean

# Two stamps: `make demo` needs only the runtime (.installed-ml); `make test` adds the test tools (.installed).
$(VENV)/.installed-ml: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip<27" "setuptools<81" wheel
	$(BIN)/pip install -q --no-compile -e ".[ml]"
	@# pip byte-compiles on one core (~85 s of a 170 s install here); compileall uses every core.
	@# Like pip, it only reports the files it cannot compile (py2 leftovers in some packages' tests).
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null 2>&1 || true
	touch $@

$(VENV)/.installed: $(VENV)/.installed-ml
	$(BIN)/pip install -q --no-compile -e ".[ml,dev]"
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null 2>&1 || true
	touch $@

## make install: everything (runtime, models, test tools) into .venv
install: $(VENV)/.installed

## make browser: Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium; its own download does not work here)
browser: /usr/bin/chromium
/usr/bin/chromium:
	apt-get install -y chromium || (apt-get update && apt-get install -y chromium)

## make demo: the whole chain on the toy domain (lamps flashing on clicks; embedded Prefect API):
## toy clips → sync classifier (held-out accuracy) → curation with its PSync → AVSyncD on the toy base →
## held-out animation with / without the sound (event F1s, data/demo/side_by_side.mp4, data/demo/summary.json)
demo: $(VENV)/.installed-ml
	$(BIN)/python -m flows.demo --out data/demo

## make test: the whole test suite (CPU, ~15 min on 2 cores)
test: install browser
	$(BIN)/pytest

## make server: Prefect server + UI on http://127.0.0.1:$(PREFECT_PORT)
server: $(VENV)/.installed-ml
	$(BIN)/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT)

## make worker: the process pool `asva-local` and its worker (run `make server` first, in another shell)
worker: $(VENV)/.installed-ml
	$(PREFECT) work-pool create $(POOL) --type process --overwrite
	$(PREFECT) worker start --pool $(POOL)

## make worker-gpu: a worker for `asva-gpu` (neural scoring, docs/gpu_scoring.md); start it on the GPU machine
worker-gpu: $(VENV)/.installed-ml
	$(PREFECT) work-pool create $(GPU_POOL) --type process --overwrite
	$(PREFECT) worker start --pool $(GPU_POOL)

## make deploy: both pools, the global concurrency limit `gpu` (GPU_SLOTS slots), the deployments of prefect.yaml
deploy: $(VENV)/.installed-ml
	$(PREFECT) work-pool create $(POOL) --type process --overwrite
	$(PREFECT) work-pool create $(GPU_POOL) --type process --overwrite
	$(PREFECT) gcl inspect gpu >/dev/null 2>&1 || $(PREFECT) gcl create gpu --limit $(GPU_SLOTS)
	$(PREFECT) --no-prompt deploy --all

clean:
	rm -rf data/demo data/runs
