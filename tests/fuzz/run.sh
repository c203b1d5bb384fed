#!/usr/bin/env bash
# Bounded fuzzing run for CI (docs/FUZZING.md): builds the cargo-fuzz targets in fuzz/ once,
# then runs each for FUZZ_SECONDS (default 20) from its committed seeds. A crash, a leak, an
# out-of-memory or a timeout fails the run; the input is left in fuzz/artifacts/TARGET/.
#
#   tests/fuzz/run.sh                 every target
#   tests/fuzz/run.sh cli_parse       only these targets
#   FUZZ_SECONDS=300 tests/fuzz/run.sh
#
# Targets are built with ASan (cargo-fuzz's default) and debug assertions (overflow checks).
# Needs the nightly toolchain (-Zsanitizer=address); it fails, never skips, without it.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

seconds=${FUZZ_SECONDS:-20}
toolchain=${FUZZ_TOOLCHAIN:-nightly}
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$root/fuzz/target}

die() { echo "fuzz: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

rustup run "$toolchain" rustc --version >/dev/null 2>&1 ||
	die "the '$toolchain' toolchain is missing: cargo-fuzz needs nightly (rustup toolchain install nightly)"
if ! cargo fuzz --version >/dev/null 2>&1; then
	echo "fuzz: installing cargo-fuzz" >&2
	cargo install cargo-fuzz --locked || die "cannot install cargo-fuzz"
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	mapfile -t targets < <(cd fuzz && cargo "+$toolchain" fuzz list)
fi
[ ${#targets[@]} -gt 0 ] || die "no fuzz targets found in fuzz/"

# Debug assertions on: integer overflow panics here (the release launcher would wrap silently).
build=(--debug-assertions)
cd fuzz
start=$SECONDS
cargo "+$toolchain" fuzz build "${build[@]}" >&2 || die "build failed"
echo "fuzz: build $((SECONDS - start)) s" >&2

passed=0 failed=0
for t in "${targets[@]}"; do
	mkdir -p "corpus/$t" "seeds/$t"
	args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=4096 -print_final_stats=1)
	[ -f "dicts/$t.dict" ] && args+=(-dict="dicts/$t.dict")
	log=$(mktemp)
	t0=$SECONDS
	# The first directory (gitignored) receives new inputs; the seeds stay as committed.
	if cargo "+$toolchain" fuzz run "${build[@]}" "$t" "corpus/$t" "seeds/$t" -- "${args[@]}" >"$log" 2>&1; then
		runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
		echo "PASS $t ($((SECONDS - t0)) s, ${runs:-?} runs)"
		passed=$((passed + 1))
	else
		echo "FAIL $t ($((SECONDS - t0)) s)"
		if grep -qE "panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer" "$log"; then
			grep -E -A30 "panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer|SUMMARY" "$log" | head -60
		else
			tail -20 "$log"
		fi
		grep -E "Test unit written to|Reproduce with|cargo fuzz run" "$log" | head -5
		failed=$((failed + 1))
	fi
	rm -f "$log"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
