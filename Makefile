# The two entry points of a fresh Debian machine (as root): `make demo` and `make test`.
# Both install what they need: Debian packages, a virtualenv with the project and the
# Korean Vosk model, and (on first use) the sandbox Asterisk root filesystem.

VENV ?= .venv
PY := $(VENV)/bin/python
DEBIAN_PACKAGES := mmdebstrap espeak-ng sox sip-tester chromium fonts-nanum
PYTEST_ARGS ?=

.PHONY: setup demo test test-fast clean

setup: $(VENV)/.installed
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: setup
	$(VENV)/bin/speech-ivr demo

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -m "not real" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
