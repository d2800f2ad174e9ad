# Two commands matter: `make run` (the local stack) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30
# Debian packages the tests drive for real (installed only when running as root and missing).
DEBIAN_PACKAGES := mariadb-server packer shellcheck nginx graphviz wrk
# What only `make bench` drives: the PHP baseline (PHP-FPM + nginx, bench/php/ingest.php).
BENCH_PACKAGES := php-fpm php-mysql

export CHECKPOINT_DISABLE := 1

.PHONY: setup debian-packages bench-packages run run-stack ami-local test lint fmt docs bench clean ami

setup: $(VENV)/.installed $(CHECKOV_VENV)/.installed debian-packages

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# checkov pulls in bc-python-hcl2, which shadows python-hcl2: it gets a virtualenv of its own.
$(CHECKOV_VENV)/.installed:
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	touch $@

debian-packages bench-packages: PACKAGES = $(if $(filter bench-packages,$@),$(BENCH_PACKAGES),$(DEBIAN_PACKAGES))
debian-packages bench-packages:
	@missing=$$(for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages (install them as root): $$missing"; exit 0; fi; \
	echo "installing $$missing"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null

run: setup
	$(PY) -m opsctl.local.devstack

# The whole local environment: the emulator with the data plane (load balancer, real target
# health, one service process pair per instance), the applied `local` stack (docs/local.md).
run-stack: setup
	$(PY) -m opsctl.local.stack

# A local "AMI": a wheel of REF (default HEAD) registered in the running emulator; the id is the
# last line: `opsctl bluegreen deploy local --ami "$$(make -s ami-local | tail -n 1)"`.
REF ?= HEAD
ami-local: setup
	@$(VENV)/bin/opsctl local ami --ref $(REF)

# Three workers on the 2-core machine, one test file each at a time: most of the suite waits on
# the emulator, terraform and MariaDB (provider polling, bakes, drains), so the slow files (the
# applied stacks, the modules) overlap. The files that apply
# whole stacks start first (tests/conftest.py orders them; --no-loadscope-reorder keeps that
# order). PYTEST_WORKERS=0 runs everything in one process.
PYTEST_WORKERS ?= 3
test: setup
	$(VENV)/bin/pytest $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder) $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	terraform fmt -check -recursive .

fmt: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	terraform fmt -recursive .

docs: setup
	$(PY) -m opsctl.terraform.module_docs

bench: setup bench-packages
	$(PY) bench/opsctl_bench.py
	$(PY) bench/service_bench.py

# The AMI (packer/README.md): needs AWS credentials and packer >= 1.10. The AMI id is the last
# line on stdout: `opsctl bluegreen deploy ENV --ami "$(make -s ami | tail -n 1)"`. AMI_ARCH=arm64.
ami: setup
	@packer/build.sh

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache var
	find modules examples tests/data -name .terraform -type d -prune -exec rm -rf {} +
