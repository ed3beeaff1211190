# The two commands the README shows first. Each creates .venv if missing and installs what it needs;
# a second run only re-installs when pyproject.toml changed (a stamp file per extra set).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test clean vulkan

# MediaPipe (tests/mobile) pins absl-py ~=2.3, which tensorflow-model-optimization cannot share: own venv.
MP_VENV := .venv-mediapipe

$(MP_VENV)/.installed:
	$(PY) -m venv $(MP_VENV)
	$(MP_VENV)/bin/python -m pip install -q mediapipe==1.2.2 numpy pillow
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

clean:
	rm -rf $(VENV) $(MP_VENV) out .pytest_cache
