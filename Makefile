# The README's commands. Each one sets up what is missing first, so they work on a fresh Debian 12 machine.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
PREFIX ?= /usr

.PHONY: all deps configure build run test bench clean install

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

configure: deps $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# Starts the relay on the embedded development profile (127.0.0.1:2525, ./smarthost-data/).
run: build
	./$(BUILD)/smarthost serve

test: configure
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300

bench:
	@scripts/install-deps --bench
	cmake -S . -B $(BUILD)-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSMARTHOST_BENCH=ON -DSMARTHOST_TESTS=OFF
	cmake --build $(BUILD)-bench -j $(JOBS)
	bench/run $(BUILD)-bench

# FHS layout under PREFIX (/usr: /usr/sbin/smarthost, /usr/lib/systemd/system, /etc/smarthost); DESTDIR stages it.
install: configure
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build $(BUILD) -j $(JOBS) --target smarthost
	DESTDIR=$(DESTDIR) cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD)-bench
