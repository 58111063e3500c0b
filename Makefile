# Pollux developer entry points. meson + ninja do the building; this file only strings
# together the package install, the build folders and the test stages.
#
#   make run [ARGS="--port 7000"]   build and start polluxd in the foreground (idle workers
#                                   sleep unless ARGS set pollux-idle-sleep-us; scripts/run.sh)
#   make build                      build ./build (the DPDK backend included)
#   make check                      build + unit and integration tests (quick loop)
#   make test                       every CI stage (what .ci/run runs)
#   make asan | tsan | cross        one sanitizer / cross stage
#   make format | format-check      clang-format the C sources / check them
#   make clean                      remove the build folders (distclean: + arm64 sysroot)
#
# docs/development.md has the details.

SHELL := /bin/bash
.NOTPARALLEL:
.DEFAULT_GOAL := build

DEPS := scripts/deps.sh
TEST := scripts/test.sh
ARGS ?=

.PHONY: run build check test werror asan tsan cross format format-check deps deps-all \
        sysroot clean distclean help

help:
	@sed -n '4,11p' Makefile | sed 's/^# \{0,1\}//'

deps:
	@$(DEPS)

deps-all:
	@$(DEPS) --all

build:
	@$(DEPS)
	@$(TEST) build

run:
	@$(DEPS)
	@$(TEST) build
	@test -x build/dataplane/polluxd || \
		{ echo "make run: build/dataplane/polluxd was not built" >&2; exit 1; }
	exec scripts/run.sh $(ARGS)

check:
	@$(DEPS) --dev
	@$(TEST) check

test:
	@$(DEPS) --all
	@$(TEST) all

werror asan tsan:
	@$(DEPS) --dev
	@$(TEST) $@

sysroot:
	@$(DEPS) --cross
	@scripts/arm64-sysroot.sh

cross:
	@$(DEPS) --cross
	@$(TEST) cross

format:
	@$(DEPS) --format
	@$(TEST) format-fix

format-check:
	@$(DEPS) --format
	@$(TEST) format

clean:
	rm -rf build build-werror build-asan build-tsan build-aarch64 build-fuzz

distclean: clean
	rm -rf .sysroot-arm64 .sysroot-arm64.tmp
