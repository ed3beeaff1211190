# The two commands the README shows first. Each creates .venv if missing and installs what it needs;
# a second run only re-installs when pyproject.toml changed (a stamp file per extra set).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-device clean vulkan

# MediaPipe (tests/mobile) pins absl-py ~=2.3, which tensorflow-model-optimization cannot share: own venv.
MP_VENV := .venv-mediapipe

$(MP_VENV)/.installed:
	$(PY) -m venv $(MP_VENV)
	$(MP_VENV)/bin/python -m pip install -q mediapipe==1.2.2 numpy pillow
	touch $@

# The device install's proof: a venv with only `pip install .[device]` and pytest (no TensorFlow) runs
# tests/runtime + tests/bench on the committed tiny artifacts (tests/fixtures). Re-installed when pyproject.toml
# or the package changes, so the installed copy that `edgeseg bench` runs below is the current one.
DEV_VENV := .venv-device
DEV_BIN := $(DEV_VENV)/bin
DEVICE_TESTS := tests/runtime tests/bench tests/test_fixtures.py

$(DEV_BIN)/python:
	$(PY) -m venv $(DEV_VENV)
	$(DEV_BIN)/python -m pip install -q --upgrade pip

$(DEV_VENV)/.installed: pyproject.toml $(shell find edgeseg -name '*.py' -o -name py.typed) | $(DEV_BIN)/python
	$(DEV_BIN)/python -m pip install -q ".[device]" pytest
	touch $@

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-all: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[all]"
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@ $(VENV)/.installed-all

demo: $(VENV)/.installed-all
	$(BIN)/python scripts/demo.py

# Mesa's software Vulkan driver, so LiteRT's GPU accelerator has a device (tests/gpu); never fails the run.
vulkan:
	@bash scripts/install_vulkan.sh

test: $(VENV)/.installed-test $(MP_VENV)/.installed vulkan
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-device

test-device: $(DEV_VENV)/.installed
	@$(DEV_BIN)/python -c "import importlib.util as u, sys; found = [m for m in ('tensorflow', 'tf_keras', 'keras') \
	  if u.find_spec(m)]; sys.exit(f'error: {found} importable in $(DEV_VENV): not a device install' if found else 0)"
	$(DEV_BIN)/python -m pytest -q -p no:cacheprovider $(DEVICE_TESTS)
	@# the installed package and console script, away from the source tree: a bench of a committed .tflite
	d="$$(mktemp -d)" && cd "$$d" && "$(CURDIR)/$(DEV_BIN)/edgeseg" bench "$(CURDIR)/tests/fixtures/tiny_int8.tflite" \
	  --runs 3 --min-time 0 --warmup-runs 1 --warmup-time 0 >/dev/null; rc=$$?; rm -rf "$$d"; exit $$rc

clean:
	rm -rf $(VENV) $(MP_VENV) $(DEV_VENV) out .pytest_cache
