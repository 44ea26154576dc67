"""How long a test waits for a process it started (torchrun, the CLI, pdflatex): a guard against a
hang, not a speed limit. On the shared 2-core machine a torchrun pair that takes half a minute on
idle cores took several minutes while other jobs ran, so the guard is generous; how fast things
run is measured by the benchmarks (tests/benchmarks), never asserted by a unit test."""

HANG_GUARD_S = 1800
