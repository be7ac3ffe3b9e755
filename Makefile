# A thin layer over CMake. `make demo` and `make test` work from a fresh clone on Debian 12.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build test test-plain test-asan demo bench fuzz chaos clean format install

all: build

deps:
	@./scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test-plain: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSLT_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS)

# All tests, twice: plain and under AddressSanitizer + UndefinedBehaviorSanitizer.
test: test-plain test-asan

demo: build
	./scripts/demo.sh

# Benchmarks against mtail, goaccess and redis-benchmark; figures go to bench/RESULTS.md by hand.
bench: build
	./scripts/deps.sh --bench
	./bench/run.sh
	./bench/agent_run.sh
	BUILD=$(BUILD) ./bench/aggr_run.sh

# libFuzzer targets, built with clang (make fuzz SECONDS=3600, or FUZZ_SECONDS=3600, runs
# every target for that long and prints the hours run).
FUZZ_SECONDS ?= $(if $(SECONDS),$(SECONDS),10)
FUZZ_TARGETS := $(sort $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c))))
fuzz:
	./scripts/deps.sh --fuzz
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DSLT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZ_TARGETS)
	./scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# The chaos suite (docs/CHAOS.md): kills, a fault proxy, full disks and hostile peers against
# the real processes, exact to the line. CHAOS_SHORT=1 is the short form CI runs;
# CHAOS_ONLY='regex ...' picks scenarios; results also go to $(BUILD)/chaos-results.json.
PYTHON3 ?= /usr/bin/python3
CHAOS_SHORT ?=
CHAOS_ONLY ?=
chaos: build
	SLT_BIN_DIR=$(abspath $(BUILD))/bin CHAOS_SHORT=$(CHAOS_SHORT) \
	CHAOS_RESULTS=$(abspath $(BUILD))/chaos-results.json $(PYTHON3) tests/chaos/run.py $(CHAOS_ONLY)

# Installs under PREFIX (default /usr, where examples/systemd/slitail-agent.service looks).
PREFIX ?= /usr
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# Debian packages into $(BUILD)/pkg/: slitail, slitail-agent, slitail-aggregator (docs/PACKAGING.md),
# from a build with Debian's hardening flags in $(PKG_BUILD).
PKG_BUILD ?= build-pkg
package: deps
	DEB_BUILD_MAINT_OPTIONS=hardening=+all; export DEB_BUILD_MAINT_OPTIONS; \
	cmake -S . -B $(PKG_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_C_FLAGS="$$(dpkg-buildflags --get CFLAGS) $$(dpkg-buildflags --get CPPFLAGS)" \
	  -DCMAKE_EXE_LINKER_FLAGS="$$(dpkg-buildflags --get LDFLAGS)" >/dev/null
	cmake --build $(PKG_BUILD) -j $(JOBS) --target slitail slitail-agent slitail-aggregator slt_gen_yaml_man
	BUILD=$(PKG_BUILD) OUT=$(CURDIR)/$(BUILD)/pkg ./scripts/package.sh

package-lint: package
	lintian -I --pedantic --tag-display-limit 0 $(BUILD)/pkg/*.deb

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(PKG_BUILD)
