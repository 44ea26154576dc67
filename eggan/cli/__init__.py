"""The command line, on top of everything else.

main       `eggan-bench`: the application, its error and warning lines; gathers the commands below
options    the console, the options several commands share, the summary table
models     `train`, `edit`, `interpolate`: one method trained, then used on a face
scoring    `evaluate`, `export-protocol`, `score`, `weights fetch`, `throughput`
benchmark  `run`, `report`, `compare`
data       `eggan-bench data ...`: render SynthFACS, inspect a dataset, ingest RaFD/MMI/DISFA/folders
pipeline   `eggan-bench run` as a library function: train every method, evaluate, report; resumable
"""
