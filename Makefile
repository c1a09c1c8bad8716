# Entry points. `make demo` and `make test` install what they need first (scripts/install-deps).
BUILD_DIR  ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)

FUZZ_SECONDS ?= 60

.PHONY: all deps configure build test unit e2e demo dist image fuzz bench-yaml clean

all: build

deps:
	scripts/install-deps

configure: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Unit tests, then the e2e suite against a local control plane (built once and cached, several
# minutes on the first run) that ctest brings up and always tears down.
test: build
	testenv/cluster build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 3600

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L '^$$' -E '^e2e'

e2e: build
	testenv/cluster build
	cd $(BUILD_DIR) && ctest --output-on-failure -L e2e

demo: build
	testenv/cluster build
	MINICD=$(BUILD_DIR)/src/minicd/minicd scripts/demo

# Release tarball dist/minicd-VERSION-linux-amd64.tar.gz (+ .sha256) that runs on any x86_64 Linux
# with glibc >= 2.36, checked from an empty directory with an empty environment.
dist: deps
	scripts/dist

# OCI image dist/minicd-VERSION-image.tar assembled offline from the tarball with buildah.
image: dist
	scripts/image

# Builds the fuzz targets with clang in build-fuzz and runs each for FUZZ_SECONDS (scripts/fuzz).
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) scripts/fuzz

bench-yaml: deps
	cmake -S bench/yaml -B $(BUILD_DIR)/bench-yaml -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_DIR)/bench-yaml -j $(JOBS)
	$(BUILD_DIR)/bench-yaml/bench_yaml

clean:
	rm -rf $(BUILD_DIR)
